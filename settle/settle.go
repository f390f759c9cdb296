// Package settle decides when an auto warm-up ends (and when a capacity
// step has settled): from the generator's progress, once a second, and
// the server's latest mod_status reading.
package settle

import (
	"fmt"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/observe"
)

// An auto warm-up ends when the server has settled, judged once a second
// from the generator's progress and the server's latest mod_status
// reading:
//
//   - every connection open and answered for fullFor: each second, all
//     target connections open, no request failed, none of them waiting
//     for an answer longer than bench.StallAfter (a starved connection
//     whose timeout has not fired yet), and the answers a second should
//     bring (connections x rate, or one each in closed loop) came;
//
//   - nothing changing for stableFor: over the last stableFor seconds,
//     the same number of processes (a server still spawning them is not
//     settled, even at one a second), and connections open, answers per
//     second, busy workers and idle workers each within 1 % of the target
//     connections (at least 2) from their lowest to their highest; answers
//     per second within 2 % of their highest, for closed-loop loads. A
//     server that cannot hold the load settles this way: it serves the
//     same connections, second after second. The range is taken over the
//     whole stableFor seconds, not from one second to the next: a server
//     that still drifts, a few connections a second (tuned worker reaping
//     idle threads, about 30 connections a second closed and opened
//     again), stays within any per-second tolerance for long while it is
//     not settled (docs/findings/warmup-auto.md); or
//
//   - the server full for stableFor: no idle worker, and the same busy
//     workers and processes, while connections go unanswered (serverFull).
//
// The first rule ends the warm-up of a config that holds the load; the
// second and third that of one that does not. Failures alone never end
// it: a server still spawning processes changes from second to second.
const (
	fullFor   = 3
	stableFor = 5
)

// Margin is how far ahead of the decision the measured window begins:
// time for shard processes to hear of it.
const Margin = 300 * time.Millisecond

// Settler decides when an auto warm-up ends, for a load of target
// connections at rate requests/s each (0: closed loop).
type Settler struct {
	target int
	rate   float64 // requests/s per connection; 0 in closed loop
	latest func() (observe.Point, bool)

	prev   bench.Progress
	have   bool
	recent []snapshot // the last stableFor+1 seconds, oldest first
	full   int
	reason string // why it ended; "" until it has
	held   bool   // it ended because every connection was answered
}

// snapshot is one second's figures the stability rule compares.
type snapshot struct {
	open, okPerS      float64
	busy, idle, procs float64
	hasServer         bool
	at                float64 // the server reading's time (observe.Point.T)
}

// Tick takes the generator's progress; it reports true, once, when the
// warm-up should end.
func (s *Settler) Tick(p bench.Progress) bool {
	if s.reason != "" || p.Phase != bench.PhaseWarmUp {
		s.prev, s.have = p, p.Phase == bench.PhaseWarmUp
		return false
	}
	if !s.have {
		s.prev, s.have = p, true
		return false
	}
	dt := (p.Elapsed - s.prev.Elapsed).Seconds()
	ok, failed := p.OK-s.prev.OK, p.Failed-s.prev.Failed
	s.prev = p
	if dt <= 0 {
		return false
	}
	// 2 % short, or one answer, whichever is more: with a few connections
	// one answer on the other side of a tick is more than 2 %.
	due := float64(s.target) * s.rate * dt
	want := min(due*0.98, due-1)
	if s.rate == 0 {
		want = float64(s.target) // closed loop: at least one answer each
	}
	if p.Open == int64(s.target) && failed == 0 && p.Stalled == 0 && float64(ok) >= want {
		s.full++
	} else {
		s.full = 0
	}
	snap := snapshot{open: float64(p.Open), okPerS: float64(ok) / dt}
	if pt, ok := s.latest(); ok {
		snap.busy, snap.idle, snap.procs, snap.hasServer, snap.at = float64(pt.BusyWorkers), float64(pt.IdleWorkers), float64(processes(pt)), true, pt.T
	}
	if s.recent = append(s.recent, snap); len(s.recent) > stableFor+1 {
		s.recent = s.recent[1:]
	}
	switch {
	case s.full >= fullFor:
		s.held = true
		s.reason = fmt.Sprintf("every connection open and answered for %d s", fullFor)
	case s.stable():
		s.reason = fmt.Sprintf("nothing changed for %d s (connections open, answers per second, busy and idle workers, processes)", stableFor)
	case s.serverFull():
		s.reason = fmt.Sprintf("the server was full for %d s: no idle worker, and the same busy workers and processes", stableFor)
	}
	return s.reason != ""
}

