#!/usr/bin/env bash
# h2load.sh: loadcheck's HTTP/2 generator against h2load (Debian's
# nghttp2-client), side by side in one run, on one nginx speaking h2c.
#
# nginx (1 worker, http2 on its plain listener, every request logged) is
# pinned to core 0 and each generator in turn to core 1, at the same
# schedule: C connections, M streams each, R requests a second per
# connection, for D seconds. For each it prints the requests it counted,
# the lines nginx logged during its run, the generator's CPU seconds
# (user+sys, /usr/bin/time), CPU microseconds per request and the ratio
# against h2load measured in this same run. Absolute numbers drift on a
# shared machine; the ratios are the result.
#
# Usage: bench/perf/h2load.sh [-d SECONDS] [-c "100 4000"] [-m STREAMS] [-r RATE] [-p PORT]
# At 100 connections give -r 16 or more: with a few thousand requests
# loadcheck's fixed cost (about 35 ms: start, preflight, run folder)
# outweighs the per-request cost being compared.
# Needs root for apt-get when h2load, nginx-light or /usr/bin/time are
# missing. Load goes to 127.0.0.1 only.
set -euo pipefail

DUR=10
CONNS="100 4000"
STREAMS=6
RATE=2
PORT=18082
while getopts "d:c:m:r:p:h" opt; do
  case $opt in
    d) DUR=$OPTARG ;;
    c) CONNS=$OPTARG ;;
    m) STREAMS=$OPTARG ;;
    r) RATE=$OPTARG ;;
    p) PORT=$OPTARG ;;
    *) sed -n '2,19p' "$0"; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=nginx.sh
. "$ROOT/bench/perf/nginx.sh"

prepare h2load=nghttp2-client

# nginx: h2c on the plain listener (prior knowledge), every request
# logged, so that each generator's count meets the server's own.
start_nginx_h2() {
  sed -e "s/@WORKERS@/1/" -e "s/@PORT@/$PORT/" -e "s#@DIR@#$WORK#" -e "s#@SSL@#http2 #" -e "s#@SSLCONF@#http2_max_concurrent_streams 128;#" \
      -e "s#access_log off;#access_log $WORK/access.log;#" "$ROOT/bench/perf/nginx.conf.in" >"$WORK/nginx.conf"
  taskset -c 0 nginx -c "$WORK/nginx.conf" -p "$WORK" &
  NGINX_PID=$!
  URL="http://127.0.0.1:$PORT/"
  for _ in $(seq 50); do curl -fs --http2-prior-knowledge "$URL" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "nginx did not come up:" >&2; cat "$WORK/error.log" >&2; exit 1
}
start_nginx_h2

RESULTS="$WORK/results"
: >"$RESULTS"
for c in $CONNS; do
  echo "== $c connections x $STREAMS streams, $RATE requests/s each, ${DUR}s" >&2
  run h2load "$c" h2load -c "$c" -m "$STREAMS" --rps "$RATE" -D "$DUR" "$URL" >>"$RESULTS"
  run loadcheck "$c" "$WORK/loadcheck" run --quiet --target "$URL" --h2c --streams "$STREAMS" -c "$c" --rate "$RATE" \
      --ramp 0 --warmup 0 -d "${DUR}s" --timeout 10s --max-p99 10s --json "$WORK/lc-$c.json" >>"$RESULTS"
done

echo
echo "generator on core 1, nginx (1 worker, h2c) on core 0, $STREAMS streams, $RATE requests/s per connection, ${DUR}s per run"
ratios "$RESULTS"
