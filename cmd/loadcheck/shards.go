package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/loadcheck/loadcheck"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/fleet"
	"github.com/loadcheck/loadcheck/provider"
	"github.com/loadcheck/loadcheck/report"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
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

// kubeName is the Job's and ConfigMap's name for a run: a DNS label.
func kubeName(runID string) string {
	return "loadcheck-" + strings.ToLower(strings.ReplaceAll(runID, "_", "-"))
}

// kubeDryRun writes the Kubernetes manifests of --generator kubernetes
// --dry-run, for kubectl apply and loadcheck merge.
func kubeDryRun(ctx context.Context, f *runFlags, stdout io.Writer) (int, error) {
	switch {
	case f.manifests == "":
		return exitSetup, &usageError{"--generator kubernetes --dry-run: give -o FILE for the manifests"}
	case f.target == "":
		return exitSetup, &usageError{"--generator kubernetes loads a running server: give --target URL (as the pods reach it)"}
	case f.shards < 1:
		return exitSetup, &usageError{"--generator kubernetes: give --shards N, the Job's completions"}
	}
	reqs, err := planRequests(ctx, f, time.Now().Add(f.startIn))
	if err != nil {
		return exitSetup, err
	}
	k := f.kube
	k.Name = kubeName(cmp.Or(f.runID, loadcheck.NewRunID()))
	manifests, err := fleet.KubeManifests(reqs, k)
	if err != nil {
		return exitSetup, &usageError{err.Error()}
	}
	if err := results.WriteFileAtomic(f.manifests, manifests); err != nil {
		return exitSetup, err
	}
	fmt.Fprintf(stdout, "wrote %s: ConfigMap and Indexed Job %s/%s, %d shards, %d connections to %s, starting at %s (%s from now)\n",
		f.manifests, cmp.Or(k.Namespace, "default"), k.Name, len(reqs), f.load.Connections, f.target, reqs[0].Options.StartAt.UTC().Format(time.RFC3339), f.startIn)
	fmt.Fprintf(stdout, "apply it before then:  kubectl apply -f %s\nthen, once it completes, for each shard J:\n  kubectl logs -n %s -l job-name=%s,batch.kubernetes.io/job-completion-index=J > shard-J.jsonl\nand:  loadcheck merge shard-*.jsonl\n",
		f.manifests, cmp.Or(k.Namespace, "default"), k.Name)
	return exitPass, nil
}

// cmdShard runs one planned shard and writes its JSON lines to stdout.
func cmdShard(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadcheck shard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadcheck shard REQUEST.json > OUTPUT.jsonl
       loadcheck shard PLAN-DIR > OUTPUT.jsonl   (in a Kubernetes Indexed Job's pod)

Runs one shard of a load that loadcheck plan (or run --generator swarm or
kubernetes) split, waiting for its start time, and writes loadcheck.shard/v1
JSON lines to stdout: its request, progress once a second, then its result
(histograms included, lossless). Given a folder, it takes the request
shard-$JOB_COMPLETION_INDEX.json from it; with no argument, the request in
$LOADCHECK_SHARD_REQUEST (a swarm shard's). Join the shards' outputs with
loadcheck merge. Exit 0, 2 when the shard cannot run (its start has passed,
say).
`)
	}
	// A swarm shard gets its request in its environment, not as a file.
	var pos []string
	var data []byte
	if env := os.Getenv(fleet.ShardRequestEnv); env != "" && len(args) == 0 {
		pos, data = []string{"$" + fleet.ShardRequestEnv}, []byte(env)
	} else {
		var err error
		if pos, err = parseArgs(fs, args, 1, "one shard request file"); err != nil {
			return err
		}
		// A plan folder (a Kubernetes Indexed Job's ConfigMap): the shard
		// is the pod's completion index.
		if st, err := os.Stat(pos[0]); err == nil && st.IsDir() {
			idx := os.Getenv("JOB_COMPLETION_INDEX")
			if idx == "" {
				return &usageError{fmt.Sprintf("%s is a folder: its shard comes from JOB_COMPLETION_INDEX (set in a Kubernetes Indexed Job's pods); elsewhere give the shard's file", pos[0])}
			}
			pos[0] = filepath.Join(pos[0], "shard-"+idx+".json")
		}
		if data, err = os.ReadFile(pos[0]); err != nil {
			return &usageError{err.Error()}
		}
	}
	var req bench.ShardRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return &usageError{fmt.Sprintf("%s: not a shard request: %v", pos[0], err)}
	}
	// Late by more than a second, the shard's connections would open out
	// of step with the others': the schedule is the result.
	if late := time.Since(req.Options.StartAt); !req.Options.StartAt.IsZero() && late > time.Second {
		return &usageError{fmt.Sprintf("%s: its start (%s) passed %s ago: plan again with a later --start-in", pos[0], req.Options.StartAt.UTC().Format(time.RFC3339), late.Round(time.Second))}
	}
	// A fleet's image may hold another build than the coordinator's: the
	// two would not agree on the schedule or the wire format.
	if req.Version != "" && req.Version != version {
		return &usageError{fmt.Sprintf("%s: planned by loadcheck %s, and this is loadcheck %s: run the shards from the coordinator's build (make generator-image)", pos[0], req.Version, version)}
	}
	return bench.ServeShard(ctx, strings.NewReader(string(data)), stdout)
}

// cmdGeneratorImage builds the generator image when it is missing and
// prints its tag, for make generator-image and for pushing it to a
// registry a cluster pulls from.
func cmdGeneratorImage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadcheck generator-image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadcheck generator-image

Builds the image that swarm and Kubernetes shards run, when it is missing:
this very loadcheck binary on loadcheck's Debian image (make image builds
that), tagged loadcheck/generator:HASH by the binary's SHA-256 and labelled
org.loadcheck.version. Prints the tag. A shard refuses a request planned by
another loadcheck version. For Kubernetes, push it where the cluster pulls
from and give it as --generator-image.
`)
	}
	if _, err := parseArgs(fs, args, 0, "no argument"); err != nil {
		return err
	}
	tag, err := fleet.GeneratorImage(ctx, version)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tag)
	return nil
}

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
