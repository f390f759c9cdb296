#!/usr/bin/env bash
# Makes TestTrend's fixtures: ten real short runs of event-stock and
# worker-stock at 40 connections (about 15 s each), as ten nights of a
# nightly job would store them; only each run's result.json is kept. Needs
# Docker and the image (make image build). Rerun it to refresh them:
#   cmd/loadcheck/testdata/make-nights.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=cmd/loadcheck/testdata/nights
tmp=$(mktemp -d /tmp/loadcheck-nights.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export TESTCONTAINERS_RYUK_DISABLED=true
for i in $(seq -w 0 9); do
  bin/loadcheck run --configs event-stock,worker-stock -c 40 --rate 2 --ramp 1s --warmup 2s -d 3s \
    --quiet --results "$tmp" --run-id "night-$i" >/dev/null || [ $? = 1 ]
  mkdir -p "$out/night-$i"
  cp "$tmp/night-$i/result.json" "$out/night-$i/result.json"
done
du -sh "$out"
