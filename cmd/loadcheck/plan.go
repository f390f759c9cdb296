package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/loadcheck/loadcheck"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/provider"
	"github.com/loadcheck/loadcheck/results"
)

// cmdPlan writes one shard request per shard of a load on a running
// server, for shards started by other means than loadcheck run.
func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	var startAt string
	f, err := parseRunFlags(args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&startAt, "start-at", "", "the shards start together at this `TIME` (RFC 3339, e.g. 2026-11-27T02:00:00Z) instead of --start-in")
		fs.Usage = func() {
			fmt.Fprint(stderr, `Usage: loadcheck plan --target URL --shards N -o DIR [load flags]

Splits one load on a running server over N generator shards that you start
yourself (CI matrix jobs, ssh, any cluster engine): writes DIR/shard-J.json
for each, all starting at one wall-clock time. Run each with
  loadcheck shard DIR/shard-J.json > shard-J.jsonl
on any machine whose clock is in sync (NTP) and that reaches the target,
then join their outputs with
  loadcheck merge shard-*.jsonl
The load flags are run's (-c, --rate, --ramp, --warmup, -d, --timeout,
--path, --header, ...); the warm-up is fixed, 30 s unless --warmup says (no
coordinator watches the server to end it early). Exit 0, 2 on bad input.

Flags:
`)
			fs.PrintDefaults()
		}
	})
	if err != nil {
		return exitSetup, err
	}
	startIn, outDir := f.startIn, f.manifests // -o: here the requests' folder
	switch {
	case f.target == "":
		return exitSetup, &usageError{"plan splits a load on a running server: give --target URL"}
	case outDir == "":
		return exitSetup, &usageError{"give -o DIR for the shard requests"}
	case f.shards < 1:
		return exitSetup, &usageError{"give --shards N, the number of generator shards you will start"}
	case f.set["start-in"] && startAt != "":
		return exitSetup, &usageError{"give --start-in or --start-at, not both"}
	case f.set["repeat"] || f.promURL != "" || f.statusURL != "":
		return exitSetup, &usageError{"--repeat, --prom-remote-write and --status-url need a coordinator: use them with loadcheck run"}
	}
	at := time.Now().Add(startIn)
	if startAt != "" {
		if at, err = time.Parse(time.RFC3339, startAt); err != nil {
			return exitSetup, &usageError{fmt.Sprintf("--start-at %q: want RFC 3339 time such as 2026-11-27T02:00:00Z", startAt)}
		}
	}
	reqs, err := planRequests(ctx, f, at)
	if err != nil {
		return exitSetup, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return exitSetup, err
	}
	for j, req := range reqs {
		b, err := json.MarshalIndent(req, "", "  ")
		if err != nil {
			return exitSetup, err
		}
		path := filepath.Join(outDir, fmt.Sprintf("shard-%d.json", j))
		if err := results.WriteFileAtomic(path, append(b, '\n')); err != nil {
			return exitSetup, err
		}
	}
	fmt.Fprintf(stdout, "wrote %d shard requests to %s: %d connections to %s, starting at %s (%s from now), warm-up %s, measured %s\n",
		len(reqs), outDir, f.load.Connections, f.target, at.UTC().Format(time.RFC3339), time.Until(at).Round(time.Second), f.load.WarmUp, f.load.Duration)
	fmt.Fprintf(stdout, "run each:  loadcheck shard %s > shard-J.jsonl\nthen:     loadcheck merge shard-*.jsonl\n", filepath.Join(outDir, "shard-J.json"))
	return exitPass, nil
}

// planRequests splits f's load on its --target over --shards shards
// starting at at, after the checks every planned load needs.
func planRequests(ctx context.Context, f *runFlags, at time.Time) ([]bench.ShardRequest, error) {
	if err := f.checkTarget(); err != nil {
		return nil, err
	}
	if f.load.WarmUp == bench.WarmUpAuto && !f.set["warmup"] {
		f.load.WarmUp = 30 * time.Second // auto needs a coordinator
	}
	if time.Until(at) < 5*time.Second {
		return nil, &usageError{fmt.Sprintf("the start (%s) is %s away: give the shards time to start, at least 5 s", at.UTC().Format(time.RFC3339), time.Until(at).Round(time.Second))}
	}
	t := provider.Target{URL: f.target, AllowRemote: f.allowRemote}
	if err := t.Check(ctx); err != nil {
		return nil, &usageError{err.Error()}
	}
	reqs, err := bench.PlanShards(bench.Target{URL: f.target}, bench.Options{Load: f.load, SourceAddrs: f.sourceAddr}, f.shards, at)
	if err != nil {
		return nil, &usageError{err.Error()}
	}
	for i := range reqs {
		reqs[i].Version = version
	}
	if err := f.thresholds.Validate(); err != nil {
		return nil, &usageError{"bad threshold: " + err.Error()}
	}
	if err := loadcheck.PlanThresholds(reqs, f.thresholds); err != nil {
		return nil, err
	}
	return reqs, nil
}
