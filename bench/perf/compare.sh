#!/usr/bin/env bash
# compare.sh: loadcheck's closed-loop generator against wrk, bombardier and
# hey, side by side in one run, on one nginx.
#
# nginx (1 worker) is pinned to core 0 and each generator in turn to core 1,
# for the same duration and connection count. For each it prints requests
# per generator-CPU-second (user+sys from getrusage via /usr/bin/time), CPU
# microseconds per request, peak RSS, RSS per connection, and the ratios
# against wrk measured in this same run. Absolute numbers drift on a shared
# machine; the ratios are the result.
#
# Usage: bench/perf/compare.sh [-d SECONDS] [-c "100 4000 16000"] [-p PORT] [-t] [-n] [-e ENGINES]
#   -t  HTTPS: nginx serves TLS (ECDSA P-256, no session cache or tickets);
#       only wrk and loadcheck run (bombardier and hey are left out)
#   -n  a new connection for every request (Connection: close): with -t,
#       a full handshake per request; the report adds handshakes per
#       generator-CPU-second
#   -e  loadcheck's engines, each a row (default "auto"; "epoll goroutine"
#       puts both side by side, named loadcheck-epoll and loadcheck-goroutine)
# Needs root for apt-get when wrk, nginx-light, hey or /usr/bin/time are
# missing; bombardier comes from `go install`. Load goes to 127.0.0.1 only.
set -euo pipefail

DUR=10
CONNS="100 4000 16000"
PORT=18080
TLS=0
NEWCONN=0
ENGINES=auto
while getopts "d:c:p:tne:h" opt; do
  case $opt in
    d) DUR=$OPTARG ;;
    c) CONNS=$OPTARG ;;
    p) PORT=$OPTARG ;;
    t) TLS=1 ;;
    n) NEWCONN=1 ;;
    e) ENGINES=$OPTARG ;;
    *) sed -n '2,23p' "$0"; exit 2 ;;
  esac
done
export TLS
# Extra arguments: loadcheck must be told to trust the self-signed
# certificate; Connection: close makes every request open a connection.
LC_EXTRA=() WRK_EXTRA=()
[ "$TLS" = 1 ] && LC_EXTRA+=(--insecure --tls-resume=false)
[ "$NEWCONN" = 1 ] && LC_EXTRA+=(--header "Connection: close") WRK_EXTRA+=(-H "Connection: close")

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=nginx.sh
. "$ROOT/bench/perf/nginx.sh"

# --- tools -----------------------------------------------------------------
prepare wrk=wrk hey=hey
BOMBARDIER=$(command -v bombardier || true)
[ -z "$BOMBARDIER" ] && [ -x "$(go env GOPATH)/bin/bombardier" ] && BOMBARDIER=$(go env GOPATH)/bin/bombardier
if [ -z "$BOMBARDIER" ]; then
  echo "installing bombardier with go install" >&2
  (cd "$WORK" && GOFLAGS= go install github.com/codesenberg/bombardier@latest)
  BOMBARDIER=$(go env GOPATH)/bin/bombardier
fi

# --- nginx on core 0 -------------------------------------------------------
start_nginx 1 "$PORT"

# --- one generator run -----------------------------------------------------
# run NAME CONNS CMD...: runs CMD pinned to core 1 and prints
# "NAME CONNS requests errors cpu_seconds peak_rss_kb".
run() {
  local name=$1 c=$2; shift 2
  local out="$WORK/$name-$c.out" tm="$WORK/$name-$c.time"
  /usr/bin/time -o "$tm" -f "%U %S %M" taskset -c 1 "$@" >"$out" 2>&1 || true
  # /usr/bin/time writes "Command exited with non-zero status N" first when
  # the generator exits non-zero (loadcheck does when a threshold fails).
  read -r user sys rss < <(tail -1 "$tm") || { echo "$name $c failed: $(tail -3 "$out")" >&2; return; }
  local req err
  case $name in
    wrk) req=$(awk '/requests in/ {print $1}' "$out")
         err=$(awk '/Socket errors|Non-2xx/ {for(i=1;i<=NF;i++) if ($i ~ /^[0-9]+,?$/) s+=$i} END {print s+0}' "$out") ;;
    bombardier) req=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["result"]; print(r["req2xx"]+r["req1xx"]+r["req3xx"]+r["req4xx"]+r["req5xx"]); ' "$out" 2>/dev/null || echo 0)
         err=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["result"]; print(r["req4xx"]+r["req5xx"]+r["others"])' "$out" 2>/dev/null || echo 0) ;;
    hey) req=$(awk '/responses/ {s+=$2} END {print s+0}' "$out")
         err=$(awk '/Error distribution/ {e=1; next} e && /\[/ {gsub(/[\[\]]/,"",$1); s+=$1} END {print s+0}' "$out") ;;
    loadcheck*) req=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]; print(sum(p["ok"] for p in r["series"]))' "$WORK/$name-$c.json")
         err=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]; print(sum(sum(p.get("errors",{}).values()) for p in r["series"]))' "$WORK/$name-$c.json") ;;
  esac
  echo "$name $c ${req:-0} ${err:-0} $(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}') $rss"
}

