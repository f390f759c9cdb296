#!/usr/bin/env bash
# Fixed 30 s warm-up against auto, side by side in one session: the six
# presets of compare-4000.yaml at 4000 connections, each config REPEAT
# times (3), first with --warmup 30s, then with --warmup auto. Prints each
# run's wall time and per-config verdicts, and each auto config's warm-up.
#
#   bench/perf/warmup-auto.sh [REPEAT]
set -euo pipefail
cd "$(dirname "$0")/../.."
repeat=${1:-3}
make -s build image
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export TESTCONTAINERS_RYUK_DISABLED=true
for w in 30s auto; do
	start=$(date +%s)
	bin/loadcheck run scenarios/compare-4000.yaml --warmup "$w" --repeat "$repeat" --quiet \
		--results "$dir" --run-id "w-$w" --json "$dir/$w.json" >/dev/null || [ $? -eq 1 ]
	echo "warmup $w: $(( $(date +%s) - start )) s wall for 6 configs x $repeat"
done
python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
runs = {w: {r["config"]: r for r in json.load(open(f"{d}/{w}.json"))["runs"]} for w in ("30s", "auto")}
def label(r):
    s = r.get("spread")
    return r["verdict"].upper() + (f' {s["passed"]}/{s["repeats"]}' if s else "")
same = 0
for c, f in runs["30s"].items():
    a = runs["auto"][c]
    ws = [x.get("warmup_s", 0) for x in a.get("repeats", [a])]
    why = sorted({x.get("warmup_ended", "") for x in a.get("repeats", [a])})
    served = lambda r: r["spread"]["served"] if r.get("spread") else {"median": r["connections"]["served"]}
    print(f'{c:14} fixed {label(f):10} served {served(f)["median"]:>6}   auto {label(a):10} served {served(a)["median"]:>6}   auto warm-up {ws} s: {"; ".join(why)}')
    same += label(f) == label(a)
print(f"same verdicts: {same} of {len(runs['30s'])}")
PY
