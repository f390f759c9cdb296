package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/loadcheck/loadcheck"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/fleet"
	"github.com/loadcheck/loadcheck/results"
)

// swarmGenerator is the swarm fleet: --shards job services running this
// binary's generator image, built when missing.
func swarmGenerator(ctx context.Context, f *runFlags) (loadcheck.Generator, error) {
	if err := fleetLoad(f); err != nil {
		return nil, err
	}
	if _, err := fleet.SwarmActive(ctx); err != nil {
		return nil, &usageError{err.Error()}
	}
	image, err := fleet.GeneratorImage(ctx, version)
	if err != nil {
		return nil, err
	}
	if f.runID == "" {
		f.runID = loadcheck.NewRunID() // the services are named and labelled by it
	}
	return fleet.Swarm{N: f.shards, SourceAddrs: f.sourceAddr, Image: image, RunID: f.runID, Version: version, ClockAddr: f.clockAddr}, nil
}

// fleetLoad checks what every fleet of shards on other hosts needs:
// --shards, and a fixed warm-up (30 s unless --warmup gives one), since
// no coordinator line reaches such a shard to end an auto warm-up.
func fleetLoad(f *runFlags) error {
	switch {
	case f.shards < 1:
		return &usageError{fmt.Sprintf("--generator %s: give --shards N, the number of shards", f.generator)}
	case f.shards > f.load.Connections:
		return &usageError{fmt.Sprintf("--shards %d is more than the %d connections", f.shards, f.load.Connections)}
	case f.load.WarmUp == bench.WarmUpAuto && f.set["warmup"]:
		return &usageError{fmt.Sprintf("--generator %s needs a fixed --warmup, such as 30s: no coordinator line reaches its shards to end an auto warm-up", f.generator)}
	case f.load.WarmUp == bench.WarmUpAuto:
		f.load.WarmUp = 30 * time.Second
	}
	return nil
}

// kubeGenerator is the Kubernetes fleet: an Indexed Job of --shards pods
// running --generator-image against --target, on the cluster KUBECONFIG
// (or ~/.kube/config, or the pod loadcheck runs in) names.
func kubeGenerator(ctx context.Context, f *runFlags) (loadcheck.Generator, error) {
	if err := fleetLoad(f); err != nil {
		return nil, err
	}
	switch {
	case f.target == "":
		return nil, &usageError{"--generator kubernetes loads a running server: give --target URL (as the pods reach it)"}
	case f.kube.Image == "":
		return nil, &usageError{"--generator kubernetes: give --generator-image IMAGE, an image whose entrypoint is this loadcheck build (make generator-image, then push it)"}
	}
	api, err := fleet.LoadKubeAPI()
	if err != nil {
		return nil, &usageError{"--generator kubernetes: no cluster to reach: " + err.Error() + "; set KUBECONFIG, run loadcheck in a pod, or write the manifests with --dry-run -o FILE"}
	}
	if _, err := api.Version(ctx); err != nil {
		return nil, &usageError{fmt.Sprintf("--generator kubernetes: the cluster at %s (from %s) does not answer: %v", api.Server, api.From, err)}
	}
	k := f.kube
	if !f.set["namespace"] && api.Namespace != "" {
		k.Namespace = api.Namespace
	}
	if f.runID == "" {
		f.runID = loadcheck.NewRunID()
	}
	k.Name = kubeName(f.runID)
	return fleet.Kubernetes{N: f.shards, SourceAddrs: f.sourceAddr, Spec: k, API: api, Lead: f.startIn, Version: version, ClockAddr: f.clockAddr}, nil
}

// shardCommand is the hidden subcommand a shard process runs.
const shardCommand = "__shard"

// newGenerator decides how the load is generated: in this process, or
// split over shard processes when one process may not hold every socket.
func newGenerator(ctx context.Context, f *runFlags) (loadcheck.Generator, error) {
	switch f.generator {
	case "local", "":
	case "swarm":
		return swarmGenerator(ctx, f)
	case "kubernetes":
		return kubeGenerator(ctx, f)
	default:
		return nil, &usageError{fmt.Sprintf("--generator %q: choose local, swarm or kubernetes", f.generator)}
	}
	shards, n := f.shards, f.load.Connections
	if shards == 0 {
		hard, err := bench.HardNofile()
		if err != nil {
			return nil, err
		}
		shards = bench.ShardsFor(n, hard)
		if f.noShard {
			shards = 1
		}
	}
	if shards > n {
		return nil, &usageError{fmt.Sprintf("--shards %d is more than the %d connections", shards, n)}
	}
	if shards == 1 {
		// Fail before any traffic when this process cannot hold n sockets.
		if err := bench.RaiseNofile(n); err != nil {
			var le *bench.LimitError
			if errors.As(err, &le) {
				return nil, &usageError{err.Error()}
			}
			return nil, err
		}
		return loadcheck.InProcess{SourceAddrs: f.sourceAddr}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find loadcheck's own binary to start shards: %w", err)
	}
	return loadcheck.Shards{N: shards, SourceAddrs: f.sourceAddr, Command: func(ctx context.Context) *exec.Cmd {
		return exec.CommandContext(ctx, exe, shardCommand)
	}}, nil
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
