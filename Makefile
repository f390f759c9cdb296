# loadcheck: the two commands a new user needs are `make run` and `make test`.
export TESTCONTAINERS_RYUK_DISABLED ?= true
GO ?= go
BIN := bin/loadcheck

.PHONY: all build release image generator-image browser httpd prometheus run test test-unit fuzz lint clean capacity-screenshot

all: build

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/loadcheck

# Release binaries for Linux amd64 and arm64 in dist/, static, with the
# version from the newest v* tag (dev-COMMIT without one), the commit and
# the build date stamped in (`loadcheck version`), and SHA256SUMS.
VERSION ?= $(shell git describe --tags --match 'v*' --dirty 2>/dev/null || echo dev-$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown))
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
DIST ?= dist
release:
	rm -rf $(DIST) && mkdir -p $(DIST)
	for arch in amd64 arm64; do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -buildvcs=auto \
			-ldflags "-s -w -X main.release=$(VERSION) -X main.buildDate=$(BUILD_DATE)" \
			-o $(DIST)/loadcheck-$(VERSION)-linux-$$arch ./cmd/loadcheck || exit 1; \
	done
	cd $(DIST) && sha256sum loadcheck-* > SHA256SUMS && cat SHA256SUMS

# The Debian apache2 image, built from Debian's packages when it is missing,
# and the official-layout image on top of it (for official-layout trees
# when httpd:2.4 is not in the engine).
image:
	containers/image/build.sh
	containers/image/build-official.sh

# The image swarm and Kubernetes shards run: this build's loadcheck on the
# Debian image, tagged by the binary's hash; built when missing.
generator-image: build image
	$(BIN) generator-image

# Debian's chromium, for the HTML report's rendering test.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's apache2 on this host, for the local provider's tests; a
# temporary policy-rc.d keeps its service from starting.
httpd:
	@test -x /usr/sbin/apache2 || { \
		made=; [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made=1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq apache2 >/dev/null; rc=$$?; \
		[ -z "$$made" ] || rm -f /usr/sbin/policy-rc.d; exit $$rc; }

# Debian's Prometheus, the remote-write receiver of the live-metrics test
# (the test starts its own on loopback; the service is kept from starting).
prometheus:
	@command -v prometheus >/dev/null || { \
		made=; [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made=1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; rc=$$?; \
		[ -z "$$made" ] || rm -f /usr/sbin/policy-rc.d; exit $$rc; }

# The capacity report's first screen, as docs/images/capacity-first-screen.png
# shows it: RUN is the folder of a capacity search
# (`bin/loadcheck capacity scenarios/capacity.yaml` stores it in runs/ID).
capacity-screenshot: browser
	@test -f "$(RUN)/capacity.html" || { echo "give RUN=runs/ID, the folder of a capacity search (it holds capacity.html)" >&2; exit 2; }
	home=$$(mktemp -d /tmp/loadcheck-shot.XXXXXX); HOME=$$home chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
		--user-data-dir=$$home/profile --window-size=1280,800 \
		--screenshot=$(CURDIR)/docs/images/capacity-first-screen.png file://$(abspath $(RUN))/capacity.html; \
		rc=$$?; rm -rf $$home; exit $$rc

# golangci-lint, pinned in tools/lint.mod (apart from go.mod, so that its
# dependencies never move what loadcheck builds with); .golangci.yml says
# which linters and why, DESIGN.md's import rules among them (depguard).
lint:
	$(GO) tool -modfile=tools/lint.mod golangci-lint run ./...

# The README's first command: six configs side by side at 4000 connections.
run: build image
	$(BIN) run scenarios/compare-4000.yaml --json loadcheck-result.json

# The README's second command: the packages without Docker with -race
# (provider starts native httpd), then the packages that start real httpd
# containers (one package at a time: they share the engine).
RACE_PKGS := ./bench/... ./settle/... ./scenarios/... ./results/... ./capacity/... ./report/... ./observe/... ./apache/... ./provider/... ./backend/... ./promwrite/... ./generator/... ./preflight/...
# bench runs a second time on its goroutine engine (https:// and slow
# clients use it; plain HTTP runs on the epoll engine by default).
# The library's own tests (module root) start a few small containers and
# run with -race too; cmd's load 4000 connections and run without it.
test: image browser httpd prometheus
	$(GO) vet ./...
	$(GO) test -race -count=1 $(RACE_PKGS)
	LOADCHECK_TEST_ENGINE=goroutine $(GO) test -race -count=1 ./bench
	$(GO) test -race -count=1 -timeout 10m .
	$(GO) test -p 1 -count=1 -timeout 30m ./cmd/... ./containers/...

# Unit tests only (no Docker).
test-unit:
	$(GO) test -race -count=1 -short $(RACE_PKGS)

# Every parser of outside input, fuzzed for FUZZTIME each: a count of
# executions, not a duration, because a duration races Go 1.26's fuzzing
# coordinator at its deadline (golang/go#75804, "context deadline exceeded"
# with no failing input). CI runs 100000x each, about 10 s.
FUZZTIME ?= 500000x
FUZZ_TARGETS := FuzzParse:./scenarios FuzzParseStatus:./observe FuzzScanErrorLog:./observe FuzzParseJSON:./results FuzzShardLine:./bench FuzzQuickResponse:./bench
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t%%:*} ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$${t%%:*}$$" -fuzztime $(FUZZTIME) $${t#*:} || exit 1; \
	done

clean:
	$(BIN) clean || $(GO) run ./cmd/loadcheck clean
