package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/loadcheck/loadcheck/containers"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

// probeOverhead is what a probe costs besides its ramp, warm-up and
// window: starting httpd, closing connections, removing the container.
const probeOverhead = 15 * time.Second

func cmdCapacity(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	var b scenarios.Capacity
	var noConfirm bool
	var hostMem string
	f, err := parseRunFlags(args, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&b.Start, "start", 0, "first connection count probed (default: the scenario's capacity.start)")
		fs.IntVar(&b.Max, "max", 0, "largest connection count probed (default: the scenario's capacity.max)")
		fs.Float64Var(&b.PrecisionPct, "precision", 0, "stop bisecting when the step is within this `percent` (default: capacity.precision_pct)")
		fs.DurationVar(&b.Budget, "budget", 0, "time budget for the whole search and the confirming runs (default: capacity.budget)")
		fs.StringVar(&hostMem, "host-memory", "", "project for a host with this much memory for httpd, e.g. 8g (default: capacity.host_memory)")
		fs.BoolVar(&noConfirm, "no-confirm", false, "suggest directives but do not verify them with a confirming run")
		fs.Usage = func() {
			fmt.Fprint(stderr, `Usage: loadcheck capacity SCENARIO.yaml [flags]

Finds, for each config of the scenario, the largest connection count that
still meets its thresholds: it doubles from capacity.start up to
capacity.max while probes pass, then bisects to capacity.precision_pct. Every
probe is a real run against a fresh container. From the probes it derives
memory per connection (slope of container memory against connections held),
CPU per request and time to capacity, projects what a host with
capacity.host_memory holds, and, where a directive is the limit, suggests
values for the scenario's connection target and verifies them with one
confirming run. The run folder gets capacity.json and capacity.html.

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
		return exitSetup, err
	}
	if f.spec == nil {
		return exitSetup, &usageError{"loadcheck capacity needs a scenario file, for example scenarios/capacity.yaml"}
	}
	if f.target != "" {
		return exitSetup, &usageError{"capacity starts a fresh container per probe and cannot be used with --target"}
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
	if hostMem != "" {
		n, err := units.RAMInBytes(hostMem)
		if err != nil || n <= 0 {
			return exitSetup, &usageError{fmt.Sprintf("--host-memory: want a size such as 8g, got %q", hostMem)}
		}
		bounds.HostMemory = scenarios.ByteSize(n)
	}
	if err := bounds.Validate(); err != nil {
		return exitSetup, &usageError{"capacity: " + err.Error()}
	}
	sc, err := f.scenario()
	if err != nil {
		return exitSetup, err
	}
	target := sc.Load.Connections
	sized := *f
	sized.load.Connections = max(bounds.Max, target)
	gen, err := newGenerator(&sized)
	if err != nil {
		return exitSetup, err
	}
	var img containers.ImageInfo
	if sc.Image, img, err = chooseImage(ctx, f.image, f.layout); err != nil {
		return exitSetup, err
	}
	sc.Layout = img.Layout.Name
	runID := f.runID
	if runID == "" {
		runID = newRunID()
	}
	out := &results.CapacityFile{Schema: results.CapacitySchema, RunID: runID, StartedAt: time.Now().UTC(),
		Scenario: sc, ScenarioFile: f.spec.Path, Search: bounds, Environment: environment()}
	dir, err := results.CreateRunDir(f.resultsDir, runID)
	if err != nil {
		return exitSetup, err
	}
	save := func() error {
		out.ElapsedS = time.Since(out.StartedAt).Seconds()
		return out.WriteJSON(filepath.Join(dir, results.CapacityResultFile))
	}
	if err := save(); err != nil {
		return exitSetup, err
	}
	p := newProgress(stderr, f.quiet)
	p.logf("capacity run %s%s: storing results in %s; budget %s", runID, aboutScenario(sc), dir, bounds.Budget)
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if removed, err := containers.CleanRun(cctx, runID); err != nil || len(removed) > 0 {
			p.logf("removed leftover containers %v (%v)", removed, err)
		}
	}()

	start := time.Now()
	cost := func(n int) time.Duration {
		l := sc.Load
		l.Connections = n
		return l.MeasureStart() + l.Duration + probeOverhead
	}
	afford := func(n int) bool { return time.Since(start)+cost(n) <= bounds.Budget }
	probeAt := func(cfg scenarios.Config, n int, label string) (results.Run, error) {
		psc := sc
		psc.Load.Connections = n
		p.config = fmt.Sprintf("[%s %d conns]", label, n)
		return runContainer(ctx, gen, psc, img, cfg, runID, p)
	}
	for i, cfg := range sc.Configs {
		if ctx.Err() != nil {
			break
		}
		label := fmt.Sprintf("%d/%d %s", i+1, len(sc.Configs), cfg.Name)
		cc := results.Search(ctx, cfg, bounds, sc.Thresholds, func(ctx context.Context, n int) (results.Run, error) {
			return probeAt(cfg, n, label)
		}, afford, func(pr results.Probe) {
			p.clear()
			p.logf("[%s] %d connections: %s %s (%s of %s used)", label, pr.Connections, pr.Outcome, pr.Reason, time.Since(start).Round(time.Second), bounds.Budget)
		})
		cc.Costs()
		cpus := cfg.CPUs
		if cpus == 0 {
			cpus = float64(runtime.NumCPU())
		}
		rate := sc.Load.RatePerConn
		cc.Project(int64(bounds.HostMemory), cpus, rate)
		out.Configs = append(out.Configs, cc)
		if err := save(); err != nil {
			return exitSetup, err
		}
	}
	// Suggestions, each checked by one run at the target.
	confirm := func(base scenarios.Config, s *results.Suggestion, suffix string) {
		cfg := base
		cfg.Directives = append([]scenarios.Directive{}, base.Directives...)
		for _, d := range s.Directives {
			cfg.Set(d)
		}
		cfg.Name = base.Name + suffix
		var bad []string
		for _, fd := range cfg.Check(target) {
			if fd.Error {
				bad = append(bad, fd.Msg)
			}
		}
		switch {
		case len(bad) > 0:
			s.Note = "not run: the suggestion contradicts itself: " + strings.Join(bad, "; ")
		case noConfirm:
			s.Note = "not run (--no-confirm)"
		case ctx.Err() != nil:
			s.Note = "not run: interrupted"
		case !afford(target):
			s.Note = "not run: the time budget ran out"
		default:
			run, err := probeAt(cfg, target, cfg.Name)
			p.clear()
			if err != nil {
				run = results.Run{Config: cfg.Name, MPM: cfg.MPM, Error: err.Error()}
			}
			results.Judge(&run, sc.Thresholds)
			s.Confirm, s.Verdict = &run, run.Verdict
			p.logf("[%s] confirming run at %d connections: %s", cfg.Name, target, strings.ToUpper(run.Verdict))
		}
	}
	for i := range out.Configs {
		cc := &out.Configs[i]
		s := cc.Suggest(target)
		if s == nil {
			continue
		}
		cc.Suggestion = s
		confirm(cc.Config, s, "-suggested")
		out.ExplainFailure(cc)
		if fb := cc.SuggestFallback(); fb != nil {
			s.Fallback = fb
			confirm(cc.Config, fb, "-roomier")
		}
		if err := save(); err != nil {
			return exitSetup, err
		}
	}
	out.Complete = ctx.Err() == nil && len(out.Configs) == len(sc.Configs)
	for _, c := range out.Configs {
		out.Complete = out.Complete && c.Unfinished == ""
	}
	if err := save(); err != nil {
		return exitSetup, err
	}
	html := filepath.Join(dir, "capacity.html")
	if err := writeOut(html, stdout, func(w io.Writer) error { return results.RenderCapacity(w, out, "html") }); err != nil {
		return exitSetup, err
	}
	p.clear()
	if err := results.RenderCapacity(stdout, out, "table"); err != nil {
		return exitSetup, err
	}
	p.logf("stored %s (capacity.json, capacity.html; `loadcheck report %s --format markdown` re-renders it)", dir, dir)
	switch {
	case ctx.Err() != nil:
		return exitInterrupted, nil
	case !out.Complete:
		return exitFail, nil
	}
	return exitPass, nil
}
