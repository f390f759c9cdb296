package results

import (
	"strings"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/internal/benchfix"
	"github.com/loadcheck/loadcheck/scenarios"
)

func TestJudge(t *testing.T) {
	cfg := apache.Config{Name: "event-tuned", MPM: "event"}
	th := scenarios.DefaultThresholds()
	tests := []struct {
		name    string
		res     *bench.Result
		verdict string
		reason  string
	}{
		{"all served", benchfix.BenchResult(100, 0, 1000, 0, 2000), Pass, ""},
		{"starved", benchfix.BenchResult(90, 10, 900, 100, 2000), Fail, "served 90 of 100"},
		{"slow", benchfix.BenchResult(100, 0, 1000, 0, 1500000), Fail, "p99 1.5"},
		{"drops", benchfix.BenchResult(100, 0, 998, 2, 2000), Fail, "dropped 0.200%"},
	}
	for _, tc := range tests {
		run := FromBench(cfg, tc.res)
		Judge(&run, th)
		if run.Verdict != tc.verdict {
			t.Errorf("%s: got verdict %s (%v), want %s", tc.name, run.Verdict, run.Reasons, tc.verdict)
		}
		if tc.reason != "" && !strings.Contains(strings.Join(run.Reasons, "; "), tc.reason) {
			t.Errorf("%s: got reasons %v, want one containing %q", tc.name, run.Reasons, tc.reason)
		}
	}
	run := Run{Config: "x", Error: "image missing"}
	Judge(&run, th)
	if run.Verdict != Error {
		t.Errorf("setup error: got verdict %s, want error", run.Verdict)
	}
}

func TestJudgeClientHints(t *testing.T) {
	run := Run{Connections: Connections{Target: 10, Served: 10}, Complete: true,
		Requests: Requests{Sent: 100, OK: 100, Errors: map[string]int64{"client_late": 3, "ports_exhausted": 2}}}
	Judge(&run, scenarios.DefaultThresholds())
	joined := strings.Join(run.Reasons, "\n")
	if run.Verdict != Inconclusive || !strings.Contains(joined, "client-limited: 3 client_late") || !strings.Contains(joined, "--source-addrs") {
		t.Errorf("verdict %s reasons %q, want inconclusive with client-limited hints", run.Verdict, run.Reasons)
	}
}

func TestTimeToCapacity(t *testing.T) {
	pt := func(ts float64, ph bench.Phase, open int64, errs map[string]int64) bench.Point {
		return bench.Point{T: ts, Phase: ph, Open: open, Errors: errs}
	}
	series := []bench.Point{
		pt(1, bench.PhaseRamp, 50, nil),
		pt(2, bench.PhaseRamp, 100, nil),
		pt(3, bench.PhaseWarmUp, 100, map[string]int64{"closed_by_server": 2}),
		pt(4, bench.PhaseWarmUp, 100, nil),
		pt(5, bench.PhaseMeasure, 100, nil),
		pt(6, bench.PhaseDrain, 0, nil),
	}
	if got := TimeToCapacity(series, 100); got != 4 {
		t.Errorf("got %g, want 4: the close at 3 s restarts the clock", got)
	}
	series[3].Reconnects = 1
	if got := TimeToCapacity(series, 100); got != 5 {
		t.Errorf("got %g, want 5: a reconnect at 4 s restarts the clock", got)
	}
	series[4].Open = 99
	if got := TimeToCapacity(series, 100); got != -1 {
		t.Errorf("got %g, want -1: a connection was lost in the window", got)
	}
	// Read timeouts of the window's last slots surface just after it, in
	// the drain: the connections were not held with every request answered.
	series[4].Open = 100
	series[5].Errors = map[string]int64{"read_timeout": 3}
	if got := TimeToCapacity(series, 100); got != -1 {
		t.Errorf("got %g, want -1: failures of in-window slots surfaced in the drain", got)
	}
}

