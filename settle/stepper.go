package settle

import (
	"fmt"
	"sync"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/capacity"
	"github.com/loadcheck/loadcheck/observe"
)

// Stepper judges a stepped run's steps as they come, from the generator's
// progress: each step gets its own settler, and when one says the step
// held, the next step is sent; the first step not held ends the run.
type Stepper struct {
	Counts []int                        // the steps' connection counts, in order
	Rate   float64                      // requests per second on each connection
	Cap    time.Duration                // the longest a step may take to settle
	Latest func() (observe.Point, bool) // the server's latest reading
	Next   chan<- int                   // where each step's count is sent (bench.Options.Steps)
	Done   func()                       // called once the run's steps are judged
	Log    func(capacity.Step)          // each step as it is judged, if set

	mu      sync.Mutex
	out     capacity.Stepped
	k       int
	settler *Settler
	since   time.Time // the current step's start
}

// Begin sends step k (the first, at first), with a settler of its own.
func (s *Stepper) Begin(now time.Time) {
	s.settler = New(s.Counts[s.k], s.Rate, s.Latest)
	s.since = now
	s.Next <- s.Counts[s.k]
}

// Tick takes one progress report.
func (s *Stepper) Tick(p bench.Progress, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.k >= len(s.Counts) {
		return
	}
	n := s.Counts[s.k]
	settled := s.settler.Tick(p)
	after := now.Sub(s.since)
	if !settled && after < s.Cap {
		return
	}
	step := capacity.Step{Connections: n, AfterS: after.Round(100 * time.Millisecond).Seconds(), Answered: s.settler.Answered(), Why: s.settler.Reason()}
	if pt, ok := s.Latest(); ok && pt.MemoryMB > 0 {
		step.MemoryMB = pt.MemoryMB
	}
	step.Held = s.settler.Held()
	if !settled {
		step.Why = fmt.Sprintf("did not settle within %s", s.Cap)
	}
	s.out.Steps = append(s.out.Steps, step)
	if s.Log != nil {
		s.Log(step)
	}
	s.k++
	switch {
	case !step.Held:
		// The limit lies below n: about the connections answered, but
		// never less than the step below, which held.
		s.out.Knee = max(min(step.Answered, n-1), s.out.Held)
		s.k = len(s.Counts)
		s.Done()
	case s.k == len(s.Counts):
		s.out.Held, s.out.Knee = n, n
		s.Done()
	default:
		s.out.Held = n
		s.Begin(now)
	}
}

// Result is the stepped run as judged so far.
func (s *Stepper) Result() *capacity.Stepped {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.out
	return &out
}
