#!/usr/bin/env bash
# The stepped capacity search against the probe-only one, side by side in
# one session: scenarios/capacity.yaml (six presets) with --search stepped,
# then with --search bisect, both --no-confirm (the suggestions' confirming
# runs are the same in both). Prints each search's wall time and, per
# config, the limits both found and whether they agree within 5 %.
#
#   bench/perf/capacity-fast.sh [EXTRA FLAGS...]   e.g. --configs worker-stock
set -euo pipefail
cd "$(dirname "$0")/../.."
make -s build image
dir=$(mktemp -d /tmp/capacity-fast.XXXXXX)
echo "results (capacity.json, capacity.html per search) in $dir"
export TESTCONTAINERS_RYUK_DISABLED=true
for s in stepped bisect; do
	start=$(date +%s)
	bin/loadcheck capacity scenarios/capacity.yaml --search "$s" --no-confirm --quiet \
		--results "$dir" --run-id "cap-$s" "$@" >/dev/null || [ $? -eq 1 ]
	echo "search $s: $(( $(date +%s) - start )) s wall"
done
python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
res = {s: {c["config"]["name"]: c for c in json.load(open(f"{d}/cap-{s}/capacity.json"))["configs"]} for s in ("stepped", "bisect")}
agree = 0
for name, a in res["stepped"].items():
    b = res["bisect"][name]
    ok = abs(a["max_pass"] - b["max_pass"]) <= 0.05 * max(a["max_pass"], b["max_pass"], 1)
    agree += ok
    st = a.get("stepped") or {}
    steps = ", ".join(f'{s["connections"]} {"held" if s["held"] else "not held (" + str(s["answered"]) + " answered)"}' for s in st.get("steps", []))
    print(f'{name:14} stepped holds {a["max_pass"]:>5} fails {a["first_fail"]:>5} ({len(a["probes"])} probes; steps: {steps or st.get("error", "-")}; knee {st.get("knee", 0)}, {st.get("elapsed_s", 0):.0f} s)'
          f'   bisect holds {b["max_pass"]:>5} fails {b["first_fail"]:>5} ({len(b["probes"])} probes)   {"agree" if ok else "DIFFER"}')
print(f"limits within 5 %: {agree} of {len(res['stepped'])}")
PY
