#!/usr/bin/env bash
# compare's false-alarm rate (A/A: two runs of the same scenario) and its
# detection rate (worker-stock's MaxRequestWorkers 150 -> 120), with the
# statistical compare on 3 repeats a side.
#
#   bench/perf/compare-rates.sh [A_RUNS] [B_RUNS]     (default 11 and 5)
#
# A_RUNS runs of base.yaml give A_RUNS-1 A/A comparisons of consecutive
# runs (each run is in at most two); B_RUNS runs of worse.yaml are each
# compared with a different base run. Prints one line per comparison and
# the two rates. Results go to a temporary run folder, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
A=${1:-11} B=${2:-5}
[ "$B" -lt "$A" ] || { echo "want fewer B runs than A runs" >&2; exit 2; }
make -s build image
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export TESTCONTAINERS_RYUK_DISABLED=true
run() { bin/loadcheck run "$1" --quiet --results "$dir" --run-id "$2" >/dev/null || [ $? -eq 1 ]; }
for i in $(seq 1 "$A"); do run bench/perf/compare-rates/base.yaml "a$i"; done
for i in $(seq 1 "$B"); do run bench/perf/compare-rates/worse.yaml "b$i"; done
regressed() { # prints the configs compare calls regressed, or "none"
	local out
	out=$(bin/loadcheck compare "$dir/$1" "$dir/$2" --format json || true)
	printf '%s' "$out" | python3 -c 'import json,sys; c=json.load(sys.stdin); print(",".join(d["config"] for d in c["configs"] if d["regression"]) or "none")'
}
false_alarms=0
for i in $(seq 2 "$A"); do
	r=$(regressed "a$((i-1))" "a$i"); echo "A/A a$((i-1)) -> a$i: regressed: $r"
	[ "$r" = none ] || false_alarms=$((false_alarms+1))
done
detected=0 wrong=0
for i in $(seq 1 "$B"); do
	r=$(regressed "a$i" "b$i"); echo "A/B a$i -> b$i: regressed: $r"
	case ",$r," in *,worker-stock,*) detected=$((detected+1));; esac
	case ",$r," in *,event-stock,*) wrong=$((wrong+1));; esac
done
echo "false alarms: $false_alarms of $((A-1)) A/A comparisons"
echo "detected: $detected of $B (worker-stock MaxRequestWorkers 150 -> 120); event-stock (unchanged) called regressed in $wrong of them"
