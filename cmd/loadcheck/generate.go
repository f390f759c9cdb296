package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/loadcheck/loadcheck"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/fleet"
)

// swarmGenerator is the swarm fleet: --shards job services running this
// binary's generator image, built when missing.
func swarmGenerator(ctx context.Context, f *runFlags) (loadcheck.Generator, error) {
	switch {
	case f.shards < 1:
		return nil, &usageError{"--generator swarm: give --shards N, the number of job services"}
	case f.shards > f.load.Connections:
		return nil, &usageError{fmt.Sprintf("--shards %d is more than the %d connections", f.shards, f.load.Connections)}
	case f.load.WarmUp == bench.WarmUpAuto && f.set["warmup"]:
		return nil, &usageError{"--generator swarm needs a fixed --warmup, such as 30s: no coordinator line reaches a swarm shard to end an auto warm-up"}
	case f.load.WarmUp == bench.WarmUpAuto:
		f.load.WarmUp = 30 * time.Second
	}
	if err := fleet.SwarmActive(ctx); err != nil {
		return nil, &usageError{err.Error()}
	}
	image, err := fleet.GeneratorImage(ctx)
	if err != nil {
		return nil, err
	}
	if f.runID == "" {
		f.runID = loadcheck.NewRunID() // the services are named and labelled by it
	}
	return fleet.Swarm{N: f.shards, SourceAddrs: f.sourceAddr, Image: image, RunID: f.runID}, nil
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
	default:
		return nil, &usageError{fmt.Sprintf("--generator %q: choose local or swarm (or kubernetes, with run --dry-run)", f.generator)}
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
