package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/loadcheck/loadcheck/report"
	"github.com/loadcheck/loadcheck/results"
)

// cmdCompare is `loadcheck compare BASE NEW`: each config of NEW against BASE.
func cmdCompare(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("loadcheck compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := results.DefaultNoise()
	format := fs.String("format", "table", "table, markdown or json")
	out := fs.String("o", "", "write to this `FILE` (atomically) instead of stdout")
	fs.Float64Var(&n.RelPct, "noise", n.RelPct, "a metric regresses only when it is worse by more than this `percent`")
	fs.Float64Var(&n.ServedPct, "served-noise", n.ServedPct, "the same for served connections, which are counted exactly (`percent`)")
	fs.Float64Var(&n.LatencyMS, "latency-floor", n.LatencyMS, "... and, for p50 and p99, by more than this many `ms`")
	fs.Float64Var(&n.DroppedPts, "dropped-floor", n.DroppedPts, "... and, for dropped requests, by more than this many percentage `points`")
	fs.Float64Var(&n.MemPerConnKB, "memory-floor", n.MemPerConnKB, "... and, for memory per connection, by more than this many `KB`")
	strictEnv := fs.Bool("strict-env", false, "refuse (exit 2) two runs whose environments differ: host CPU, cores, kernel, Docker, loadcheck, image, httpd or generator engine")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadcheck compare BASE NEW [flags]

Compares each config of the run NEW with the same config of the run BASE
(run folders or result JSON files): served connections, dropped requests,
p50, p99, throughput and memory per connection. A change counts as a
regression only when it is worse beyond the noise threshold and the floor;
a config that passed in BASE and does not pass in NEW, or that is missing
from NEW, always regresses. Two runs that ran on different environments
(host CPU and cores, kernel, Docker, loadcheck, image, httpd, generator
engine) are compared with a warning naming each difference; --strict-env
refuses them. Exit 0 no regression, 1 regression, 2 bad input.

Flags:
`)
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args, 2, "BASE and NEW")
	if err != nil {
		return exitSetup, err
	}
	for _, v := range []float64{n.RelPct, n.ServedPct, n.LatencyMS, n.DroppedPts, n.MemPerConnKB} {
		if v < 0 {
			return exitSetup, &usageError{"noise thresholds and floors must not be negative"}
		}
	}
	if *format != "table" && *format != "markdown" && *format != "md" && *format != "json" {
		return exitSetup, &usageError{fmt.Sprintf("--format %q: choose from table, markdown, json", *format)}
	}
	base, err := results.ReadRun(pos[0])
	if err != nil {
		return exitSetup, fmt.Errorf("base: %w", err)
	}
	next, err := results.ReadRun(pos[1])
	if err != nil {
		return exitSetup, fmt.Errorf("new: %w", err)
	}
	c := results.Compare(base, next, n)
	if *strictEnv && len(c.EnvDiffs) > 0 {
		return exitSetup, &usageError{fmt.Sprintf("--strict-env: the runs ran on different environments: %s", strings.Join(c.EnvDiffs, "; "))}
	}
	if err := writeOut(*out, stdout, func(w io.Writer) error { return report.WriteComparison(w, c, *format) }); err != nil {
		return exitSetup, err
	}
	if c.Regressions > 0 {
		return exitFail, nil
	}
	return exitPass, nil
}
