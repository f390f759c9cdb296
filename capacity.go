package loadcheck

import (
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/capacity"
	"github.com/loadcheck/loadcheck/report"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

// probeOverhead is what a probe costs besides its ramp, warm-up and
// window: starting httpd, closing connections, removing the container.
const probeOverhead = 15 * time.Second

// OnProbe is called with each capacity probe's outcome as soon as it is
// judged.
func OnProbe(f func(config string, p capacity.Probe)) Option {
	return func(s *settings) { s.onProbe = f }
}

// WithoutConfirm makes Capacity suggest directives without verifying them
// with a confirming run.
func WithoutConfirm() Option { return func(s *settings) { s.noConfirm = true } }

// capacityRun is one capacity search in progress.
type capacityRun struct {
	*settings
	sc     scenarios.Scenario
	bounds scenarios.Capacity
	out    *capacity.File
	began  time.Time
}

// Capacity finds, for each config of sc, the largest connection count that
// still meets sc.Thresholds: it doubles from bounds.Start up to bounds.Max
// while probes pass, then bisects to bounds.PrecisionPct, within
// bounds.Budget. Every probe is a real run against a fresh server. From
// the probes it derives memory per connection, CPU per request and time to
// capacity, projects a host of bounds.HostMemory, and where a directive is
// the limit suggests values for sc's connection target and verifies them
// with one confirming run each. With WithStore the folder gets
// capacity.json (rewritten after each config) and capacity.html.
//
// As with Run, only a failed setup or the end of ctx is an error; a search
// stopped by its budget or a client limit is marked in the file.
func Capacity(ctx context.Context, sc scenarios.Scenario, bounds scenarios.Capacity, opts ...Option) (*capacity.File, error) {
	s := newSettings(opts)
	if err := bounds.Validate(); err != nil {
		return nil, fmt.Errorf("capacity: %w", err)
	}
	sc, h, folder, err := s.begin(ctx, sc, capacity.Schema)
	if err != nil {
		return nil, err
	}
	defer s.cleanRun(h.RunID) // from here on: containers removed, CPUs given back, whatever happens
	c := &capacityRun{settings: s, sc: sc, bounds: bounds, began: time.Now()}
	c.out = &capacity.File{Header: h, Search: bounds}
	save := func() error {
		c.out.ElapsedS = time.Since(c.out.StartedAt).Seconds()
		return folder.save(c.out)
	}
	if err := save(); err != nil {
		return nil, err
	}
	s.logf("capacity run %s%s: %s; budget %s", c.out.RunID, AboutScenario(sc), folder.where(), bounds.Budget)
	if err := c.searchAll(ctx, save); err != nil {
		return c.out, err
	}
	for i := range c.out.Configs {
		c.suggest(ctx, &c.out.Configs[i])
		if err := save(); err != nil {
			return c.out, err
		}
	}
	c.out.Complete = ctx.Err() == nil && len(c.out.Configs) == len(sc.Configs)
	for _, cc := range c.out.Configs {
		c.out.Complete = c.out.Complete && cc.Unfinished == ""
	}
	c.out.Planner = c.out.Answer() // capacity.json says what the report's first screen says
	if err := save(); err != nil {
		return c.out, err
	}
	if err := folder.finish("capacity.html", func(w io.Writer) error { return report.RenderCapacity(w, c.out, "html") }); err != nil {
		return c.out, err
	}
	if folder.dir != "" {
		s.logf("stored %s (capacity.json, capacity.html; `loadcheck report %s --format markdown` re-renders it)", folder.dir, folder.dir)
	}
	return c.out, ctx.Err()
}

// searchAll searches every config: first those small enough to search
// side by side (sideBySide), at once, then the others one after the
// other; c.out.Configs keeps the scenario's order, and save runs after
// each config.
func (c *capacityRun) searchAll(ctx context.Context, save func() error) error {
	cfgs := c.sc.Configs
	done := make([]*capacity.ConfigResult, len(cfgs))
	var mu sync.Mutex
	var saveErr error
	finished := func(i int, cc capacity.ConfigResult) {
		mu.Lock()
		defer mu.Unlock()
		done[i] = &cc
		c.out.Configs = c.out.Configs[:0]
		for _, d := range done {
			if d != nil {
				c.out.Configs = append(c.out.Configs, *d)
			}
		}
		if err := save(); err != nil && saveErr == nil {
			saveErr = err
		}
	}
	label := func(i int) string { return fmt.Sprintf("%d/%d %s", i+1, len(cfgs), cfgs[i].Name) }
	together, names, conns := c.sideBySide()
	if len(together) > 1 {
		c.logf("searching %s side by side: their directives cap them at %d connections together (%g req/s each), each against its own server; one_at_a_time: true (--one-at-a-time) searches each alone",
			strings.Join(names, ", "), conns, c.sc.Load.RatePerConn)
		var wg sync.WaitGroup
		for _, i := range together {
			wg.Go(func() {
				b := c.bounds
				limit, _ := cfgs[i].DirectiveLimit()
				b.Max = min(b.Max, 2*limit)
				cc := c.search(ctx, cfgs[i], label(i), b)
				cc.SideBySide = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == cfgs[i].Name })
				if cc.Unfinished == "" && cc.FirstFail == 0 && cc.MaxPass >= b.Max && b.Max < c.bounds.Max {
					cc.Unfinished = fmt.Sprintf("held %d connections, twice its directive limit (%d), as far as a search side by side goes: search it alone (one_at_a_time: true, --one-at-a-time)", cc.MaxPass, limit)
				}
				finished(i, cc)
			})
		}
		wg.Wait()
	}
	for i, cfg := range cfgs {
		if ctx.Err() != nil || saveErr != nil {
			break
		}
		if done[i] == nil {
			finished(i, c.search(ctx, cfg, label(i), c.bounds))
		}
	}
	return saveErr
}

