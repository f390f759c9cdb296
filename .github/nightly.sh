#!/usr/bin/env bash
# The nightly job's steps, so they run the same on a laptop as in CI
# (.github/workflows/nightly.yml and action.yml call this; cmd/loadcheck's
# TestNightlyScript runs it against real httpd):
#
#   1. run the scenario, each config REPEAT times (3), into RESULTS/RUN_ID;
#   2. append the Markdown report to SUMMARY, write junit.xml into the run
#      folder (run wrote report.html there) and, in GitHub Actions, annotate
#      each config that did not pass;
#   3. compare with the baseline run folder, when there is one: with
#      repeats on both sides, a metric regresses only beyond the noise and
#      beyond chance (one-sided Mann–Whitney U, p <= 0.05); COMPARE_FLAGS
#      --strict-env makes a changed environment (host CPU, kernel, Docker,
#      image digest, httpd, engine, loadcheck) an error;
#   4. keep the KEEP newest nights in RESULTS (loadcheck prune), and write
#      the trend over them into RESULTS/trend.html (and its tables into
#      SUMMARY): each config's metrics night after night, regressions marked.
#
# Usage: .github/nightly.sh [--fail-on MODE] [--keep N]   (or FAIL_ON, KEEP)
#
# FAIL_ON says what turns the night red (exit 1):
#   regression  a config regressed against the baseline (the default:
#               compare-4000.yaml's stock configs fail by design)
#   verdict     a config failed its thresholds (FAIL or FLAKY)
#   both        either
#   none        neither: the night is red only when loadcheck could not run
# Exit 2 whatever FAIL_ON says: loadcheck could not run or read a run, or a
# config was INCONCLUSIVE (the generator, not the server, was the limit).
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
FAIL_ON=${FAIL_ON:-regression}
KEEP=${KEEP:-30}

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; }
while [ $# -gt 0 ]; do
	case "$1" in
	--fail-on) FAIL_ON=${2-}; shift 2 || { echo "nightly: --fail-on needs a value" >&2; exit 2; } ;;
	--fail-on=*) FAIL_ON=${1#*=}; shift ;;
	--keep) KEEP=${2-}; shift 2 || { echo "nightly: --keep needs a value" >&2; exit 2; } ;;
	--keep=*) KEEP=${1#*=}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "nightly: unknown argument $1; see .github/nightly.sh --help" >&2; exit 2 ;;
	esac
done
case "$FAIL_ON" in
regression | verdict | both | none) ;;
*) echo "nightly: FAIL_ON/--fail-on is \"$FAIL_ON\"; choose regression, verdict, both or none" >&2; exit 2 ;;
esac
case "$KEEP" in
'' | *[!0-9]* | 0) echo "nightly: KEEP/--keep is \"$KEEP\"; want the number of nights to keep, 1 or more" >&2; exit 2 ;;
esac

run_dir="$RESULTS/$RUN_ID"
# shellcheck disable=SC2086 # RUN_FLAGS holds several flags
"$LOADCHECK" run "$SCENARIO" --results "$RESULTS" --run-id "$RUN_ID" --repeat "$REPEAT" $RUN_FLAGS
run_rc=$?
if [ ! -f "$run_dir/result.json" ]; then
	echo "nightly: loadcheck run exited $run_rc and stored no result in $run_dir" >&2
	exit 2
fi
if [ "$run_rc" -ge 2 ] && [ "$run_rc" -ne 130 ]; then
	echo "nightly: loadcheck run exited $run_rc (a setup error, or a config INCONCLUSIVE); its result is in $run_dir" >&2
fi

"$LOADCHECK" report "$run_dir" --format markdown >>"$SUMMARY"
"$LOADCHECK" report "$run_dir" --format junit -o "$run_dir/junit.xml"
if [ "${GITHUB_ACTIONS:-}" = true ]; then
	# One annotation per config that did not pass, on the job's page.
	"$LOADCHECK" report "$run_dir" --format github
fi

cmp_rc=0
if [ -f "$BASELINE/result.json" ]; then
	# shellcheck disable=SC2086
	"$LOADCHECK" compare "$BASELINE" "$run_dir" --format markdown $COMPARE_FLAGS >>"$SUMMARY"
	cmp_rc=$?
else
	printf '\nNo baseline at %s yet. Promote a good CI run: `loadcheck baseline promote %s --to %s` (docs/ci.md).\n' "$BASELINE" "$run_dir" "$BASELINE" >>"$SUMMARY"
fi

# The history stays bounded; then the trend over what is kept. The trend
# informs; its exit (1: the newest night regressed from the night before)
# does not decide the job, compare with the baseline does.
"$LOADCHECK" prune "$RESULTS" --keep "$KEEP" >&2
"$LOADCHECK" trend "$RESULTS" --format html -o "$RESULTS/trend.html"
trend_rc=$?
"$LOADCHECK" trend "$RESULTS" --format markdown >>"$SUMMARY"
if [ "$trend_rc" -ge 2 ]; then
	echo "nightly: loadcheck trend exited $trend_rc" >&2
fi

if [ "$run_rc" -ge 2 ] || [ "$cmp_rc" -ge 2 ]; then
	exit 2
fi
red=""
if [ "$run_rc" -eq 1 ] && { [ "$FAIL_ON" = verdict ] || [ "$FAIL_ON" = both ]; }; then
	red="a config failed its thresholds"
fi
if [ "$cmp_rc" -eq 1 ] && { [ "$FAIL_ON" = regression ] || [ "$FAIL_ON" = both ]; }; then
	red="${red:+$red; }a config regressed against the baseline"
fi
if [ -n "$red" ]; then
	echo "nightly: red (FAIL_ON=$FAIL_ON): $red" >&2
	printf '\n**nightly: red (FAIL_ON=%s): %s**\n' "$FAIL_ON" "$red" >>"$SUMMARY"
	exit 1
fi
exit 0
