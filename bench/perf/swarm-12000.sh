#!/usr/bin/env bash
# swarm-12000.sh: 12,000 keep-alive connections to nginx on loopback from
# three generator shards run as Docker Swarm job services (--generator
# swarm), merged into one table with exact counts.
#
# Makes this engine a one-node swarm on loopback when it is none, and
# leaves it afterwards (removing docker_gwbridge, which leave keeps).
# nginx gets 4 workers, pinned to core 0.
#
# Usage: bench/perf/swarm-12000.sh [-c CONNECTIONS] [-s SHARDS] [-p PORT]
# The JSON result is kept in $OUT (default ./swarm-12000.json). Exit code
# is loadcheck's.
set -euo pipefail

CONNS=12000
SHARDS=3
PORT=18082
OUT=${OUT:-$PWD/swarm-12000.json}
while getopts "c:s:p:h" opt; do
  case $opt in
    c) CONNS=$OPTARG ;;
    s) SHARDS=$OPTARG ;;
    p) PORT=$OPTARG ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=nginx.sh
. "$ROOT/bench/perf/nginx.sh"

command -v nginx >/dev/null || { apt-get update -qq >/dev/null && apt-get install -y -qq nginx-light >/dev/null; }
(cd "$ROOT" && go build -o "$WORK/loadcheck" ./cmd/loadcheck)
ulimit -n "$(ulimit -Hn)"
made=""
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null
  made=1
fi
leave() {
  if [ -n "$made" ]; then
    docker swarm leave --force >/dev/null 2>&1 || true
    docker network rm docker_gwbridge >/dev/null 2>&1 || true
  fi
  cleanup
}
trap leave EXIT INT TERM

start_nginx 4 "$PORT"
"$WORK/loadcheck" run --target "$URL" --generator swarm --shards "$SHARDS" -c "$CONNS" --rate 1 \
  --ramp 4s --warmup 10s -d 10s --json "$OUT" --results "$WORK/runs"
