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
    *) sed -n '2,16p' "$0"; exit 2 ;;
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

logged() { [ -f "$WORK/access.log" ] && wc -l <"$WORK/access.log" || echo 0; }

# run NAME CONNS CMD...: runs CMD pinned to core 1 and prints
# "NAME CONNS requests logged cpu_seconds".
run() {
  local name=$1 c=$2; shift 2
  local out="$WORK/$name-$c.out" tm="$WORK/$name-$c.time" before
  before=$(logged)
  /usr/bin/time -o "$tm" -f "%U %S" taskset -c 1 "$@" >"$out" 2>&1 || true
  read -r user sys < <(tail -1 "$tm") || { echo "$name $c failed: $(tail -3 "$out")" >&2; return; }
  local req
  case $name in
    h2load) req=$(awk '/^requests:/ {print $8}' "$out") ;;  # "requests: N total, N started, N done, N succeeded, ..."
    loadcheck) [ -f "$WORK/lc-$c.json" ] || { echo "loadcheck $c failed: $(tail -5 "$out")" >&2; return; }
               req=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]; print(sum(p["ok"] for p in r["series"]))' "$WORK/lc-$c.json") ;;
  esac
  echo "$name $c ${req:-0} $(( $(logged) - before )) $(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}')"
}

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
python3 - "$RESULTS" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
ref = {r[1]: r for r in rows if r[0] == "h2load"}
print("%6s %-10s %10s %13s %7s %10s %16s" % ("conns", "generator", "requests", "nginx logged", "cpu s", "us cpu/req", "cpu/req vs h2load"))
for name, c, req, logged, cpu in rows:
    req, cpu = int(req), float(cpu)
    us = cpu * 1e6 / req if req else float("inf")
    w = ref.get(c)
    ratio = "%.2f" % (us / (float(w[4]) * 1e6 / int(w[2]))) if w and int(w[2]) else "-"
    print("%6s %-10s %10d %13s %7.2f %10.1f %16s" % (c, name, req, logged, cpu, us, ratio))
PY
