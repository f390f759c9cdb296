package loadcheck

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/capacity"
	"github.com/loadcheck/loadcheck/observe"
	"github.com/loadcheck/loadcheck/settle"
)

// maxStepSettle caps how long one step of a stepped run may take to
// settle; a step that has not by then is not held.
const maxStepSettle = 30 * time.Second

// stepper judges a stepped run's steps as they come, from the generator's
// progress: each step gets its own settler, and when one says the step
// held, the next step is sent; the first step not held ends the run.
type stepper struct {
	counts []int
	rate   float64
	cap    time.Duration // the longest a step may take to settle
	latest func() (observe.Point, bool)
	next   chan<- int
	done   func()

	mu      sync.Mutex
	out     capacity.Stepped
	k       int
	settler *settle.Settler
	since   time.Time // the current step's start
	log     func(capacity.Step)
}

// begin sends step k (the first, at first), with a settler of its own.
func (s *stepper) begin(now time.Time) {
	s.settler = settle.New(s.counts[s.k], s.rate, s.latest)
	s.since = now
	s.next <- s.counts[s.k]
}

// tick takes one progress report.
func (s *stepper) tick(p bench.Progress, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.k >= len(s.counts) {
		return
	}
	n := s.counts[s.k]
	settled := s.settler.Tick(p)
	after := now.Sub(s.since)
	if !settled && after < s.cap {
		return
	}
	step := capacity.Step{Connections: n, AfterS: after.Round(100 * time.Millisecond).Seconds(), Answered: s.settler.Answered(), Why: s.settler.Reason()}
	if pt, ok := s.latest(); ok && pt.MemoryMB > 0 {
		step.MemoryMB = pt.MemoryMB
	}
	step.Held = s.settler.Held()
	if !settled {
		step.Why = fmt.Sprintf("did not settle within %s", s.cap)
	}
	s.out.Steps = append(s.out.Steps, step)
	if s.log != nil {
		s.log(step)
	}
	s.k++
	switch {
	case !step.Held:
		// The limit lies below n: about the connections answered, but
		// never less than the step below, which held.
		s.out.Knee = max(min(step.Answered, n-1), s.out.Held)
		s.k = len(s.counts)
		s.done()
	case s.k == len(s.counts):
		s.out.Held, s.out.Knee = n, n
		s.done()
	default:
		s.out.Held = n
		s.begin(now)
	}
}

// result is the stepped run as judged so far.
func (s *stepper) result() *capacity.Stepped {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.out
	return &out
}

// stepped runs cfg once against a fresh server, adding connections in
// steps from the search's start, each judged on its own (capacity.Stepped),
// for the search to start from. It starts like every run (start) and goes
// through the run's generator, which must be one process (the
// inprocess generator): a maximum more than one process can open gets no
// stepped run (Error says so).
func (c *capacityRun) stepped(ctx context.Context, cfg apache.Config, label string) *capacity.Stepped {
	began := time.Now()
	l := c.sc.Load
	l.Connections = c.bounds.Max
	counts := capacity.Doubling(c.bounds.Start, c.bounds.Max)
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
	s := &stepper{counts: counts, rate: l.RatePerConn, cap: stepCap, latest: session.Latest, next: next, done: cancel,
		log: func(step capacity.Step) {
			verdict := "held"
			if !step.Held {
				verdict = fmt.Sprintf("NOT held, %d answered", step.Answered)
			}
			c.logf("%s stepped run, %d connections: %s after %.1f s (%s)", label, step.Connections, verdict, step.AfterS, step.Why)
		}}
	c.logf("%s stepped run: %v connections, each step until it settles (at most %s)", label, counts, stepCap)
	s.begin(time.Now())
	_, err = c.generator.Generate(runCtx, r.ep.URL, bench.Options{Load: l, Steps: next,
		Progress: func(p bench.Progress) { s.tick(p, time.Now()) }})
	out := s.result()
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
