package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/loadcheck/loadcheck"
	"github.com/loadcheck/loadcheck/generator"
	"github.com/loadcheck/loadcheck/generator/kubernetes"
	"github.com/loadcheck/loadcheck/results"
)

// shardCommand is the hidden subcommand a shard process runs.
const shardCommand = "__shard"

// newGenerator turns f's generator flags into a generator.Choice and lets
// generator.Choose decide, as every library caller does; a choice made
// against the user's input is a usage error.
func newGenerator(ctx context.Context, f *runFlags) (generator.Generator, error) {
	c := generator.Choice{Fleet: f.generator, Shards: f.shards, NoShard: f.noShard, SourceAddrs: f.sourceAddr,
		WarmUpGiven: f.set["warmup"], Version: version, ClockAddr: f.clockAddr, Lead: f.startIn, Target: f.target, Kube: f.kube}
	if !f.set["namespace"] {
		c.Kube.Namespace = "" // the kubeconfig context's, if any
	}
	if c.Fleet == "swarm" || c.Fleet == "kubernetes" {
		if f.runID == "" {
			f.runID = loadcheck.NewRunID() // the services or the Job are named and labelled by it
		}
		c.RunID = f.runID
	}
	if exe, err := os.Executable(); err == nil {
		c.ShardCommand = func(ctx context.Context) *exec.Cmd { return exec.CommandContext(ctx, exe, shardCommand) }
	}
	g, err := generator.Choose(ctx, c, &f.load)
	if ue := new(generator.UsageError); errors.As(err, &ue) {
		return nil, &usageError{ue.Msg}
	}
	return g, err
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
	k.Name = kubernetes.NameFor(cmp.Or(f.runID, loadcheck.NewRunID()))
	manifests, err := kubernetes.Manifests(reqs, k)
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
