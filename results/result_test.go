package results

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/scenarios"
)

func benchResult(served, starved int, ok, dropped int64, latencyUS int64) *bench.Result {
	h := bench.NewHistogram()
	for i := int64(0); i < ok; i++ {
		_ = h.RecordValue(latencyUS)
	}
	return &bench.Result{
		Target: served + starved, Established: served + starved, Served: served, Starved: starved,
		Sent: ok + dropped, OK: ok, Dropped: dropped,
		Errors: map[string]int64{"queue_timeout": dropped}, Latency: h,
		Measured: 10 * time.Second, Complete: true,
	}
}

func TestJudge(t *testing.T) {
	cfg := apache.Config{Name: "event-tuned", MPM: "event"}
	th := scenarios.DefaultThresholds()
	tests := []struct {
		name    string
		res     *bench.Result
		verdict string
		reason  string
	}{
		{"all served", benchResult(100, 0, 1000, 0, 2000), Pass, ""},
		{"starved", benchResult(90, 10, 900, 100, 2000), Fail, "served 90 of 100"},
		{"slow", benchResult(100, 0, 1000, 0, 1500000), Fail, "p99 1.5"},
		{"drops", benchResult(100, 0, 998, 2, 2000), Fail, "dropped 0.200%"},
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

func TestTableAndJSONRoundTrip(t *testing.T) {
	cfg := apache.Config{Name: "prefork-stock", MPM: "prefork"}
	run := FromBench(cfg, benchResult(150, 3850, 1500, 38500, 900))
	run.Server = &Server{PeakBusyWorkers: 150}
	Judge(&run, scenarios.DefaultThresholds())
	f := &File{Schema: Schema, RunID: "r1", Runs: []Run{run}}
	var b bytes.Buffer
	if err := WriteTable(&b, f); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"prefork-stock", "3850", "queue_timeout 38500", "FAIL", "served 150 of 4000"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := f.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Runs[0].Connections.Starved; got != 3850 {
		t.Errorf("round trip: starved %d, want 3850", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("got %d files after an atomic write, want 1 (no temporary left)", len(entries))
	}
	os.WriteFile(path, []byte(`{"schema":"loadcheck.result/v9"}`), 0o644)
	if _, err := ReadJSON(path); err == nil || !strings.Contains(err.Error(), "v9") {
		t.Errorf("got %v, want an unknown-schema error", err)
	}
}

func TestJudgeClientHints(t *testing.T) {
	run := Run{Connections: Connections{Target: 10, Served: 10}, Complete: true,
		Requests: Requests{Sent: 100, OK: 100, Errors: map[string]int64{"client_late": 3, "ports_exhausted": 2}}}
	Judge(&run, scenarios.DefaultThresholds())
	joined := strings.Join(run.Reasons, "\n")
	if run.Verdict != Fail || !strings.Contains(joined, "client-limited: 3 client_late") || !strings.Contains(joined, "--source-addrs") {
		t.Errorf("verdict %s reasons %q, want client-limited hints", run.Verdict, run.Reasons)
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
}

func TestTableServerSide(t *testing.T) {
	run := Run{Config: "prefork-stock", Verdict: Fail, TimeToCapacityS: -1,
		Series: []bench.Point{{OK: 6}, {OK: 4, Errors: map[string]int64{"http_5xx": 1, "reset": 2}}},
		Server: &Server{StatusSamples: 3, AccessesDuringRun: 13,
			Kernel:   &ListenCounters{Overflows: 7, Drops: 9},
			ErrorLog: []LogCode{{Code: "AH00161", Level: "error", Count: 3, First: "[x] AH00161: server reached MaxRequestWorkers setting"}, {Code: "AH00163", Level: "notice", Count: 1, First: "resuming"}}}}
	var b bytes.Buffer
	if err := WriteTable(&b, &File{Runs: []Run{run}}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"prefork-stock: never held every connection",
		"httpd counted 13 requests, the client got 11 responses and sent 2 status reads",
		"kernel listen overflows +7, drops +9",
		"httpd AH00161 x3: [x] AH00161: server reached MaxRequestWorkers setting",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "AH00163") {
		t.Errorf("a notice-level code was shown as notable:\n%s", out)
	}
}
