package loadcheck

import (
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/observe"
)

// feed gives s one progress a second from the ramp on: ok and open per
// second, failures, and the server's busy workers and processes; it
// returns the second the warm-up ended at, or -1.
func feed(s *settler, seconds []struct {
	open, ok, failed, busy, procs int64
}) int {
	var p bench.Progress
	for i, x := range seconds {
		p.Phase = bench.PhaseWarmUp
		if i == 0 {
			p.Phase = bench.PhaseRamp
		}
		p.Elapsed += time.Second
		p.Open, p.OK, p.Failed = x.open, p.OK+x.ok, p.Failed+x.failed
		busy, procs := x.busy, x.procs
		s.latest = func() (observe.Point, bool) {
			return observe.Point{BusyWorkers: int(busy), Processes: int(procs)}, true
		}
		if s.tick(p) {
			return i
		}
	}
	return -1
}

type second = struct{ open, ok, failed, busy, procs int64 }

func TestSettler(t *testing.T) {
	repeat := func(n int, x second) []second {
		var s []second
		for range n {
			s = append(s, x)
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		seconds []second
		want    int
		reason  string
	}{
		// Holds the load from its first warm-up second, which sets the
		// baseline: 3 full seconds after it.
		{"holds", repeat(10, second{100, 100, 0, 5, 4}), 4, "every connection open and answered"},
		// Spawning: processes grow each second, a few requests fail; then
		// it holds.
		{"spawns then holds", append([]second{{100, 50, 0, 50, 1}, {100, 60, 4, 60, 2}, {100, 70, 3, 70, 3}, {100, 80, 2, 80, 4}, {100, 90, 1, 90, 5}},
			repeat(5, second{100, 100, 0, 5, 6})...), 7, "every connection open and answered"},
		// Cannot hold it: the same 30 connections answered, failures every
		// second, nothing changing: settled after 5 unchanged seconds.
		{"starves the same", repeat(12, second{60, 30, 70, 30, 30}), 7, "nothing changed for 5 s"},
		// Never settles: processes keep growing, and failures go on.
		{"never", func() []second {
			var s []second
			for i := range 20 {
				s = append(s, second{100, 50, 50, 30, int64(i)})
			}
			return s
		}(), -1, ""},
	} {
		s := &settler{target: 100, rate: 1}
		got := feed(s, tc.seconds)
		if got != tc.want || (tc.reason != "" && (len(s.reason) < len(tc.reason) || s.reason[:len(tc.reason)] != tc.reason)) {
			t.Errorf("%s: ended at second %d (%q), want %d (%q)", tc.name, got, s.reason, tc.want, tc.reason)
		}
	}
}
