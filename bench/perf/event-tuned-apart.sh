#!/usr/bin/env bash
# event-tuned-apart.sh: the article's tuned event config at 4000
# connections, repeated, with httpd's container on one core and loadcheck
# on the other, so that the generator cannot be what takes the server's
# CPU (docs/findings/2026-12-04-event-tuned.md).
#
# Usage: bench/perf/event-tuned-apart.sh [-n REPEATS] [-c CONNECTIONS] [-- EXTRA RUN FLAGS]
#   e.g. bench/perf/event-tuned-apart.sh -n 5 -- --set MaxSpareThreads=8000
#
# Until run has its own --server-cpus, the container's core is set the
# way runc sets it: each container's cpuset is copied from the cgroup v1
# parent "docker", whose cpuset.cpus this script sets to the server's
# core and restores on exit. Needs cgroup v1 with the cgroupfs driver
# (docker info: Cgroup Version 1), root, 2 or more cores, and no other
# container running. Exit code is loadcheck's.
set -euo pipefail

REPEATS=5
CONNS=4000
while getopts "n:c:h" opt; do
  case $opt in
    n) REPEATS=$OPTARG ;;
    c) CONNS=$OPTARG ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PARENT=/sys/fs/cgroup/cpuset/docker
[ -w "$PARENT/cpuset.cpus" ] || { echo "$PARENT/cpuset.cpus is not writable: cgroup v1, cgroupfs driver and root are needed" >&2; exit 2; }
[ "$(nproc)" -ge 2 ] || { echo "2 or more cores are needed" >&2; exit 2; }
[ -z "$(docker ps -q)" ] || { echo "another container runs: its cpuset would have to change too" >&2; exit 2; }

SERVER_CPU=1
GEN_CPU=0
OLD=$(cat "$PARENT/cpuset.cpus")
trap 'echo "$OLD" > "$PARENT/cpuset.cpus"' EXIT
echo "$SERVER_CPU" > "$PARENT/cpuset.cpus"

(cd "$ROOT" && make -s build image >/dev/null)
echo "httpd on core $SERVER_CPU (cpuset of $PARENT), loadcheck on core $GEN_CPU; $REPEATS repeats at $CONNS connections" >&2
cd "$ROOT"
taskset -c "$GEN_CPU" bin/loadcheck run scenarios/compare-4000.yaml --configs event-tuned --repeat "$REPEATS" -c "$CONNS" "$@"
