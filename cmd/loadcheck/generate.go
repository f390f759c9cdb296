package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/scenarios"
)

// shardCommand is the hidden subcommand a shard process runs.
const shardCommand = "__shard"

// generator decides how the load is generated: in this process, or split
// over shard processes when one process may not hold every socket.
type generator struct {
	shards      int
	sourceAddrs int
	exe         string
}

func newGenerator(f *runFlags) (*generator, error) {
	g := &generator{shards: f.shards, sourceAddrs: f.sourceAddr}
	n := f.load.Connections
	if g.shards == 0 {
		hard, err := bench.HardNofile()
		if err != nil {
			return nil, err
		}
		g.shards = bench.ShardsFor(n, hard)
		if f.noShard {
			g.shards = 1
		}
	}
	if g.shards > n {
		return nil, &usageError{fmt.Sprintf("--shards %d is more than the %d connections", g.shards, n)}
	}
	if g.shards == 1 {
		// Fail before any traffic when this process cannot hold n sockets.
		if err := bench.RaiseNofile(n); err != nil {
			var le *bench.LimitError
			if errors.As(err, &le) {
				return nil, &usageError{err.Error()}
			}
			return nil, err
		}
		return g, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find loadcheck's own binary to start shards: %w", err)
	}
	g.exe = exe
	return g, nil
}

func (g *generator) describe() string {
	if g.shards > 1 {
		return fmt.Sprintf(" from %d generator processes", g.shards)
	}
	return ""
}

func benchOptions(l scenarios.Load, sourceAddrs int) (bench.Options, error) {
	o := bench.Options{
		Connections: l.Connections, Ramp: l.Ramp, ConnectRate: l.ConnectRate, WarmUp: l.WarmUp, Duration: l.Duration,
		RatePerConn: l.RatePerConn, ClosedLoop: l.ClosedLoop, Timeout: l.Timeout,
		Method: l.Method, Paths: l.Paths, Body: []byte(l.Body), SourceAddrs: sourceAddrs,
	}
	for _, h := range l.Headers {
		hd, err := bench.ParseHeader(h)
		if err != nil {
			return o, err
		}
		o.Headers = append(o.Headers, hd)
	}
	return o, nil
}

func (g *generator) run(ctx context.Context, url string, l scenarios.Load, p *progress) (*bench.Result, error) {
	o, err := benchOptions(l, g.sourceAddrs)
	if err != nil {
		return nil, err
	}
	o.Progress = p.update
	t := bench.Target{URL: url}
	if g.shards == 1 {
		return bench.Run(ctx, t, o)
	}
	return bench.RunShards(ctx, t, o, g.shards, func(ctx context.Context) *exec.Cmd {
		return exec.CommandContext(ctx, g.exe, shardCommand)
	})
}
