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

logged() { [ -f "$WORK/access.log" ] && wc -l <"$WORK/access.log" || echo 0; }
PERF=""
command -v perf >/dev/null && PERF=1

run() {
  local name=$1 c=$2; shift 2
  local out="$WORK/$name-$c.out" tm="$WORK/$name-$c.time" ps="$WORK/$name-$c.perf" before
  before=$(logged)
  if [ -n "$PERF" ]; then
    /usr/bin/time -o "$tm" -f "%U %S" perf stat -x, -o "$ps" -e context-switches taskset -c 1 "$@" >"$out" 2>&1 || true
  else
    /usr/bin/time -o "$tm" -f "%U %S" taskset -c 1 "$@" >"$out" 2>&1 || true
  fi
  read -r user sys < <(tail -1 "$tm") || { echo "$name $c failed: $(tail -3 "$out")" >&2; return; }
  local req cs=-1
  case $name in
    h2load) req=$(awk '/^requests:/ {print $8}' "$out") ;;  # "requests: N total, N started, N done, N succeeded, ..."
    loadcheck) [ -f "$WORK/lc-$c.json" ] || { echo "loadcheck $c failed: $(tail -5 "$out")" >&2; return; }
               req=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]; print(sum(p["ok"] for p in r["series"]))' "$WORK/lc-$c.json") ;;
  esac
  [ -n "$PERF" ] && cs=$(awk -F, '/context-switches/ {print $1}' "$ps")
  echo "$name $c ${req:-0} $(( $(logged) - before )) $(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}') $cs"
}

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
python3 - "$RESULTS" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
ref = {r[1]: r for r in rows if r[0] == "h2load"}
print("%6s %-10s %10s %13s %7s %10s %11s %16s" % ("conns", "generator", "requests", "nginx logged", "cpu s", "us cpu/req", "ctxsw/req", "cpu/req vs h2load"))
for name, c, req, logged, cpu, cs in rows:
    req, cpu, cs = int(req), float(cpu), int(cs)
    us = cpu * 1e6 / req if req else float("inf")
    w = ref.get(c)
    ratio = "%.2f" % (us / (float(w[4]) * 1e6 / int(w[2]))) if w and int(w[2]) else "-"
    print("%6s %-10s %10d %13s %7.2f %10.1f %11s %16s" % (c, name, req, logged, cpu, us, "%.2f" % (cs / req) if req and cs >= 0 else "-", ratio))
PY
