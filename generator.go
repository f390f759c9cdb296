package loadcheck

import (
	"context"
	"fmt"
	"os/exec"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/scenarios"
)

// Generator offers a scenario's load to one server URL and accounts for
// every connection and request (package bench).
type Generator interface {
	// measureFrom ends an auto warm-up (see bench.Options.MeasureFrom).
	Generate(ctx context.Context, url string, l scenarios.Load, progress func(bench.Progress), measureFrom <-chan time.Time) (*bench.Result, error)
	// Describe is "" or a phrase such as " from 2 generator processes".
	Describe() string
}

// InProcess generates the load in this process. It raises the process's
// nofile soft limit to what the load needs, and fails before any traffic
// when the hard limit is too low (*bench.LimitError).
type InProcess struct {
	// SourceAddrs spreads connections to a loopback target over this many
	// source addresses from 127.0.0.2 (0: as many as ephemeral ports need).
	SourceAddrs int
}

// Generate implements Generator.
func (g InProcess) Generate(ctx context.Context, url string, l scenarios.Load, progress func(bench.Progress), measureFrom <-chan time.Time) (*bench.Result, error) {
	if err := bench.RaiseNofile(l.Connections); err != nil {
		return nil, err
	}
	return bench.Run(ctx, bench.Target{URL: url}, bench.Options{Load: l, SourceAddrs: g.SourceAddrs, Progress: progress, MeasureFrom: measureFrom})
}

// Describe implements Generator.
func (InProcess) Describe() string { return "" }

// Shards splits the load over N generator processes, each started by
// Command (a loadcheck binary's hidden shard command, which runs
// bench.ServeShard), and merges their results exactly.
type Shards struct {
	N           int
	SourceAddrs int
	Command     func(ctx context.Context) *exec.Cmd
}

// Generate implements Generator.
func (g Shards) Generate(ctx context.Context, url string, l scenarios.Load, progress func(bench.Progress), measureFrom <-chan time.Time) (*bench.Result, error) {
	o := bench.Options{Load: l, SourceAddrs: g.SourceAddrs, Progress: progress, MeasureFrom: measureFrom}
	return bench.RunShards(ctx, bench.Target{URL: url}, o, g.N, g.Command)
}

// Describe implements Generator.
func (g Shards) Describe() string { return fmt.Sprintf(" from %d generator processes", g.N) }
