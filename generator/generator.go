// Package generator is the one seam between a run and whatever generates
// its load: the Generator interface, and Choose, the one function that
// decides which implementation a run gets. Each implementation has a
// folder of its own below this one:
//
//   - inprocess: this process (the default, and the only one that drives
//     a capacity search's stepped run);
//   - shards: processes on this host, each under the per-process
//     file-descriptor limit, merged exactly;
//   - swarm: Docker Swarm job services, one per shard;
//   - kubernetes: the pods of a Kubernetes Indexed Job.
//
// Every implementation speaks in package bench's terms (bench.Options in,
// bench.Result out), and the shards of every kind speak bench's shard
// protocol, so that their results merge without loss.
package generator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/generator/inprocess"
	"github.com/loadcheck/loadcheck/generator/kubernetes"
	"github.com/loadcheck/loadcheck/generator/shards"
	"github.com/loadcheck/loadcheck/generator/swarm"
)

// Generator offers a load to one server URL and accounts for every
// connection and request (package bench).
type Generator interface {
	// Generate runs o's load against url. The caller sets the load and
	// its controls (Load, Progress, MeasureFrom, Steps); the generator
	// sets how it spreads them (source addresses, shards). A generator
	// that cannot drive a control (Steps, on several processes) says so
	// in its error before any traffic.
	Generate(ctx context.Context, url string, o bench.Options) (*bench.Result, error)
	// Describe is "" or a phrase such as " from 2 generator processes".
	Describe() string
}

// Every implementation behind the one seam: a type that drifts from the
// interface fails to compile here.
var (
	_ Generator = inprocess.Generator{}
	_ Generator = shards.Generator{}
	_ Generator = swarm.Generator{}
	_ Generator = kubernetes.Generator{}
)

// FleetWarmUp is the warm-up of a fleet on other hosts unless the user
// gives one: no coordinator line reaches its shards to end an auto one.
const FleetWarmUp = 30 * time.Second

// Choice is what a caller asks of the generator.
type Choice struct {
	// Fleet is where the load comes from: "local" (or ""), "swarm" or
	// "kubernetes".
	Fleet string
	// Shards is the number of generator processes; 0 for local lets
	// Choose decide from the nofile hard limit. NoShard keeps a local
	// load in this process whatever it needs.
	Shards  int
	NoShard bool
	// SourceAddrs spreads connections to a loopback target over this many
	// source addresses (0: as many as ephemeral ports need).
	SourceAddrs int
	// ShardCommand starts one local shard process (a loadcheck binary's
	// hidden shard command, which runs bench.ServeShard); it is needed
	// when a local load takes more than one process.
	ShardCommand func(ctx context.Context) *exec.Cmd
	// WarmUpGiven says the load's warm-up is the user's own, not a
	// default: a fleet refuses an auto warm-up the user asked for, and
	// replaces a default one with FleetWarmUp.
	WarmUpGiven bool

	// For the fleets: the run they belong to (their services and Job are
	// named by it), the coordinator's version, where shards read its
	// clock, and how long before the start they are created.
	RunID     string
	Version   string
	ClockAddr string
	Lead      time.Duration
	// Swarm: the generator image (swarm.GeneratorImage builds it).
	Image string
	// Kubernetes: the running server's URL as the pods reach it, the
	// manifests' spec, and the cluster's API.
	Target string
	Kube   kubernetes.Spec
	API    *kubernetes.API
}

// UsageError is a choice that cannot be made as asked: the user's input
// is at fault (a shard count above the connections, a fleet without
// shards), not the host. Its message names the loadcheck flags that set
// the Choice's fields.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Choose decides how l is generated, as c asks, and fixes what the choice
// needs of l (a fleet's fixed warm-up). The local choice splits over
// processes when one process may not hold every socket (bench.ShardsFor),
// and fails before any traffic when this process cannot hold them. A
// swarm needs an active swarm and gets the generator image built when c
// names none; Kubernetes needs a cluster that answers (c.API, or the one
// kubernetes.LoadAPI finds). A choice the user's input makes impossible
// is a *UsageError.
func Choose(ctx context.Context, c Choice, l *bench.Load) (Generator, error) {
	switch c.Fleet {
	case "local", "":
		return local(c, l.Connections)
	case "swarm", "kubernetes":
	default:
		return nil, &UsageError{fmt.Sprintf("--generator %q: choose local, swarm or kubernetes", c.Fleet)}
	}
	switch {
	case c.Shards < 1:
		return nil, &UsageError{fmt.Sprintf("--generator %s: give --shards N, the number of shards", c.Fleet)}
	case c.Shards > l.Connections:
		return nil, &UsageError{fmt.Sprintf("--shards %d is more than the %d connections", c.Shards, l.Connections)}
	case l.WarmUp == bench.WarmUpAuto && c.WarmUpGiven:
		return nil, &UsageError{fmt.Sprintf("--generator %s needs a fixed --warmup, such as 30s: no coordinator line reaches its shards to end an auto warm-up", c.Fleet)}
	case l.WarmUp == bench.WarmUpAuto:
		l.WarmUp = FleetWarmUp
	}
	if c.RunID == "" {
		return nil, fmt.Errorf("generator %s: no run ID to name its shards by (Choice.RunID)", c.Fleet)
	}
	if c.Fleet == "swarm" {
		return chooseSwarm(ctx, c)
	}
	return chooseKubernetes(ctx, c)
}

