package loadcheck

import (
	"context"
	"fmt"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/capacity"
	"github.com/loadcheck/loadcheck/scenarios"
	"github.com/loadcheck/loadcheck/settle"
)

// maxStepSettle caps how long one step of a stepped run may take to
// settle; a step that has not by then is not held.
const maxStepSettle = 30 * time.Second

// stepped runs cfg once against a fresh server, adding connections in
// steps from the search's start, each judged on its own (capacity.Stepped),
// for the search to start from. It starts like every run (start) and goes
// through the run's generator, which must be one process (the
// inprocess generator): a maximum more than one process can open gets no
// stepped run (Error says so).
func (c *capacityRun) stepped(ctx context.Context, cfg apache.Config, label string, b scenarios.Capacity) *capacity.Stepped {
	began := time.Now()
	l := c.sc.Load
	l.Connections = b.Max
	counts := capacity.Steps(b.Start, b.Max, b.Steps())
	stepCap := maxStepSettle
	if l.WarmUp == bench.WarmUpAuto {
		stepCap = min(stepCap, l.WarmUpLimit())
	}
	// One long warm-up that the steps live in; the run ends when they do.
	l.WarmUp, l.WarmUpMax = time.Duration(len(counts))*(stepCap+l.Ramp), 0
	fail := func(err error) *capacity.Stepped {
		return &capacity.Stepped{Error: err.Error(), ElapsedS: time.Since(began).Seconds()}
	}
	sc := c.sc
	sc.Load = l
	r, err := c.start(ctx, sc, cfg, c.out.RunID, label)
	if err != nil {
		return fail(err)
	}
	defer r.stop()
	defer r.session.Stop()
	l, session := r.load, r.session
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int, 1)
	s := &settle.Stepper{Counts: counts, Rate: l.RatePerConn, Cap: stepCap, Latest: session.Latest, Next: next, Done: cancel,
		Log: func(step capacity.Step) {
			verdict := "held"
			if !step.Held {
				verdict = fmt.Sprintf("NOT held, %d answered", step.Answered)
			}
			c.logf("%s stepped run, %d connections: %s after %.1f s (%s)", label, step.Connections, verdict, step.AfterS, step.Why)
		}}
	c.logf("%s stepped run: %v connections, each step until it settles (at most %s)", label, counts, stepCap)
	s.Begin(time.Now())
	_, err = c.generator.Generate(runCtx, r.ep.URL, bench.Options{Load: l, Steps: next,
		Progress: func(p bench.Progress) { s.Tick(p, time.Now()) }})
	out := s.Result()
	out.ElapsedS = time.Since(began).Round(100 * time.Millisecond).Seconds()
	switch {
	case err != nil:
		out.Error, out.Knee = err.Error(), 0
	case ctx.Err() != nil:
		out.Error, out.Knee = "interrupted", 0
	case len(out.Steps) == 0 || (out.Steps[len(out.Steps)-1].Held && len(out.Steps) < len(counts)):
		out.Error = "the run ended before its steps were judged"
	}
	return out
}
