#!/usr/bin/env bash
# slow.sh: what slow readers cost the generator. The same open-model load
# (N keep-alive connections, each asking for a 16 KB answer every 2 s)
# runs with no slow clients and with a share of them reading at a slow
# rate, on each engine, against one nginx; it prints each run's generator
# CPU (user+sys, getrusage via /usr/bin/time) and the ratio of the slow
# run's CPU to the same engine's run without slow clients.
#
# nginx (1 worker) is pinned to core 0, the generator to core 1.
#
# Usage: bench/perf/slow.sh [-c CONNS] [-s SHARE] [-r RATE] [-d SECONDS] [-e ENGINES] [-t]
#   -c  connections (default 16000)       -s  slow share (default 20%)
#   -r  slow read rate (default 16k)      -d  measured seconds (default 20)
#   -e  engines (default "epoll goroutine")
#   -t  HTTPS
# Needs root for apt-get when nginx-light or /usr/bin/time are missing.
# Load goes to 127.0.0.1 only.
set -euo pipefail

CONNS=16000 SHARE=20% RATE=16k DUR=20 ENGINES="epoll goroutine" TLS=0
while getopts "c:s:r:d:e:th" opt; do
  case $opt in
    c) CONNS=$OPTARG ;;
    s) SHARE=$OPTARG ;;
    r) RATE=$OPTARG ;;
    d) DUR=$OPTARG ;;
    e) ENGINES=$OPTARG ;;
    t) TLS=1 ;;
    *) sed -n '2,18p' "$0"; exit 2 ;;
  esac
done
export TLS
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=nginx.sh
. "$ROOT/bench/perf/nginx.sh"

prepare

head -c 16384 /dev/zero >"$WORK/16k.bin"
start_nginx 1 18080
EXTRA=()
[ "$TLS" = 1 ] && EXTRA+=(--insecure)

# one ENGINE NAME [ARGS...]: a run, printing "ENGINE NAME cpu_s ok dropped peak_rss_kb"
one() {
  local e=$1 name=$2; shift 2
  local tm="$WORK/$e-$name.time" js="$WORK/$e-$name.json"
  /usr/bin/time -o "$tm" -f "%U %S %M" taskset -c 1 "$WORK/loadcheck" run --quiet --target "${URL}16k" \
    -c "$CONNS" --rate 0.5 --ramp 10s --warmup 5s -d "${DUR}s" --timeout 10s --engine "$e" \
    "${EXTRA[@]}" --json "$js" "$@" >"$WORK/$e-$name.out" 2>&1 || true
  read -r user sys rss < <(tail -1 "$tm")
  python3 - "$js" "$e" "$name" "$user" "$sys" "$rss" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
print(sys.argv[2], sys.argv[3], float(sys.argv[4]) + float(sys.argv[5]), r["requests"]["ok"], r["requests"]["dropped"], sys.argv[6],
      r.get("generator_engine", "?"))
PY
}

RESULTS="$WORK/results"
: >"$RESULTS"
for e in $ENGINES; do
  echo "== engine $e: $CONNS connections, no slow clients, then $SHARE at $RATE/s" >&2
  one "$e" fast >>"$RESULTS"
  one "$e" slow --slow-clients "$SHARE" --slow-read "$RATE" >>"$RESULTS"
done

echo
echo "generator on core 1, nginx (1 worker) on core 0, $CONNS connections x 0.5 req/s of 16 KB, ${DUR}s measured$([ "$TLS" = 1 ] && echo ", HTTPS")"
python3 - "$RESULTS" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
fast = {r[0]: r for r in rows if r[1] == "fast"}
print("%-10s %-6s %8s %9s %8s %12s %11s %s" % ("engine", "load", "cpu s", "ok", "dropped", "peak RSS MB", "us cpu/ok", "cpu vs no slow"))
for e, name, cpu, ok, dropped, rss, engine in rows:
    cpu, ok = float(cpu), int(ok)
    ratio = "%.2f" % (cpu / float(fast[e][2])) if name == "slow" and e in fast and float(fast[e][2]) else "-"
    print("%-10s %-6s %8.2f %9d %8s %12.1f %11.1f %s" % (engine, name, cpu, ok, dropped, int(rss) / 1024, cpu * 1e6 / ok if ok else float("inf"), ratio))
PY
