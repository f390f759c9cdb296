// Package inprocess generates the load in the calling process: the
// default generator, and the only one that drives a stepped run.
package inprocess

import (
	"context"

	"github.com/loadcheck/loadcheck/bench"
)

// Generator generates the load in this process. It raises the process's
// nofile soft limit to what the load needs, and fails before any traffic
// when the hard limit is too low (*bench.LimitError).
type Generator struct {
	// SourceAddrs spreads connections to a loopback target over this many
	// source addresses from 127.0.0.2 (0: as many as ephemeral ports need).
	SourceAddrs int
}

// Generate implements generator.Generator.
func (g Generator) Generate(ctx context.Context, url string, o bench.Options) (*bench.Result, error) {
	if err := bench.RaiseNofile(o.Connections); err != nil {
		return nil, err
	}
	o.SourceAddrs = g.SourceAddrs
	return bench.Run(ctx, bench.Target{URL: url}, o)
}

// Describe implements generator.Generator.
func (Generator) Describe() string { return "" }