// Thresholds are judged on the raw share of dropped requests, never on the
// rounded one: 1 drop in 300,000 fails a limit of 0, and 0.1004 % fails
// 0.1 %.
func TestJudgeRawDroppedPct(t *testing.T) {
	cfg := apache.Config{Name: "x", MPM: "event"}
	for _, tc := range []struct {
		ok, dropped int64
		limit       float64
	}{{299_999, 1, 0}, {998_996, 1_004, 0.1}} {
		run := FromBench(cfg, benchfix.BenchResult(10, 0, tc.ok, tc.dropped, 1000))
		run.Connections.Served = 10 // the drops are spread; every connection held
		th := scenarios.DefaultThresholds()
		th.MaxDroppedPct = tc.limit
		Judge(&run, th)
		if run.Verdict != Fail {
			t.Errorf("%d of %d dropped against %g%%: verdict %s, want fail", tc.dropped, tc.ok+tc.dropped, tc.limit, run.Verdict)
		}
	}
}

func TestDiagnoseEvent(t *testing.T) {
	cfg, err := apache.Preset("event-stock", 4000)
	if err != nil {
		t.Fatal(err)
	}
	th := scenarios.Thresholds{MinServedPct: 100, MaxDroppedPct: 0.1, MaxP99: time.Second}
	full := Run{Connections: Connections{Target: 500, Starved: 54},
		Server: &Server{PeakBusyWorkers: 2, PeakConnsTotal: 452, PeakAcceptQueue: -1,
			ErrorLog: []LogCode{{Code: "AH00484", Level: "error", Count: 1, First: "[mpm_event:error] AH00484: server reached MaxRequestWorkers setting, consider raising"}}}}
	got := Diagnose(full, cfg, th)
	if want := "server at its connection limit (peak 452 connections; MaxRequestWorkers x (AsyncRequestWorkerFactor 2 + 1) = 450)"; !strings.Contains(got, want) {
		t.Errorf("at the limit: got %q, want it to contain %q", got, want)
	}
	busy := Run{Connections: Connections{Target: 4000, Served: 3884, PartlyServed: 116}, TimeToCapacityS: -1,
		Requests: Requests{Errors: map[string]int64{"closed_by_server": 116}, DroppedPct: 0.6},
		Server:   &Server{PeakBusyWorkers: 53, PeakConnsTotal: 4001, PeakAcceptQueue: -1, BusyShutdowns: 41, BusyClosed: 116}}
	cfg.Set(apache.Directive{Name: "MaxRequestWorkers", Value: "1475"})
	cfg.Set(apache.Directive{Name: "ServerLimit", Value: "59"})
	got = Diagnose(busy, cfg, th)
	if want := "event shut down 116 kept-alive connections at 41 moments (a process shuts down all of them when all its workers are busy, or it stops)"; !strings.Contains(got, want) {
		t.Errorf("busy shutdowns: got %q, want it to contain %q", got, want)
	}
	if strings.Contains(got, "connection limit") {
		t.Errorf("4001 connections of 4425 is not the limit: %q", got)
	}
}

// TestDiagnoseClosesWithoutDrops: connections partly served with no
// request dropped were closed; the why line says so, and says nothing of
// closes when requests were dropped (their classes say it).
func TestDiagnoseClosesWithoutDrops(t *testing.T) {
	cfg, err := apache.Preset("worker-stock", 140)
	if err != nil {
		t.Fatal(err)
	}
	th := scenarios.Thresholds{MinServedPct: 100, MaxDroppedPct: 0.1, MaxP99: time.Second}
	run := Run{Connections: Connections{Target: 140, Served: 138, PartlyServed: 2, Reconnects: 1, ClosedAtEnd: 1}}
	if got, want := Diagnose(run, cfg, th), "partly served: 2 (no request dropped; closed connections: 1 reconnects, 1 found closed at the window's end)"; !strings.Contains(got, want) {
		t.Errorf("got %q, want it to contain %q", got, want)
	}
	run.Requests = Requests{Dropped: 1, Errors: map[string]int64{"closed_by_server": 1}, DroppedPct: 0.1}
	if got := Diagnose(run, cfg, th); strings.Contains(got, "no request dropped") {
		t.Errorf("with a drop: got %q", got)
	}
}

