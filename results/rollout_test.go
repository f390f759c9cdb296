package results

import (
	"strings"
	"testing"

	"github.com/loadcheck/loadcheck/bench"
)

// TestRolloutOf splits the window at the signal and at the old
// generation's drain: a graceful switch at 12 s whose G slots are gone by
// 14 s; the closed connections reopened count, drops by class per phase,
// and the verdict.
func TestRolloutOf(t *testing.T) {
	run := Run{Config: "a", Complete: true, MeasureStartS: 8, MeasuredS: 10, Connections: Connections{Target: 10, Served: 10}}
	for s := 9; s <= 18; s++ {
		p := bench.Point{Second: s, T: float64(s), OK: 10, P99US: 2000, Open: 10, Phase: bench.PhaseMeasure}
		if s == 13 {
			p.Reconnects, p.P99US = 4, 80000
		}
		run.Series = append(run.Series, p)
	}
	// The drain after the window: its connections close, and it is no
	// second of the window.
	run.Series = append(run.Series, bench.Point{Second: 19, T: 18.001, Phase: bench.PhaseDrain})
	run.Server = &Server{Series: []ServerPoint{{T: 11}, {T: 12.5, Scoreboard: map[string]int{"G": 3}}, {T: 13.5, Scoreboard: map[string]int{"G": 1}}, {T: 14.5}, {T: 18.5}},
		ErrorLog: []LogCode{{Code: "AH00493", Level: "notice", Count: 1}}}
	r := RolloutOf(run, "a", "b", "graceful", 12)
	if !r.ZeroLoss || r.PeakGraceful != 3 || r.DrainedS != 2.5 || len(r.Phases) != 3 {
		t.Fatalf("rollout %+v: want zero-loss, peak 3 G slots, drained 2.5 s after the signal", r)
	}
	before, switching, after := r.Phases[0], r.Phases[1], r.Phases[2]
	if before.OK != 40 || switching.OK != 20 || switching.Reconnects != 4 || switching.WorstP99MS != 80 || after.OK != 40 || switching.ToS != 14.5 {
		t.Errorf("phases %+v", r.Phases)
	}
	if l := strings.Join(r.Lines(), "\n"); !strings.Contains(l, "ZERO-LOSS") || !strings.Contains(l, "drained 2.5 s after the signal (peak 3 G slots)") || !strings.Contains(l, "4 reconnects") ||
		r.RecoveredS != 0 || !strings.Contains(l, "recovered 0.0 s after the signal") {
		t.Errorf("nothing lost: recovered %v, lines:\n%s", r.RecoveredS, l)
	}
	// A stop and a start: 4 of 10 connections closed in the second that
	// ends at 14 s, one request refused in the next; whole again from 15 s
	// (3 s after the signal). prefork logs a graceful stop as AH00170.
	run.Series[5].Open, run.Series[6].Errors = 6, map[string]int64{"connect_refused": 1}
	run.Server.ErrorLog = []LogCode{{Code: "AH00170", Level: "notice", Count: 1}}
	if r := RolloutOf(run, "a", "b", "stop-start", 12); !r.Acknowledged || r.RecoveredS != 3 || r.Phases[1].ToS != 15 || r.PeakGraceful != 0 ||
		!strings.Contains(strings.Join(r.Lines(), "\n"), "recovered 3.0 s after the signal") {
		t.Errorf("stop-start: %+v", r)
	}
	run.Series[5].Open, run.Series[6].Errors = 10, nil
	run.Server.ErrorLog = []LogCode{{Code: "AH00493", Level: "notice", Count: 1}}
	// Requests lost while switching, and httpd's scoreboard full.
	run.Series[4].Errors = map[string]int64{"closed_by_server": 7, "reset": 2}
	if r := RolloutOf(run, "a", "b", "restart", 12); r.Acknowledged {
		t.Error("a restart acknowledged by the graceful reload's line (AH00493)")
	}
	run.Server.ErrorLog = []LogCode{{Code: "AH00494", Level: "notice", Count: 1}} // event: SIGHUP received
	run.Server.ErrorLog = append(run.Server.ErrorLog, LogCode{Code: "AH03490", Count: 5},
		LogCode{Code: "AH00501", Count: 1, First: "[Sat Dec 05 02:01:21.022283 2026] [mpm_event:warn] [pid 1:tid 1] AH00501: changing ServerLimit to 16 from original value of 250 not allowed during restart"})
	r = RolloutOf(run, "a", "b", "restart", 12)
	if r.ZeroLoss || r.Why != "requests failed: 9 switching (closed_by_server 7, reset 2)" || r.ScoreboardFull != 5 {
		t.Errorf("rollout %+v: want not zero-loss, 9 failed while switching, 5 scoreboard-full lines", r)
	}
	if l := strings.Join(r.Lines(), "\n"); !strings.Contains(l, "NOT zero-loss: requests failed") || !strings.Contains(l, "scoreboard was full 5 times") ||
		!strings.Contains(l, "httpd kept the old value: AH00501: changing ServerLimit to 16 from original value of 250 not allowed during restart") {
		t.Errorf("lines:\n%s", l)
	}
	// The old generation still finishing when the window ended is not
	// zero-loss either.
	run.Series[4].Errors = nil
	run.Server.ErrorLog = []LogCode{{Code: "AH00493", Level: "notice", Count: 1}}
	run.Server.Series = append(run.Server.Series, ServerPoint{T: 19, Scoreboard: map[string]int{"G": 1}})
	if r := RolloutOf(run, "a", "b", "graceful", 12); r.ZeroLoss || r.DrainedS != -1 || !strings.Contains(r.Why, "still finishing") {
		t.Errorf("never drained: %+v", r)
	}
	// worker logs a graceful reload as AH00297.
	run.Server.ErrorLog = []LogCode{{Code: "AH00297", Level: "notice", Count: 1}}
	if r := RolloutOf(run, "a", "b", "graceful", 12); !r.Acknowledged {
		t.Errorf("worker's graceful reload (AH00297) not acknowledged: %+v", r)
	}
	// httpd never logged the signal: nothing shows the switch happened.
	run.Server.Series, run.Server.ErrorLog = run.Server.Series[:4], nil
	if r := RolloutOf(run, "a", "b", "graceful", 12); r.ZeroLoss || r.Acknowledged || !strings.Contains(r.Why, "never logged the signal") {
		t.Errorf("unacknowledged: %+v", r)
	}
}