// Answered is the connections answered per second over the last seconds
// seen: their answers per second over the rate per connection, or in
// closed loop the connections open.
func (s *Settler) Answered() int {
	if len(s.recent) == 0 {
		return 0
	}
	var sum float64
	for _, x := range s.recent {
		if s.rate == 0 {
			sum += x.open
		} else {
			sum += x.okPerS / s.rate
		}
	}
	return int(sum/float64(len(s.recent)) + 0.5)
}

// serverFull reports whether the server has had no idle worker, and the
// same busy workers (within the tolerance) and processes, for the last
// stableFor seconds of fresh readings, while some connection went
// unanswered: httpd spawns a process at least once a second while its
// idle workers (threads, or prefork's processes) fall short of its
// spares, so one that has not for stableFor seconds is at its limits and
// will serve no more connections. The connections it cannot serve time
// out and are opened again, which keeps the generator's own figures
// moving, so the stability rule alone would wait for the warm-up's cap.
//
// It needs a process count: without one a prefork server still spawning
// (up to 32 processes a second, busy workers climbing slower than the
// readings come when thousands of processes fill the scoreboard) would
// look full. mod_status gives it for event alone; for prefork and worker
// it is the container's cgroup's (observe.Point.HTTPDProcesses), so a
// server without a cgroup to read (a --target) is never taken for full.
func (s *Settler) serverFull() bool {
	if len(s.recent) <= stableFor || s.full > 0 {
		return false
	}
	for i, x := range s.recent {
		if !x.hasServer || x.idle != 0 || x.busy <= 0 || x.procs <= 0 || (i > 0 && x.at <= s.recent[i-1].at) {
			return false
		}
	}
	return s.spread(func(x snapshot) float64 { return x.busy }) <= max(2, 0.01*float64(s.target)) &&
		s.spread(func(x snapshot) float64 { return x.procs }) == 0
}

// processes is the server's process count: mod_status's (event), or
// else the container's cgroup's (prefork and worker, whose mod_status
// gives none); -1 unknown.
func processes(pt observe.Point) int {
	switch {
	case pt.Processes >= 0:
		return pt.Processes
	case pt.HTTPDProcesses > 0:
		return pt.HTTPDProcesses
	}
	return -1
}

// spread is how far f ranges over the recent seconds, lowest to highest.
func (s *Settler) spread(f func(snapshot) float64) float64 {
	lo, hi := f(s.recent[0]), f(s.recent[0])
	for _, x := range s.recent {
		lo, hi = min(lo, f(x)), max(hi, f(x))
	}
	return hi - lo
}

// stable reports whether nothing changed over the last stableFor seconds:
// each figure's lowest and highest within its tolerance.
func (s *Settler) stable() bool {
	if len(s.recent) <= stableFor {
		return false
	}
	tol := max(2, 0.01*float64(s.target))
	// Answers per second: 1 % of those the load asks for, or in closed
	// loop, where nothing else sets their number, 2 % of the most seen.
	okTol := max(tol, 0.01*float64(s.target)*s.rate)
	if s.rate == 0 {
		for _, x := range s.recent {
			okTol = max(okTol, 0.02*x.okPerS)
		}
	}
	for _, x := range s.recent {
		if x.hasServer != s.recent[0].hasServer {
			return false
		}
	}
	return s.spread(func(x snapshot) float64 { return x.open }) <= tol &&
		s.spread(func(x snapshot) float64 { return x.okPerS }) <= okTol &&
		s.spread(func(x snapshot) float64 { return x.busy }) <= tol &&
		s.spread(func(x snapshot) float64 { return x.idle }) <= tol &&
		s.spread(func(x snapshot) float64 { return x.procs }) == 0
}

// New is a Settler for target connections at rate requests/s each (0:
// closed loop); latest gives the server's latest reading, if any.
func New(target int, rate float64, latest func() (observe.Point, bool)) *Settler {
	return &Settler{target: target, rate: rate, latest: latest}
}

// Reason says why the warm-up ended; "" until it has.
func (s *Settler) Reason() string { return s.reason }

// Held reports whether it ended because every connection was answered.
func (s *Settler) Held() bool { return s.held }