// TestDiagnoseH2Workers: an HTTP/2 run whose busiest httpd process grew
// by every worker mod_http2 may add says mod_http2 was at H2MaxWorkers;
// one that added fewer says nothing of it.
func TestDiagnoseH2Workers(t *testing.T) {
	cfg, err := apache.Preset("event-tuned", 400)
	if err != nil {
		t.Fatal(err)
	}
	th := scenarios.Thresholds{MinServedPct: 100, MaxDroppedPct: 0.1, MaxP99: time.Second}
	run := Run{Protocol: bench.ProtoH2, Connections: Connections{Target: 400, Served: 73, Starved: 294},
		Requests: Requests{Dropped: 18849, Errors: map[string]int64{"read_timeout": 18775}, DroppedPct: 73.6},
		Server:   &Server{PeakBusyWorkers: 240, PeakConnsTotal: 400, PeakAcceptQueue: -1, ThreadsAtStart: 35, PeakThreads: 37, H2MinWorkers: 1, H2MaxWorkers: 3}}
	want := "mod_http2 ran every worker it may in a process (H2MaxWorkers 3): streams waited for one"
	if got := Diagnose(run, cfg, th); !strings.Contains(got, want) {
		t.Errorf("got %q, want it to contain %q", got, want)
	}
	run.Server.PeakThreads = 36
	if got := Diagnose(run, cfg, th); strings.Contains(got, "H2MaxWorkers") {
		t.Errorf("1 of 2 workers added: got %q", got)
	}
}

// TestGeneratorLimited: a generator whose CPUs were busy beyond the limit
// over the window, or that sent more than 1% of its requests late, makes
// the verdict inconclusive, with what to do; a busy second alone, the
// same load on a fleet's hosts (whose CPUs are not summed here), or late
// sends within the limit do not.
func TestGeneratorLimited(t *testing.T) {
	res := func(cpuMS []int64, cpus float64, late int64, fleet string) *bench.Result {
		r := &bench.Result{Connections: bench.Connections{Target: 10, Established: 10, Served: 10},
			Requests: bench.Requests{Sent: 1000, OK: 1000, Errors: map[string]int64{}, LateSends: late},
			Latency:  bench.NewHistogram(), ServiceTime: bench.NewHistogram(), ConnectTime: bench.NewHistogram(),
			Measured: time.Duration(len(cpuMS)) * time.Second, Complete: true, CPUs: cpus, Fleet: fleet}
		r.Series = append(r.Series, bench.Point{Second: 1, T: 1, Phase: bench.PhaseWarmUp, CPUMS: 2000})
		for i, ms := range cpuMS {
			r.Series = append(r.Series, bench.Point{Second: i + 2, T: float64(i + 2), Phase: bench.PhaseMeasure, CPUMS: ms, SendLateUS: 30_000})
		}
		_ = r.Latency.RecordValue(1000)
		return r
	}
	// 40 requests, 3 of them late: 7.5 %, but below LateSendsMin.
	small := func(r *bench.Result) *bench.Result {
		r.Requests.Sent, r.Requests.OK = 40, 40
		return r
	}
	for _, tc := range []struct {
		name    string
		r       *bench.Result
		verdict string
		reason  string
	}{
		{"busy over the window", res([]int64{1900, 1850}, 2, 0, ""), Inconclusive, "its 2 CPUs were 94% busy over the window"},
		{"one busy second", res([]int64{1990, 200}, 2, 0, ""), Pass, ""},
		{"late sends", res([]int64{100, 100}, 2, 20, ""), Inconclusive, "it sent 20 requests (2.00%) more than a tenth of their interval late, the latest 30 ms"},
		{"late sends within the limit", res([]int64{100, 100}, 2, 10, ""), Pass, ""},
		{"a few late sends in a small run", small(res([]int64{100, 100}, 2, 3, "")), Pass, ""},
		{"a fleet's CPU", res([]int64{1900, 1850}, 2, 0, "swarm"), Pass, ""},
		{"a tenth of a CPU, used", res([]int64{97, 99}, 0.1, 0, ""), Inconclusive, "its 0.1 CPUs were 98% busy"},
	} {
		run := FromBench(apache.Config{Name: "c", MPM: "event"}, tc.r)
		Judge(&run, scenarios.DefaultThresholds())
		if run.Verdict != tc.verdict || !strings.Contains(strings.Join(run.Reasons, "\n"), tc.reason) {
			t.Errorf("%s: verdict %s, reasons %q (generator %+v): want %s with %q", tc.name, run.Verdict, run.Reasons, *run.Generator, tc.verdict, tc.reason)
		}
		if (tc.verdict == Inconclusive) != (run.ClientLimited() != "") {
			t.Errorf("%s: ClientLimited %q for verdict %s", tc.name, run.ClientLimited(), run.Verdict)
		}
	}
}
