package settle

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/observe"
)

// feed gives s one progress a second from the ramp on: ok and open per
// second, failures, and the server's busy workers and processes; it
// returns the second the warm-up ended at, or -1.
func feed(s *Settler, seconds []struct {
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
		busy, procs, at := x.busy, x.procs, float64(i+1)
		s.latest = func() (observe.Point, bool) {
			return observe.Point{T: at, BusyWorkers: int(busy), Processes: int(procs)}, true
		}
		if s.Tick(p) {
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
		// Cannot hold it, and the clients churn: connections that timed
		// out are opened again, so open and answered move every second;
		// the server's 60 workers stay busy, none idle, no process added.
		{"full server, churning clients", func() []second {
			var s []second
			for i := range 12 {
				s = append(s, second{int64(70 + 7*(i%3)), int64(55 + 5*(i%2)), 40, 60, 3})
			}
			return s
		}(), 7, "the server was full for 5 s"},
		// The same churn while busy workers still climb: not settled.
		{"churning, workers still growing", func() []second {
			var s []second
			for i := range 12 {
				s = append(s, second{int64(70 + 7*(i%3)), int64(55 + 5*(i%2)), 40, int64(40 + 3*i), 3})
			}
			return s
		}(), -1, ""},
		// Never settles: processes keep growing, and failures go on.
		{"never", func() []second {
			var s []second
			for i := range 20 {
				s = append(s, second{100, 50, 50, 30, int64(i)})
			}
			return s
		}(), -1, ""},
	} {
		s := &Settler{target: 100, rate: 1}
		got := feed(s, tc.seconds)
		if got != tc.want || (tc.reason != "" && (len(s.reason) < len(tc.reason) || s.reason[:len(tc.reason)] != tc.reason)) {
			t.Errorf("%s: ended at second %d (%q), want %d (%q)", tc.name, got, s.reason, tc.want, tc.reason)
		}
	}
}

// A full server whose readings stopped coming (the sampler's last one
// repeats, as Session.Latest does when a status read is slow), or one
// without a process count (mod_status's for event, the cgroup's for
// prefork and worker), is not taken for full.
func TestSettlerFullNeedsFreshReadings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		point func(i int) observe.Point
		want  bool
	}{
		{"fresh", func(i int) observe.Point { return observe.Point{T: float64(i), BusyWorkers: 60, Processes: 3} }, true},
		{"stale", func(int) observe.Point { return observe.Point{T: 1, BusyWorkers: 60, Processes: 3} }, false},
		{"no process count", func(i int) observe.Point { return observe.Point{T: float64(i), BusyWorkers: 60, Processes: -1} }, false},
		// prefork and worker: mod_status has no Processes, the cgroup does.
		{"the cgroup's process count", func(i int) observe.Point {
			return observe.Point{T: float64(i), BusyWorkers: 60, Processes: -1, HTTPDProcesses: 61}
		}, true},
		{"the cgroup's count, still spawning", func(i int) observe.Point {
			return observe.Point{T: float64(i), BusyWorkers: 60, Processes: -1, HTTPDProcesses: 50 + i}
		}, false},
	} {
		s := &Settler{target: 100, rate: 1}
		var p bench.Progress
		ended := false
		for i := range 12 {
			p.Phase, p.Elapsed = bench.PhaseWarmUp, time.Duration(i+1)*time.Second
			p.Open, p.OK, p.Failed = int64(70+7*(i%3)), p.OK+int64(55+5*(i%2)), p.Failed+40
			pt := tc.point(i)
			s.latest = func() (observe.Point, bool) { return pt, true }
			if s.Tick(p) {
				ended = true
				break
			}
		}
		if ended != tc.want || (ended && !strings.HasPrefix(s.reason, "the server was full")) {
			t.Errorf("%s: ended %v (%q), want %v", tc.name, ended, s.reason, tc.want)
		}
	}
}

