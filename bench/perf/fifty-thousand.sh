#!/usr/bin/env bash
# fifty-thousand.sh: 50,000 (or -c N: 250,000) concurrent keep-alive
# connections from loadcheck to nginx on loopback, with zero client-side
# errors.
#
# One process may hold at most 20,000 sockets here (the hard nofile limit),
# so loadcheck splits the generator over shard processes by itself, and
# spreads the connections over loopback source addresses once one address
# runs out of ephemeral ports. nginx gets a worker per 12,500 connections
# (under the same limit; reuseport spreads them). nginx runs on core 0, the
# generator on core 1. Before the load it checks what the host allows:
# conntrack's table, ephemeral ports per source address, memory.
#
# While the load runs it reads every generator process's RSS each second;
# the generator's memory per connection is the peak of their sum less what
# the same processes held before any connection opened (each process's
# RSS at its first reading: the binary and the runtime), over the
# connections.
#
# Usage: bench/perf/fifty-thousand.sh [-c CONNECTIONS] [-r RATE] [-R RAMP] [-d SECONDS] [-p PORT] [-e ENGINE]
#   -e  the generator engine: auto (default), epoll or goroutine
#   -R  the ramp in seconds (default: 20, or 1 per 4000 connections)
#   -d  the measured window in seconds (default 20)
# Prints loadcheck's table; the JSON result is kept in $OUT (default
# ./fifty-thousand.json). Exit code is loadcheck's: 0 means every
# connection was served.
set -euo pipefail

CONNS=50000
RATE=0.2
PORT=18081
ENGINE=auto
RAMP=""
DUR=20
OUT=${OUT:-$PWD/fifty-thousand.json}
while getopts "c:r:R:d:p:e:h" opt; do
  case $opt in
    c) CONNS=$OPTARG ;;
    r) RATE=$OPTARG ;;
    R) RAMP=$OPTARG ;;
    d) DUR=$OPTARG ;;
    p) PORT=$OPTARG ;;
    e) ENGINE=$OPTARG ;;
    *) sed -n '2,26p' "$0"; exit 2 ;;
  esac
done
[ -n "$RAMP" ] || RAMP=$(( CONNS / 4000 > 20 ? CONNS / 4000 : 20 ))
WORKERS=$(( (CONNS + 12499) / 12500 ))

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=nginx.sh
. "$ROOT/bench/perf/nginx.sh"

command -v nginx >/dev/null || { apt-get update -qq >/dev/null && apt-get install -y -qq nginx-light >/dev/null; }
(cd "$ROOT" && go build -o "$WORK/loadcheck" ./cmd/loadcheck)
ulimit -n "$(ulimit -Hn)"

# --- what the host allows -------------------------------------------------
read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
ports=$(( hi - lo + 1 ))
echo "nofile hard limit $(ulimit -Hn); ephemeral ports $lo-$hi ($ports per source address: $(( (CONNS + ports - 1) / ports )) loopback source addresses for $CONNS)" >&2
if [ -r /proc/sys/net/netfilter/nf_conntrack_max ]; then
  ctmax=$(cat /proc/sys/net/netfilter/nf_conntrack_max) ctnow=$(cat /proc/sys/net/netfilter/nf_conntrack_count)
  echo "conntrack: $ctnow of $ctmax entries in use" >&2
  if [ $(( ctnow + CONNS )) -gt "$ctmax" ]; then
    echo "conntrack's table ($ctmax, $ctnow in use) cannot track $CONNS more connections: raise net.netfilter.nf_conntrack_max" >&2
    exit 2
  fi
fi
avail=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
need=$(( CONNS * 20 ))  # KB: both sockets' kernel memory and both sides' user memory, with a margin
if [ "$avail" -lt "$need" ]; then
  echo "$(( avail / 1024 )) MB available, about $(( need / 1024 )) MB wanted for $CONNS connections" >&2
  exit 2
fi

start_nginx "$WORKERS" "$PORT"
echo "nginx: $WORKERS workers" >&2

# --- the load, and the generator's memory ------------------------------------
code=0
taskset -c 1 "$WORK/loadcheck" run --target "$URL" -c "$CONNS" --rate "$RATE" --ramp "${RAMP}s" --warmup 10s -d "${DUR}s" \
  --timeout 5s --engine "$ENGINE" --json "$OUT" &
LC=$!
: >"$WORK/rss"
while kill -0 "$LC" 2>/dev/null; do
  # every loadcheck process (the coordinator and its shards): pid and RSS in KB
  for p in $(pgrep -f "^$WORK/loadcheck" || true); do
    awk -v p="$p" -v t="$SECONDS" '/VmRSS/ {print t, p, $2}' "/proc/$p/status" 2>/dev/null || true
  done >>"$WORK/rss"
  sleep 1
done
wait "$LC" || code=$?
python3 - "$WORK/rss" "$CONNS" <<'PY' || true
import sys, collections
first, by_t = {}, collections.defaultdict(int)
for line in open(sys.argv[1]):
    t, p, kb = line.split()
    first.setdefault(p, int(kb))
    by_t[t] += int(kb)
if by_t:
    t, peak = max(by_t.items(), key=lambda kv: kv[1])
    base = sum(first.values())
    n = int(sys.argv[2])
    print("generator: %d processes; peak RSS of all %.0f MB, of which %.0f MB before any connection: %.2f KB a connection above that"
          % (len(first), peak / 1024, base / 1024, (peak - base) / n))
PY
python3 - "$OUT" <<'PY' || true
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
peak = max(p["open"] for p in r["series"])
print("generator processes %s; peak open connections %d; all open after %ss; client-side errors %s"
      % (r.get("generator_processes"), peak, r.get("opened_in_s", "never"),
         {k: v for k, v in r["requests"]["errors"].items()} or "none"))
PY
exit $code