RESULTS="$WORK/results"
: >"$RESULTS"
for c in $CONNS; do
  echo "== $c connections, ${DUR}s each" >&2
  run wrk "$c" wrk -t1 -c"$c" -d"${DUR}s" --timeout 10s "${WRK_EXTRA[@]}" "$URL" >>"$RESULTS"
  for e in $ENGINES; do
    lc=loadcheck
    [ "$ENGINES" = auto ] || lc=loadcheck-$e
    run "$lc" "$c" "$WORK/loadcheck" run --quiet --target "$URL" -c "$c" --closed-loop --ramp 0 --warmup 0 \
        -d "${DUR}s" --timeout 10s --engine "$e" "${LC_EXTRA[@]}" --json "$WORK/$lc-$c.json" >>"$RESULTS"
    [ "$TLS" = 1 ] && [ -f "$WORK/$lc-$c.json" ] && python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]; t=r.get("tls") or {}; print("%s at %s connections: %s handshakes (%s resumed, %s failed), %s" % (sys.argv[3], sys.argv[2], t.get("handshakes"), t.get("resumed"), t.get("failed"), t.get("version")))' "$WORK/$lc-$c.json" "$c" "$lc" >&2
  done
  [ "$TLS" = 1 ] && continue
  run bombardier "$c" "$BOMBARDIER" -c "$c" -d "${DUR}s" -t 10s -p r -o json "$URL" >>"$RESULTS"
  if [ "$c" -le 4000 ]; then
    run hey "$c" hey -z "${DUR}s" -c "$c" -t 10 "$URL" >>"$RESULTS"
  fi
  for f in "$WORK"/loadcheck*-"$c".json; do
    [ -f "$f" ] && python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]; print("%s at %s connections: all open after %ss (connect p50 %s ms, p99 %s ms)" % (sys.argv[1].split("/")[-1].rsplit("-",1)[0], sys.argv[2], r.get("opened_in_s","never"), r["connect_ms"]["p50"], r["connect_ms"]["p99"]))' "$f" "$c" >&2
  done
done

# --- report ----------------------------------------------------------------
echo
mode=$([ "$TLS" = 1 ] && echo "HTTPS (full handshakes)" || echo "plain HTTP")
[ "$NEWCONN" = 1 ] && mode="$mode, a new connection per request"
echo "generator on core 1, nginx (1 worker) on core 0, closed loop, ${DUR}s per run, $mode"
python3 - "$RESULTS" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
wrk = {r[1]: r for r in rows if r[0] == "wrk"}
hdr = ("conns", "generator", "requests", "errors", "cpu s", "us cpu/req", "req/cpu-s", "peak RSS MB", "KB RSS/conn", "cpu/req vs wrk", "RSS vs wrk")
print("%6s %-11s %10s %7s %7s %10s %10s %11s %11s %14s %10s" % hdr)
for name, c, req, err, cpu, rss in rows:
    req, cpu, rss = int(req), float(cpu), int(rss)
    us = cpu * 1e6 / req if req else float("inf")
    w = wrk.get(c)
    ratio = rss_ratio = "-"
    if w and int(w[2]):
        wus = float(w[4]) * 1e6 / int(w[2])
        ratio = "%.2f" % (us / wus)
        rss_ratio = "%.2f" % (rss / int(w[5]))
    print("%6s %-11s %10d %7s %7.2f %10.1f %10.0f %11.1f %11.2f %14s %10s" % (
        c, name, req, err, cpu, us, req / cpu if cpu else 0, rss / 1024, rss / int(c), ratio, rss_ratio))
PY
