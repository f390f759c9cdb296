package generator

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/generator/inprocess"
	"github.com/loadcheck/loadcheck/generator/shards"
)

// TestChoose: the one chooser, as the CLI and a library caller reach it,
// for every choice that needs no engine or cluster: what it picks, what
// it refuses as the user's fault, and what it fixes in the load.
func TestChoose(t *testing.T) {
	cmd := func(ctx context.Context) *exec.Cmd { return exec.CommandContext(ctx, "true") }
	auto := bench.Load{Connections: 100, WarmUp: bench.WarmUpAuto}
	cases := []struct {
		name   string
		c      Choice
		l      bench.Load
		want   Generator
		usage  string // a *UsageError containing this
		err    string // another error containing this
		warmUp time.Duration
	}{
		{name: "local default", c: Choice{SourceAddrs: 2}, l: auto, want: inprocess.Generator{SourceAddrs: 2}, warmUp: bench.WarmUpAuto},
		{name: "local by name, no shard", c: Choice{Fleet: "local", NoShard: true}, l: auto, want: inprocess.Generator{}, warmUp: bench.WarmUpAuto},
		{name: "three shards", c: Choice{Shards: 3, ShardCommand: cmd}, l: auto, want: shards.Generator{N: 3}, warmUp: bench.WarmUpAuto},
		{name: "shards without a command", c: Choice{Shards: 3}, l: auto, err: "Choice.ShardCommand"},
		{name: "more shards than connections", c: Choice{Shards: 101, ShardCommand: cmd}, l: auto, usage: "--shards 101 is more than the 100 connections"},
		{name: "unknown fleet", c: Choice{Fleet: "mesos"}, l: auto, usage: `--generator "mesos": choose local, swarm or kubernetes`},
		{name: "fleet without shards", c: Choice{Fleet: "swarm", RunID: "r"}, l: auto, usage: "give --shards N"},
		{name: "fleet, shards above connections", c: Choice{Fleet: "kubernetes", Shards: 200, RunID: "r"}, l: auto, usage: "--shards 200 is more than the 100 connections"},
		{name: "fleet with an auto warm-up asked for", c: Choice{Fleet: "swarm", Shards: 2, RunID: "r", WarmUpGiven: true}, l: auto, usage: "needs a fixed --warmup"},
		{name: "fleet without a run ID", c: Choice{Fleet: "swarm", Shards: 2}, l: auto, err: "no run ID", warmUp: FleetWarmUp},
		{name: "kubernetes without a target", c: Choice{Fleet: "kubernetes", Shards: 2, RunID: "r"}, l: auto, usage: "give --target URL", warmUp: FleetWarmUp},
		{name: "kubernetes without an image", c: Choice{Fleet: "kubernetes", Shards: 2, RunID: "r", Target: "http://10.0.0.1/"}, l: auto, usage: "give --generator-image", warmUp: FleetWarmUp},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.l
			g, err := Choose(context.Background(), tc.c, &l)
			var ue *UsageError
			switch {
			case tc.usage != "":
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.usage) {
					t.Fatalf("Choose: %v, want a usage error with %q", err, tc.usage)
				}
			case tc.err != "":
				if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Choose: %v, want an error (not a usage one) with %q", err, tc.err)
				}
			case err != nil:
				t.Fatalf("Choose: %v", err)
			}
			if tc.want != nil {
				// The command is a func: compare what can be.
				if sh, ok := g.(shards.Generator); ok {
					if sh.Command == nil {
						t.Error("the shards got no command")
					}
					sh.Command = nil
					g = sh
				}
				if fmt.Sprintf("%#v", g) != fmt.Sprintf("%#v", tc.want) {
					t.Errorf("Choose gave %#v, want %#v", g, tc.want)
				}
			}
			if tc.warmUp != 0 && l.WarmUp != tc.warmUp {
				t.Errorf("warm-up %v after Choose, want %v", l.WarmUp, tc.warmUp)
			}
		})
	}
}

// A generator of several processes refuses a stepped run before any
// traffic: its steps are judged in one process.
func TestShardsRefuseSteps(t *testing.T) {
	g := shards.Generator{N: 2, Command: func(ctx context.Context) *exec.Cmd { t.Fatal("a shard was started"); return nil }}
	_, err := g.Generate(context.Background(), "http://127.0.0.1:1/", bench.Options{Load: bench.Load{Connections: 4}, Steps: make(chan int)})
	if err == nil || !strings.Contains(err.Error(), "stepped run needs one generator process") {
		t.Errorf("Generate with steps: %v", err)
	}
}
