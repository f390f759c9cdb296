#!/usr/bin/env bash
# The nightly job's steps, so they run the same on a laptop as in CI
# (.github/workflows/nightly.yml calls this; cmd/loadcheck's
# TestNightlyScript runs it against real httpd):
#
#   1. run the scenario, each config REPEAT times (3), into RESULTS/RUN_ID;
#   2. append the Markdown report to SUMMARY, and write junit.xml into
#      the run folder (run wrote report.html there);
#   3. compare with the baseline run folder, when there is one: with
#      repeats on both sides, a metric regresses only beyond the noise and
#      beyond chance (one-sided Mann–Whitney U, p <= 0.05);
#   4. write the trend over every night kept in RESULTS into
#      RESULTS/trend.html (and its tables into SUMMARY): each config's
#      metrics night after night, regressions marked.
#
# Exit 0: no regression (the configs' own verdicts are in the summary:
# compare-4000.yaml's stock configs fail by design); 1: a regression
# against the baseline; 2: loadcheck could not run or read a run.
set -uo pipefail

LOADCHECK=${LOADCHECK:-bin/loadcheck}
SCENARIO=${SCENARIO:-scenarios/compare-4000.yaml}
RESULTS=${RESULTS:-runs}
RUN_ID=${RUN_ID:-nightly-$(date -u +%Y%m%d-%H%M%S)}
BASELINE=${BASELINE:-.loadcheck/baseline}
SUMMARY=${SUMMARY:-${GITHUB_STEP_SUMMARY:-/dev/stdout}}
# Each config runs REPEAT times, so that a verdict says how sure it is and
# compare tests the repeats against the baseline's instead of one number.
REPEAT=${REPEAT:-3}
RUN_FLAGS=${RUN_FLAGS:-}
COMPARE_FLAGS=${COMPARE_FLAGS:-}

run_dir="$RESULTS/$RUN_ID"
# shellcheck disable=SC2086 # RUN_FLAGS holds several flags
"$LOADCHECK" run "$SCENARIO" --results "$RESULTS" --run-id "$RUN_ID" --repeat "$REPEAT" $RUN_FLAGS
run_rc=$?
if [ ! -f "$run_dir/result.json" ]; then
	echo "nightly: loadcheck run exited $run_rc and stored no result in $run_dir" >&2
	exit 2
fi
if [ "$run_rc" -ge 2 ] && [ "$run_rc" -ne 130 ]; then
	echo "nightly: loadcheck run exited $run_rc (setup error); its partial result is in $run_dir" >&2
fi

"$LOADCHECK" report "$run_dir" --format markdown >>"$SUMMARY"
"$LOADCHECK" report "$run_dir" --format junit -o "$run_dir/junit.xml"

cmp_rc=0
if [ -f "$BASELINE/result.json" ]; then
	# shellcheck disable=SC2086
	"$LOADCHECK" compare "$BASELINE" "$run_dir" --format markdown $COMPARE_FLAGS >>"$SUMMARY"
	cmp_rc=$?
else
	printf '\nNo baseline at %s yet. Promote a good run: `cp -r %s %s` and commit it.\n' "$BASELINE" "$run_dir" "$BASELINE" >>"$SUMMARY"
fi

# The trend informs; its exit (1: the newest night regressed from the
# night before) does not decide the job, compare with the baseline does.
"$LOADCHECK" trend "$RESULTS" --format html -o "$RESULTS/trend.html"
trend_rc=$?
"$LOADCHECK" trend "$RESULTS" --format markdown >>"$SUMMARY"
if [ "$trend_rc" -ge 2 ]; then
	echo "nightly: loadcheck trend exited $trend_rc" >&2
fi

if [ "$run_rc" -ge 2 ] || [ "$cmp_rc" -ge 2 ]; then
	exit 2
fi
exit "$cmp_rc"
