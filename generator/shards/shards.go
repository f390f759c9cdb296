// Package shards splits the load over generator processes on this host,
// each under the per-process file-descriptor limit, and merges their
// results exactly (bench.RunShards, the shard protocol).
package shards

import (
	"context"
	"errors"
	"fmt"
	"os/exec"

	"github.com/loadcheck/loadcheck/bench"
)

// Generator splits the load over N processes, each started by Command (a
// loadcheck binary's hidden shard command, which runs bench.ServeShard).
type Generator struct {
	N           int
	SourceAddrs int
	Command     func(ctx context.Context) *exec.Cmd
}

// Generate implements generator.Generator. A stepped run (o.Steps) is
// refused: its steps are judged in one process.
func (g Generator) Generate(ctx context.Context, url string, o bench.Options) (*bench.Result, error) {
	if o.Steps != nil {
		return nil, errors.New("a stepped run needs one generator process, and this load needs several")
	}
	o.SourceAddrs = g.SourceAddrs
	return bench.RunShards(ctx, bench.Target{URL: url}, o, g.N, g.Command)
}

// Describe implements generator.Generator.
func (g Generator) Describe() string { return fmt.Sprintf(" from %d generator processes", g.N) }
