package loadcheck

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
//     target connections open, no request failed, and the answers a
//     second should bring (connections x rate) all came; or
//   - nothing changing for stableFor: the same number of processes (a
//     server still spawning them is not settled, even at one a second),
//     and connections open, answers per second and busy workers each
//     within 2 % (at least 1) of the second before; busy workers, which
//     threaded MPMs show as a few transient ones, within 1 % of the
//     target connections too. A
//     server that cannot hold the load settles this way: it serves the
//     same connections, second after second.
//
// The first rule ends the warm-up of a config that holds the load; the
// second that of one that does not. Failures alone never end it: a server
// still spawning processes changes from second to second.
const (
	fullFor   = 3
	stableFor = 5
)

// settleMargin is how far ahead of the decision the measured window
// begins: time for shard processes to hear of it.
const settleMargin = 300 * time.Millisecond

// settler decides when an auto warm-up ends.
type settler struct {
	target int
	rate   float64 // requests/s per connection; 0 in closed loop
	latest func() (observe.Point, bool)

	prev         bench.Progress
	have         bool
	prevSnap     snapshot
	full, stable int
	reason       string // why it ended; "" until it has
}

// snapshot is one second's figures the stability rule compares.
type snapshot struct {
	open, okPerS      float64
	busy, procs       float64
	hasServer, hasAny bool
}

// tick takes the generator's progress; it reports true, once, when the
// warm-up should end.
func (s *settler) tick(p bench.Progress) bool {
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
	want := float64(s.target) * s.rate * dt * 0.98
	if s.rate == 0 {
		want = float64(s.target) // closed loop: at least one answer each
	}
	if p.Open == int64(s.target) && failed == 0 && float64(ok) >= want {
		s.full++
	} else {
		s.full = 0
	}
	snap := snapshot{open: float64(p.Open), okPerS: float64(ok) / dt, hasAny: true}
	if pt, ok := s.latest(); ok {
		snap.busy, snap.procs, snap.hasServer = float64(pt.BusyWorkers), float64(pt.Processes), true
	}
	if s.prevSnap.hasAny && near(snap.open, s.prevSnap.open) && near(snap.okPerS, s.prevSnap.okPerS) &&
		snap.hasServer == s.prevSnap.hasServer && near(snap.busy, s.prevSnap.busy, 0.01*float64(s.target)) && snap.procs == s.prevSnap.procs {
		s.stable++
	} else {
		s.stable = 0
	}
	s.prevSnap = snap
	switch {
	case s.full >= fullFor:
		s.reason = fmt.Sprintf("every connection open and answered for %d s", fullFor)
	case s.stable >= stableFor:
		s.reason = fmt.Sprintf("nothing changed for %d s (connections open, answers per second, busy workers, processes)", stableFor)
	}
	return s.reason != ""
}

// near reports whether a and b are within 2 % of the larger, or 1, or
// any of slack.
func near(a, b float64, slack ...float64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	tol := max(1, 0.02*max(a, b))
	for _, x := range slack {
		tol = max(tol, x)
	}
	return d <= tol
}
