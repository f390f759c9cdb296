package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	units "github.com/docker/go-units"
	"github.com/loadcheck/loadcheck"
	"github.com/loadcheck/loadcheck/report"
	"github.com/loadcheck/loadcheck/scenarios"
)

// cmdCapacity is `loadcheck capacity`: where each config breaks.
func cmdCapacity(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	f, bounds, noConfirm, err := parseCapacityFlags(args, stderr)
	if err != nil {
		return exitSetup, err
	}
	sc, err := f.scenario()
	if err != nil {
		return exitSetup, err
	}
	if f.generator == "swarm" || f.generator == "kubernetes" {
		return exitSetup, &usageError{fmt.Sprintf("capacity generates its load on this host: its stepped run lets connections in step by step from one process; drop --generator %s (or the scenario's generator.fleet)", f.generator)}
	}
	sized := *f
	sized.load.Connections = max(bounds.Max, sc.Load.Connections)
	gen, err := newGenerator(ctx, &sized)
	if err != nil {
		return exitSetup, err
	}
	prov, err := f.provider(ctx, sc, stderr)
	if err != nil {
		return exitSetup, err
	}
	p := newProgress(stderr, f.quiet)
	opts := append(f.options(p), loadcheck.WithProvider(prov), loadcheck.WithGenerator(gen))
	if noConfirm {
		opts = append(opts, loadcheck.WithoutConfirm())
	}
	out, err := loadcheck.Capacity(ctx, sc, bounds, opts...)
	p.clear()
	if out == nil || (err != nil && ctx.Err() == nil) {
		return exitSetup, err
	}
	if err := report.RenderCapacity(stdout, out, "table"); err != nil {
		return exitSetup, err
	}
	switch {
	case ctx.Err() != nil:
		return exitInterrupted, nil
	case !out.Complete:
		return exitFail, nil
	}
	return exitPass, nil
}

// parseCapacityFlags is run's flags plus capacity's own, with the search
// bounds of the scenario file overridden by the flags given.
func parseCapacityFlags(args []string, stderr io.Writer) (f *runFlags, bounds scenarios.Capacity, noConfirm bool, err error) {
	var b scenarios.Capacity
	var hostMem string
	f, err = parseRunFlags(args, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&b.Start, "start", 0, "first connection count probed (default: the scenario's capacity.start)")
		fs.IntVar(&b.Max, "max", 0, "largest connection count probed (default: the scenario's capacity.max)")
		fs.Float64Var(&b.PrecisionPct, "precision", 0, "stop bisecting when the step is within this `percent` (default: capacity.precision_pct)")
		fs.DurationVar(&b.Budget, "budget", 0, "time budget for the whole search and the confirming runs (default: capacity.budget)")
		fs.StringVar(&hostMem, "host-memory", "", "project for a host with this much memory for httpd, e.g. 8g (default: capacity.host_memory)")
		fs.StringVar(&b.Search, "search", "", "how each search begins: stepped (one run adding connections in steps finds the knee, then probes around it) or bisect (probes only, doubling then bisecting) (default: capacity.search, else stepped)")
		fs.BoolVar(&b.RepeatLimit, "repeat-limit", false, "probe the limit found once more; when that fails, the next lower pass is reported (default: capacity.repeat_limit)")
		fs.BoolVar(&b.OneAtATime, "one-at-a-time", false, "search every config alone; without it, configs whose directives cap them at 1000 connections and requests/s together are searched side by side, each against its own server (default: capacity.one_at_a_time)")
		fs.IntVar(&b.StepFactor, "step-factor", 0, "each step of the stepped run this many `times` the last, 2 to 16 (default: capacity.step_factor, else 2)")
		fs.StringVar(&b.Arrival, "arrival", "", "which limits are probed again with connections arriving twice as fast, by `mode`: always, near_target (within half the target of it; farther above, the target is probed instead) or never (default: capacity.arrival, else always)")
		fs.BoolVar(&noConfirm, "no-confirm", false, "suggest directives but do not verify them with a confirming run")
		fs.Usage = func() { // to fs's output: the scenario probe's goes nowhere
			fmt.Fprint(fs.Output(), `Usage: loadcheck capacity SCENARIO.yaml [flags]

Finds, for each config of the scenario, the largest connection count that
still meets its thresholds. First one stepped run against a fresh container
adds connections in steps (from capacity.start up to capacity.max, each
--step-factor times the last: doubling unless set), each step judged once it
settles; the connections answered at the first step not held are the knee.
Then probes confirm it: one at the knee, then in strides that double from
one precision step (capacity.precision_pct), up while they pass, down while
they fail (not below the last step held), until a pass and a fail bracket
the limit; then it bisects (--repeat-limit probes the limit found once
more), and probes the limit with connections arriving twice as fast
(--arrival near_target: only limits within half the target of it; one
farther above, not set by its directives, gets the target itself probed on a
fresh server instead). --search bisect uses probes only: doubling from
capacity.start while probes pass, then bisecting. Every probe is a real run
against a fresh container; configs whose directives cap them at 1000
connections and requests per second together (the stock presets) are
searched side by side, each against its own container (--one-at-a-time: each
alone). From the probes it derives memory per connection (slope of container
memory against connections held), CPU per request and time to capacity,
projects what a host with capacity.host_memory holds, and, where a directive
is the limit, suggests values for the scenario's connection target and
verifies them with one confirming run. The run folder gets capacity.json and
capacity.html.

Exit 0 every search finished, 1 a search stopped early (time budget, a
client limit or a setup error: the report says which), 2 bad input, 130
interrupted. Run flags (load, --configs, --set, --memory, --cpus, image)
apply as for "loadcheck run".

Flags:
`)
			fs.PrintDefaults()
		}
	})
	if err != nil {
		return nil, bounds, false, err
	}
	if f.spec == nil {
		return nil, bounds, false, &usageError{"loadcheck capacity needs a scenario file, for example scenarios/capacity.yaml"}
	}
	if f.target != "" {
		return nil, bounds, false, &usageError{"capacity starts a fresh container per probe and cannot be used with --target"}
	}
	if f.set["repeat"] || f.flakyOK || f.arrivalCheck {
		return nil, bounds, false, &usageError{"--repeat, --flaky-ok and --arrival-check apply to loadcheck run; capacity confirms a failing count by running it again itself, and probes each limit with connections arriving twice as fast"}
	}
	bounds, set := f.spec.Capacity, f.set
	if set["start"] {
		bounds.Start = b.Start
	}
	if set["max"] {
		bounds.Max = b.Max
	}
	if set["precision"] {
		bounds.PrecisionPct = b.PrecisionPct
	}
	if set["budget"] {
		bounds.Budget = b.Budget
	}
	if set["search"] {
		bounds.Search = b.Search
	}
	if set["repeat-limit"] {
		bounds.RepeatLimit = b.RepeatLimit
	}
	if set["one-at-a-time"] {
		bounds.OneAtATime = b.OneAtATime
	}
	if set["step-factor"] {
		bounds.StepFactor = b.StepFactor
	}
	if set["arrival"] {
		bounds.Arrival = b.Arrival
	}
	if hostMem != "" {
		n, err := units.RAMInBytes(hostMem)
		if err != nil || n <= 0 {
			return nil, bounds, false, &usageError{fmt.Sprintf("--host-memory: want a size such as 8g, got %q", hostMem)}
		}
		bounds.HostMemory = scenarios.ByteSize(n)
	}
	if err := bounds.Validate(); err != nil {
		return nil, bounds, false, &usageError{"capacity: " + err.Error()}
	}
	return f, bounds, noConfirm, nil
}
