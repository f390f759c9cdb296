#!/usr/bin/env bash
# fifty-thousand.sh: 50,000 concurrent keep-alive connections from loadcheck
# to nginx on loopback, with zero client-side errors.
#
# One process may hold at most 20,000 sockets here (the hard nofile limit),
# so loadcheck splits the generator over shard processes by itself, and
# spreads the connections over loopback source addresses once one address
# runs out of ephemeral ports. nginx gets 4 workers (12,500 each, under the
# same limit). nginx runs on core 0, the generator on core 1.
#
# Usage: bench/perf/fifty-thousand.sh [-c CONNECTIONS] [-r RATE] [-p PORT] [-e ENGINE]
#   -e  the generator engine: auto (default), epoll or goroutine
# Prints loadcheck's table; the JSON result is kept in $OUT (default
# ./fifty-thousand.json). Exit code is loadcheck's: 0 means every
# connection was served.
set -euo pipefail

CONNS=50000
RATE=0.2
PORT=18081
ENGINE=auto
OUT=${OUT:-$PWD/fifty-thousand.json}
while getopts "c:r:p:e:h" opt; do
  case $opt in
    c) CONNS=$OPTARG ;;
    r) RATE=$OPTARG ;;
    p) PORT=$OPTARG ;;
    e) ENGINE=$OPTARG ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=nginx.sh
. "$ROOT/bench/perf/nginx.sh"

command -v nginx >/dev/null || { apt-get update -qq >/dev/null && apt-get install -y -qq nginx-light >/dev/null; }
(cd "$ROOT" && go build -o "$WORK/loadcheck" ./cmd/loadcheck)
ulimit -n "$(ulimit -Hn)"

start_nginx 4 "$PORT"

echo "nofile hard limit $(ulimit -Hn); ephemeral ports $(cat /proc/sys/net/ipv4/ip_local_port_range)" >&2
code=0
taskset -c 1 "$WORK/loadcheck" run --target "$URL" -c "$CONNS" --rate "$RATE" --ramp 20s --warmup 10s -d 20s \
  --timeout 5s --engine "$ENGINE" --json "$OUT" || code=$?
python3 - "$OUT" <<'PY' || true
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
peak = max(p["open"] for p in r["series"])
print("generator processes %s; peak open connections %d; all open after %ss; client-side errors %s"
      % (r.get("generator_processes"), peak, r.get("opened_in_s", "never"),
         {k: v for k, v in r["requests"]["errors"].items()} or "none"))
PY
exit $code