// TestSettlerTraces replays the per-second series of real runs at 4000
// connections (fixed 30 s warm-up, 2026-11-26; bench/perf/warmup-auto.sh
// shows how such runs are made) through the settler, which sees the
// same figures live: the generator's progress and the server's latest
// mod_status reading.
func TestSettlerTraces(t *testing.T) {
	for _, tc := range []struct {
		file   string
		want   int // the series' second the warm-up ends after
		reason string
	}{
		// Tuned worker: seconds 11 to 17 look settled from one second to
		// the next (about 30 connections a second closed by httpd reaping
		// idle threads and opened again, busy workers creeping up), then
		// it holds all 4000. The second-to-second rule ended the warm-up
		// at second 16, and the measured window failed.
		{"worker-tuned.csv", 19, "every connection open and answered"},
		// Stock prefork: 150 workers busy, the same 149 answered every
		// second from second 13 on. It is full from second 9, but prefork
		// reports no process count, so the full-server rule stays out.
		{"prefork-stock.csv", 16, "nothing changed for 5 s"},
		{"event-tuned.csv", 13, "every connection open and answered"},
	} {
		got, reason := replay(t, filepath.Join("testdata", "settle", tc.file))
		if got != tc.want || !strings.HasPrefix(reason, tc.reason) {
			t.Errorf("%s: warm-up ended after second %d (%q), want %d (%q)", tc.file, got, reason, tc.want, tc.reason)
		}
	}
}

// replay feeds a stored series.csv to a settler for 4000 connections at
// 1 request/s; it returns the second the warm-up ended after, or -1.
func replay(t *testing.T, path string) (int, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	num := func(row []string, name string) (int64, bool) {
		n, err := strconv.ParseFloat(row[col[name]], 64)
		return int64(n), err == nil
	}
	var server observe.Point
	s := &Settler{target: 4000, rate: 1, latest: func() (observe.Point, bool) { return server, server.T > 0 }}
	var p bench.Progress
	for _, row := range rows[1:] {
		sec, _ := num(row, "second")
		open, _ := num(row, "open")
		ok, _ := num(row, "ok")
		errs, _ := num(row, "errors")
		p.Phase, p.Elapsed = bench.Phase(row[col["phase"]]), time.Duration(sec)*time.Second
		p.Open, p.OK, p.Failed = open, p.OK+ok, p.Failed+errs
		// A second without a reading keeps the last one, as Session.Latest.
		if busy, ok := num(row, "busy_workers"); ok {
			idle, _ := num(row, "idle_workers")
			procs, _ := num(row, "processes")
			server = observe.Point{T: float64(sec), BusyWorkers: int(busy), IdleWorkers: int(idle), Processes: int(procs)}
		}
		if s.Tick(p) {
			return int(sec), s.reason
		}
	}
	return -1, ""
}

// TestSettlerStalled: 100 connections open, no failure, 99 answers a
// second at 1 request a second each: within the old 2 % tolerance. One
// connection has waited for its answer for seconds, its timeout not yet
// fired: not every connection is answered, and the first rule must not
// end the warm-up (nor mark a capacity step held).
func TestSettlerStalled(t *testing.T) {
	for _, stalled := range []int64{1, 0} {
		s := &Settler{target: 100, rate: 1, latest: func() (observe.Point, bool) { return observe.Point{}, false }}
		var p bench.Progress
		ended := -1
		for i := range 8 {
			p.Phase, p.Elapsed, p.Open, p.OK, p.Stalled = bench.PhaseWarmUp, p.Elapsed+time.Second, 100, p.OK+99, stalled
			if s.Tick(p) {
				ended = i
				break
			}
		}
		switch {
		case stalled > 0 && s.held:
			t.Errorf("with a connection stalled, the warm-up ended at second %d as held: %s", ended, s.reason)
		case stalled == 0 && (!s.held || ended != fullFor):
			t.Errorf("with none stalled: ended at %d (held %v, %q), want held at %d", ended, s.held, s.reason, fullFor)
		}
	}
}

// A few connections hold their load, but a tick's second has one answer
// fewer than due now and then (one came just past the tick): 19 of 20 is
// 5 % short, and still every connection answered. Two short is not.
func TestSettlerFewConnections(t *testing.T) {
	var seconds []second
	for i := range 8 {
		seconds = append(seconds, second{4, int64(19 + i%2), 0, 4, 1})
	}
	s := &Settler{target: 4, rate: 5}
	if got := feed(s, seconds); got < 0 || !s.Held() {
		t.Errorf("4 connections at 5/s answering 19 and 20 a second: ended at %d (%q), held %v; want held", got, s.reason, s.Held())
	}
	for i := range seconds {
		seconds[i].ok = 18
	}
	s = &Settler{target: 4, rate: 5}
	if feed(s, seconds); s.Held() {
		t.Errorf("18 of 20 answered each second: held (%q)", s.reason)
	}
}
