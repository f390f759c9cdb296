package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/loadcheck/loadcheck"
	"github.com/loadcheck/loadcheck/bench"
)

// shardCommand is the hidden subcommand a shard process runs.
const shardCommand = "__shard"

// newGenerator decides how the load is generated: in this process, or
// split over shard processes when one process may not hold every socket.
func newGenerator(f *runFlags) (loadcheck.Generator, error) {
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
