#!/usr/bin/env bash
# lowrate.sh: loadcheck against h2load --h1 (Debian's nghttp2-client), both
# open-loop HTTP/1.1 generators, at a low request rate per connection: the
# regime of the 250,000-connection runs, where every request is its own
# wake-up of the generator, and what a generator pays per wake-up decides
# its CPU.
#
# nginx (2 workers, every request logged) is pinned to core 0 and each
# generator in turn to core 1, at the same schedule: C connections, R
# requests a second each, for D seconds, the connections opened over a
# ramp of R seconds (-R 0: all at once, which makes every connection's
# requests fall in step, bursts a generator serves in one wake-up; h2load
# ramps by -r, connections per tenth of a second, and runs for
# C x rate x D requests, since -r excludes -D). For each it
# prints the requests it counted, the lines nginx logged during its run,
# the generator's CPU seconds (user+sys, /usr/bin/time), CPU microseconds
# per request, context switches per request (perf stat, when perf is
# installed) and the CPU ratio against h2load in this same run. Absolute
# numbers drift on a shared machine; the ratios are the result.
#
# Usage: bench/perf/lowrate.sh [-d SECONDS] [-R RAMP] [-c "100:16 4000:0.4 16000:0.1"] [-p PORT]
#   -c  connections:rate pairs (default: 1600 requests/s in each)
# Needs root for apt-get when h2load, nginx-light or /usr/bin/time are
# missing. Load goes to 127.0.0.1 only.
set -euo pipefail

DUR=20
RAMP=4
PAIRS="100:16 4000:0.4 16000:0.1"
PORT=18083
while getopts "d:R:c:p:h" opt; do
  case $opt in
    d) DUR=$OPTARG ;;
    R) RAMP=$OPTARG ;;
    c) PAIRS=$OPTARG ;;
    p) PORT=$OPTARG ;;
    *) sed -n '2,25p' "$0"; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/bench/perf/nginx.sh"

prepare h2load=nghttp2-client
start_nginx 2 "$PORT"
sed -i "s#access_log off;#access_log $WORK/access.log;#" "$WORK/nginx.conf"
kill -HUP "$NGINX_PID"
sleep 0.5

PERF_STAT=1

RESULTS="$WORK/results"
: >"$RESULTS"
for pair in $PAIRS; do
  c=${pair%%:*} r=${pair#*:}
  echo "== $c connections, $r requests/s each, ${DUR}s" >&2
  if [ "$RAMP" = 0 ]; then
    run h2load "$c" h2load --h1 -c "$c" --rps "$r" -D "$DUR" "$URL" >>"$RESULTS"
  else
    per=$(( (c + RAMP * 10 - 1) / (RAMP * 10) )) n=$(awk -v c="$c" -v r="$r" -v d="$DUR" 'BEGIN {printf "%d", c * r * d}')
    run h2load "$c" h2load --h1 -c "$c" --rps "$r" -r "$per" --rate-period 100ms -n "$n" "$URL" >>"$RESULTS"
  fi
  run loadcheck "$c" "$WORK/loadcheck" run --quiet --target "$URL" -c "$c" --rate "$r" \
      --ramp "${RAMP}s" --warmup 0 -d "${DUR}s" --timeout 10s --max-p99 10s --json "$WORK/lc-$c.json" >>"$RESULTS"
done

echo
echo "generator on core 1, nginx (2 workers) on core 0, HTTP/1.1 keep-alive, ${DUR}s per run, connections opened over ${RAMP}s"
ratios "$RESULTS"