// sideBySide picks the configs to search at once, in the scenario's
// order, their names, and the connections their directives allow
// together: those whose directives cap them (a limit below the search's
// max), as long as their limits together stay within
// scenarios.SideBySideConns connections and requests per second. None
// in closed loop (no rate: every connection as fast as the server
// answers), with one_at_a_time, or with fewer than two.
func (c *capacityRun) sideBySide() (idx []int, names []string, conns int) {
	rate := c.sc.Load.RatePerConn
	if c.bounds.OneAtATime || rate <= 0 {
		return nil, nil, 0
	}
	for i, cfg := range c.sc.Configs {
		limit, _ := cfg.DirectiveLimit()
		if limit <= 0 || limit >= c.bounds.Max {
			continue
		}
		if n := conns + limit; float64(n) <= scenarios.SideBySideConns && float64(n)*rate <= scenarios.SideBySideConns {
			conns = n
			idx, names = append(idx, i), append(names, cfg.Name)
		}
	}
	if len(idx) < 2 {
		return nil, nil, 0
	}
	return idx, names, conns
}

// afford reports whether a probe at n connections fits in the budget left.
func (c *capacityRun) afford(n int) bool {
	l := c.sc.Load
	l.Connections = n
	return time.Since(c.began)+l.MeasureStart()+l.Duration+probeOverhead <= c.bounds.Budget
}

// probe is one real run of cfg at n connections against a fresh server.
func (c *capacityRun) probe(ctx context.Context, cfg apache.Config, n int, label string) (results.Run, error) {
	sc := c.sc
	sc.Load.Connections = n
	return c.runOnce(ctx, sc, cfg, c.out.RunID, fmt.Sprintf("[%s %d conns]", label, n))
}

// search finds cfg's break point within b, then its costs and
// projection.
func (c *capacityRun) search(ctx context.Context, cfg apache.Config, label string, b scenarios.Capacity) capacity.ConfigResult {
	var stepped *capacity.Stepped
	if b.Search != scenarios.SearchBisect {
		if stepped = c.stepped(ctx, cfg, "["+label+"]", b); stepped.Error != "" {
			c.logf("[%s] no stepped run (%s): searching from %d", label, stepped.Error, b.Start)
		}
	}
	cc := capacity.SearchFrom(ctx, cfg, b, c.sc.Thresholds, stepped, func(ctx context.Context, n int) (results.Run, error) {
		return c.probe(ctx, cfg, n, label)
	}, c.afford, func(pr capacity.Probe) {
		c.logf("[%s] %d connections: %s %s (%s of %s used)", label, pr.Connections, pr.Outcome, pr.Reason, time.Since(c.began).Round(time.Second), c.bounds.Budget)
		if c.onProbe != nil {
			c.onProbe(cfg.Name, pr)
		}
	})
	c.checkArrival(ctx, cfg, &cc, label)
	c.checkTarget(ctx, cfg, &cc, label)
	cc.Costs()
	cpus := cfg.CPUs
	if cpus == 0 {
		cpus = float64(runtime.NumCPU())
	}
	cc.Project(int64(c.bounds.HostMemory), cpus, c.sc.Load.RatePerConn)
	return cc
}

