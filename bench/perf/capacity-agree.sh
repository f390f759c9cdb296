#!/usr/bin/env bash
# capacity-agree.sh: checks a capacity search against single runs.
#
# For each config in CAPACITY.json it runs `loadcheck run` once at the
# limit the search found (max_pass, expected PASS) and once at the first
# count that failed (first_fail, expected FAIL), with the very directives
# the probes used (--set for each, since a preset such as prefork-tuned
# sizes itself to -c), and prints whether each verdict agrees.
#
# Usage: bench/perf/capacity-agree.sh [-b BIN] CAPACITY.json
#   -b  the loadcheck binary (default: bin/loadcheck)
# Run folders go to $LOADCHECK_RESULTS (default runs/), named
# agree-CONFIG-N-TIME. Exit 0 when every verdict agrees, 1 when one does
# not, 2 on bad input. Needs jq. Load goes to the containers loadcheck
# starts, on 127.0.0.1.
set -euo pipefail

BIN=bin/loadcheck
while getopts "b:h" opt; do
  case $opt in
    b) BIN=$OPTARG ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
CAP=${1:-}
if [ -z "$CAP" ] || [ ! -f "$CAP" ]; then
  echo "capacity-agree.sh: give a capacity.json (from loadcheck capacity), got '${CAP}'" >&2
  exit 2
fi
command -v jq >/dev/null || { echo "capacity-agree.sh: needs jq (apt-get install jq)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "capacity-agree.sh: no loadcheck binary at $BIN (make build, or -b PATH)" >&2; exit 2; }
if [ "$(jq -r .schema "$CAP")" != "loadcheck.capacity/v1" ]; then
  echo "capacity-agree.sh: $CAP is not a loadcheck.capacity/v1 result" >&2
  exit 2
fi
SCEN=$(jq -r .scenario_file "$CAP")
[ -f "$SCEN" ] || { echo "capacity-agree.sh: the search's scenario file $SCEN is gone" >&2; exit 2; }

stamp=$(date -u +%H%M%S)
disagree=0
printf '%-16s %7s %-9s %-9s %s\n' config conns expected got agrees
while read -r i; do
  name=$(jq -r ".configs[$i].config.name" "$CAP")
  sets=()
  while IFS= read -r d; do sets+=(--set "$d"); done < <(jq -r ".configs[$i].config.directives[] | \"\(.name)=\(.value)\"" "$CAP")
  for pair in "max_pass pass" "first_fail fail"; do
    set -- $pair
    n=$(jq -r ".configs[$i].$1" "$CAP")
    [ "$n" -gt 0 ] || continue
    rc=0
    "$BIN" run "$SCEN" --configs "$name" -c "$n" "${sets[@]}" --quiet \
      --run-id "agree-$name-$n-$stamp" >/dev/null 2>&1 || rc=$?
    case $rc in
      0) got=pass ;;
      1) got=fail ;;
      *) got="error($rc)" ;;
    esac
    ok=yes
    [ "$got" = "$2" ] || { ok=NO; disagree=1; }
    printf '%-16s %7d %-9s %-9s %s\n' "$name" "$n" "$2" "$got" "$ok"
  done
done < <(jq -r '.configs | keys[]' "$CAP")
exit $disagree