// chooseSwarm is the swarm fleet: one job service per shard, running the
// generator image (built from this binary when c names none).
func chooseSwarm(ctx context.Context, c Choice) (Generator, error) {
	if _, err := swarm.Active(ctx); err != nil {
		return nil, &UsageError{err.Error()}
	}
	if c.Image == "" {
		image, err := swarm.GeneratorImage(ctx, c.Version)
		if err != nil {
			return nil, err
		}
		c.Image = image
	}
	return swarm.Generator{N: c.Shards, SourceAddrs: c.SourceAddrs, Image: c.Image, RunID: c.RunID, Version: c.Version, ClockAddr: c.ClockAddr}, nil
}

// chooseKubernetes is the Kubernetes fleet: an Indexed Job of c.Shards
// pods running c.Kube.Image against c.Target, on the cluster c.API (or
// KUBECONFIG, ~/.kube/config, or the pod loadcheck runs in) names.
func chooseKubernetes(ctx context.Context, c Choice) (Generator, error) {
	switch {
	case c.Target == "":
		return nil, &UsageError{"--generator kubernetes loads a running server: give --target URL (as the pods reach it)"}
	case c.Kube.Image == "":
		return nil, &UsageError{"--generator kubernetes: give --generator-image IMAGE, an image whose entrypoint is this loadcheck build (make generator-image, then push it)"}
	}
	api := c.API
	if api == nil {
		var err error
		if api, err = kubernetes.LoadAPI(); err != nil {
			return nil, &UsageError{"--generator kubernetes: no cluster to reach: " + err.Error() + "; set KUBECONFIG, run loadcheck in a pod, or write the manifests with --dry-run -o FILE"}
		}
	}
	if _, err := api.Version(ctx); err != nil {
		return nil, &UsageError{fmt.Sprintf("--generator kubernetes: the cluster at %s (from %s) does not answer: %v", api.Server, api.From, err)}
	}
	k := c.Kube
	if k.Namespace == "" {
		k.Namespace = cmp.Or(api.Namespace, "default")
	}
	k.Name = kubernetes.NameFor(c.RunID)
	return kubernetes.Generator{N: c.Shards, SourceAddrs: c.SourceAddrs, Spec: k, API: api, Lead: c.Lead, Version: c.Version, ClockAddr: c.ClockAddr}, nil
}

// local is this host's generator for n connections: this process, or
// shard processes when one process may not hold n sockets.
func local(c Choice, n int) (Generator, error) {
	count := c.Shards
	if count == 0 {
		hard, err := bench.HardNofile()
		if err != nil {
			return nil, err
		}
		count = bench.ShardsFor(n, hard)
		if c.NoShard {
			count = 1
		}
	}
	if count > n {
		return nil, &UsageError{fmt.Sprintf("--shards %d is more than the %d connections", count, n)}
	}
	if count == 1 {
		// Fail before any traffic when this process cannot hold n sockets.
		if err := bench.RaiseNofile(n); err != nil {
			if le := new(bench.LimitError); errors.As(err, &le) {
				return nil, &UsageError{err.Error()}
			}
			return nil, err
		}
		return inprocess.Generator{SourceAddrs: c.SourceAddrs}, nil
	}
	if c.ShardCommand == nil {
		return nil, fmt.Errorf("this load needs %d generator processes, and no command to start them was given (Choice.ShardCommand)", count)
	}
	return shards.Generator{N: count, SourceAddrs: c.SourceAddrs, Command: c.ShardCommand}, nil
}
