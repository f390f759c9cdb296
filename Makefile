# loadcheck: the two commands a new user needs are `make run` and `make test`.
export TESTCONTAINERS_RYUK_DISABLED ?= true
GO ?= go
BIN := bin/loadcheck

.PHONY: all build image browser run test test-unit clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/loadcheck

# The Debian apache2 image, built from Debian's packages when it is missing.
image:
	containers/image/build.sh

# Debian's chromium, for the HTML report's rendering test.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The README's first command: six configs side by side at 4000 connections.
run: build image
	$(BIN) run scenarios/compare-4000.yaml --json loadcheck-result.json

# The README's second command: unit tests with -race, then the packages that
# start real httpd containers (one package at a time: they share the engine).
test: image browser
	$(GO) vet ./...
	$(GO) test -race -count=1 ./bench/... ./scenarios/... ./results/...
	$(GO) test -p 1 -count=1 -timeout 30m ./cmd/... ./containers/...

# Unit tests only (no Docker).
test-unit:
	$(GO) test -race -count=1 ./bench/... ./scenarios/... ./results/...

clean:
	$(BIN) clean || $(GO) run ./cmd/loadcheck clean