// suggest adds cc's suggestion for the target, each checked by one run.
func (c *capacityRun) suggest(ctx context.Context, cc *capacity.ConfigResult) {
	s := cc.Suggest(c.sc.Load.Connections)
	if s == nil {
		return
	}
	cc.Suggestion = s
	c.confirm(ctx, cc.Config, s, "-suggested")
	c.out.ExplainFailure(cc)
	if fb := cc.SuggestFallback(); fb != nil {
		s.Fallback = fb
		c.confirm(ctx, cc.Config, fb, "-roomier")
	}
}

// confirm runs base with s's directives once at the target and records the
// verdict in s, or says why it did not run.
func (c *capacityRun) confirm(ctx context.Context, base apache.Config, s *capacity.Suggestion, suffix string) {
	target := c.sc.Load.Connections
	cfg := base
	cfg.Directives = append([]apache.Directive{}, base.Directives...)
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
	case c.noConfirm:
		s.Note = "not run (--no-confirm)"
	case ctx.Err() != nil:
		s.Note = "not run: interrupted"
	case !c.afford(target):
		s.Note = "not run: the time budget ran out"
	default:
		sc := c.sc
		sc.Load.Connections = target
		run := c.judged(ctx, sc, cfg, fmt.Sprintf("[%s %d conns]", cfg.Name, target))
		s.Confirm, s.Verdict = &run, run.Verdict
		c.logf("[%s] confirming run at %d connections: %s", cfg.Name, target, strings.ToUpper(run.Verdict))
	}
}

// judged runs sc once against cfg on a fresh server and judges it by the
// scenario's thresholds; a run that could not start carries its error.
func (c *capacityRun) judged(ctx context.Context, sc scenarios.Scenario, cfg apache.Config, label string) results.Run {
	run, err := c.runOnce(ctx, sc, cfg, c.out.RunID, label)
	if err != nil {
		run = results.Run{Config: cfg.Name, MPM: cfg.MPM, Error: err.Error()}
	}
	results.Judge(&run, c.sc.Thresholds)
	return run
}

// checkTarget probes the scenario's target on a fresh server when the
// limit found lies far above it (scenarios.Capacity.ProbeTarget) and the
// budget allows: the card for the target rests on that run.
func (c *capacityRun) checkTarget(ctx context.Context, cfg apache.Config, cc *capacity.ConfigResult, label string) {
	target := c.sc.Load.Connections
	limit, _ := cfg.DirectiveLimit()
	if !c.bounds.ProbeTarget(cc.MaxPass, target, limit) || cc.Unfinished != "" || ctx.Err() != nil || !c.afford(target) {
		return
	}
	sc := c.sc
	sc.Load.Connections = target
	run := c.judged(ctx, sc, cfg, fmt.Sprintf("[%s %d conns, the target]", label, target))
	p := capacity.Judged(target, run, cfg, c.sc.Thresholds)
	cc.AtTarget = &p
	c.logf("[%s] %s", label, cc.TargetNote())
}

// checkArrival records how fast connections arrived at the limit found,
// and probes the limit once more with them arriving twice as fast (half
// the ramp, or twice the connect rate), when the budget and the search's
// arrival setting allow: a config whose limit moves with the arrival says
// so (ConfigResult.ArrivalNote).
func (c *capacityRun) checkArrival(ctx context.Context, cfg apache.Config, cc *capacity.ConfigResult, label string) {
	n := cc.MaxPass
	l := c.sc.Load
	l.Connections = n
	ramp := l.RampTime()
	if n == 0 || ramp <= 0 {
		return
	}
	cc.ArrivalPerS = math.Round(float64(n)/ramp.Seconds()*10) / 10
	if cc.Unfinished != "" || ctx.Err() != nil || !c.afford(n) {
		return
	}
	if ok, why := c.bounds.ProbeArrival(n, c.sc.Load.Connections); !ok {
		cc.ArrivalSkipped = why
		c.logf("[%s] %s", label, cc.ArrivalNote())
		return
	}
	sc := c.sc
	sc.Load.Connections = n
	if sc.Load.ConnectRate > 0 {
		sc.Load.ConnectRate *= 2
	} else {
		sc.Load.Ramp /= 2
	}
	run := c.judged(ctx, sc, cfg, fmt.Sprintf("[%s %d conns, arriving twice as fast]", label, n))
	p := capacity.Judged(n, run, cfg, c.sc.Thresholds)
	faster := sc.Load.RampTime()
	cc.Arrival = &capacity.ArrivalCheck{PerS: math.Round(float64(n)/faster.Seconds()*10) / 10, RampS: faster.Seconds(), Probe: p}
	c.logf("[%s] %s", label, cc.ArrivalNote())
}
