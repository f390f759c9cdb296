package settle

import (
	"fmt"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/observe"
)

// TestStepper drives the step judge with a server that answers 300
// connections a second at most: steps of 100 and 200 hold, 400 does not,
// and the knee is the 300 it answered.
func TestStepper(t *testing.T) {
	next := make(chan int, 1)
	done := false
	var sent []int
	s := &Stepper{Counts: []int{100, 200, 400}, Rate: 1, Cap: 30 * time.Second, Next: next, Done: func() { done = true },
		Latest: func() (observe.Point, bool) { return observe.Point{T: 1, BusyWorkers: 10}, true }}
	now := time.Unix(0, 0)
	s.Begin(now)
	var p bench.Progress
	p.Phase = bench.PhaseWarmUp
	for i := 0; i < 60 && !done; i++ {
		select {
		case n := <-next:
			sent = append(sent, n)
		default:
		}
		step := sent[len(sent)-1]
		answered := min(step, 300)
		now = now.Add(time.Second)
		p.Elapsed += time.Second
		p.Open, p.OK, p.Failed = int64(step), p.OK+int64(answered), p.Failed+int64(step-answered)
		s.Tick(p, now)
	}
	out := s.Result()
	if fmt.Sprint(sent) != "[100 200 400]" || !done {
		t.Fatalf("steps sent %v, done %v: want [100 200 400] and done", sent, done)
	}
	if len(out.Steps) != 3 || !out.Steps[0].Held || !out.Steps[1].Held || out.Steps[2].Held {
		t.Fatalf("steps %+v: want 100 and 200 held, 400 not", out.Steps)
	}
	if out.Held != 200 || out.Knee != 300 || out.Steps[2].Answered != 300 {
		t.Errorf("held %d, knee %d, answered at 400 %d: want 200, 300, 300", out.Held, out.Knee, out.Steps[2].Answered)
	}
	// A step that never settles is not held once the cap has passed.
	s = &Stepper{Counts: []int{100}, Rate: 1, Cap: 5 * time.Second, Next: make(chan int, 1), Done: func() {},
		Latest: func() (observe.Point, bool) { return observe.Point{}, false }}
	s.Begin(now)
	for i := range 10 {
		now = now.Add(time.Second)
		p.Elapsed += time.Second
		p.Open, p.OK = int64(50+10*i), p.OK+int64(40+10*i) // still growing
		s.Tick(p, now)
	}
	if out := s.Result(); len(out.Steps) != 1 || out.Steps[0].Held || out.Steps[0].Why != "did not settle within 5s" {
		t.Errorf("unsettled step: %+v", out.Steps)
	}
}
