package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/loadcheck/loadcheck"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/report"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

// cmdMerge joins the outputs of a planned load's shards into one run.
func cmdMerge(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("loadcheck merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	th := scenarios.DefaultThresholds()
	resultsDir := fs.String("results", defaultResultsDir(), "store the merged run in a folder under this `DIR`")
	runID := fs.String("run-id", "", "name the run folder (default: now and a random suffix)")
	jsonPath := fs.String("json", "", "also write the result (schema loadcheck.result/v1) to `PATH`")
	fs.Float64Var(&th.MinServedPct, "min-served-pct", th.MinServedPct, "pass needs at least this % of connections served (default: the plan's)")
	fs.Float64Var(&th.MaxDroppedPct, "max-dropped-pct", th.MaxDroppedPct, "pass allows at most this % of requests dropped (default: the plan's)")
	fs.DurationVar(&th.MaxP99, "max-p99", th.MaxP99, "pass allows at most this p99 latency (default: the plan's)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadcheck merge SHARD.jsonl... [flags]

Joins the outputs of every shard of one load that loadcheck plan split
(each written by loadcheck shard) into one run, as if one process had
generated it: counts add, latency histograms merge without loss, the
per-second series add by second, and each shard's share is kept. Prints the
table, stores the run folder (result.json, .hlog, series) and judges the
thresholds the plan carried (plan's --max-p99, --max-dropped-pct,
--min-served-pct or its scenario's), or the ones given here. A shard that is missing, failed, died or belongs to another
load stops the merge, named. Exit 0 pass, 1 fail, 2 bad input.

Flags:
`)
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args, -1, "the shards' output files")
	if err != nil {
		return exitSetup, err
	}
	if len(pos) == 0 {
		return exitSetup, &usageError{"give the shards' output files, e.g. loadcheck merge shard-*.jsonl"}
	}
	if err := th.Validate(); err != nil {
		return exitSetup, &usageError{"bad threshold: " + err.Error()}
	}
	var outs []bench.ShardOutput
	for _, p := range pos {
		fh, err := os.Open(p)
		if err != nil {
			return exitSetup, &usageError{err.Error()}
		}
		o, err := bench.ReadShardOutput(p, fh)
		fh.Close()
		if err != nil {
			return exitSetup, &usageError{err.Error()}
		}
		outs = append(outs, o)
	}
	// The plan's thresholds, unless merge is given its own.
	var judge *scenarios.Thresholds
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "min-served-pct", "max-dropped-pct", "max-p99":
			judge = &th
		}
	})
	out, err := loadcheck.MergeShards(outs, judge, version, *runID)
	if err != nil {
		return exitSetup, &usageError{err.Error()}
	}
	dir, err := results.CreateRunDir(*resultsDir, out.RunID)
	if err != nil {
		return exitSetup, err
	}
	if err := out.Save(dir); err != nil {
		return exitSetup, err
	}
	fmt.Fprintf(stderr, "loadcheck: merged %d shards into %s\n", len(outs), dir)
	if *jsonPath != "" {
		if err := out.WriteJSON(*jsonPath); err != nil {
			return exitSetup, err
		}
	}
	if err := report.Render(stdout, out, "table"); err != nil {
		return exitSetup, err
	}
	return runExit(out, false), nil
}
