package testfix

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

// update is the -update flag of every test binary that imports testfix.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// Fixture is a stored run with a passing config, a failing one with
// errors and a config whose setup failed, built the way `run` builds one.
func Fixture() *results.File {
	start := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	load := scenarios.DefaultLoad()
	load.Connections, load.Ramp, load.WarmUp, load.Duration = 200, 2*time.Second, 3*time.Second, 5*time.Second
	f := &results.File{Header: results.Header{
		Schema: results.Schema, RunID: "20261126-060000-abcdef", StartedAt: start, Complete: true,
		Scenario:    scenarios.Scenario{Name: "fixture", Description: "two configs at 4000 connections", Image: "httpd:2.4", Layout: "official", Load: load, Thresholds: scenarios.DefaultThresholds()},
		Environment: results.Environment{LoadcheckVersion: "test", GoVersion: "go1.26", OS: "linux/amd64", CPUs: 2, Hostname: "ci"},
	}}
	for i, spec := range []struct {
		name, mpm     string
		served        int
		baseUS        int64
		errPerSec     int64
		busy, memBase int
	}{
		{"event-tuned", "event", 200, 800, 0, 40, 30},
		{"prefork-stock", "prefork", 150, 1500, 100, 150, 60},
	} {
		h := bench.NewHistogram()
		for v := int64(0); v < 1000; v++ {
			_ = h.RecordValues(spec.baseUS+v*v/50, 1+v%3)
		}
		var pts []bench.Point
		for s := 1; s <= 11; s++ {
			phase := bench.PhaseMeasure
			switch {
			case s <= 2:
				phase = bench.PhaseRamp
			case s <= 5:
				phase = bench.PhaseWarmUp
			case s == 11:
				phase = bench.PhaseDrain
			}
			open := int64(min(s*100, spec.served))
			p := bench.Point{Second: s, T: float64(s), Phase: phase, Open: open, OK: open, P99US: spec.baseUS * 3}
			if spec.errPerSec > 0 && s > 2 {
				p.Errors = map[string]int64{"connect_timeout": spec.errPerSec - int64(s), "queue_timeout": int64(s * 2)}
			}
			pts = append(pts, p)
		}
		res := &bench.Result{
			Connections: bench.Connections{Target: 200, Established: 200, Served: spec.served, Starved: 200 - spec.served},
			Requests: bench.Requests{Sent: 1000, OK: 1000 - (200-int64(spec.served))*5, Dropped: (200 - int64(spec.served)) * 5,
				Errors: map[string]int64{}},
			Latency: h, ServiceTime: h, ConnectTime: h, Series: pts, Measured: 5 * time.Second, Complete: true, Shards: 1,
		}
		if spec.errPerSec > 0 {
			res.Errors["connect_timeout"], res.Errors["queue_timeout"] = res.Dropped-50, 50
		}
		res.DroppedPct = 100 * float64(res.Dropped) / float64(res.Sent)
		cfg, _ := apache.Preset(spec.name, 200)
		run := results.FromBench(cfg, res)
		run.LoadStartedAt, run.MeasureStartS = start.Add(time.Duration(i)*time.Minute), 5
		run.HTTPDConf = "# httpd.conf of " + spec.name + "\nListen 127.0.0.1:8080\n"
		run.Server = &results.Server{StatusSamples: 12, PeakBusyWorkers: spec.busy, PeakProcesses: 3, PeakConnsTotal: -1,
			AccessesDuringRun: 1200, Nofile: 1224, MemoryStartMB: float64(spec.memBase), MemoryEndMB: float64(spec.memBase + 20),
			MemoryPeakMB: float64(spec.memBase + 21), MemoryPerConnKB: 102.4, CPUSeconds: 1.5, OOMKills: 0, PeakAcceptQueue: 3}
		for s := 0; s <= 11; s++ {
			run.Server.Series = append(run.Server.Series, results.ServerPoint{T: float64(s), BusyWorkers: min(s*20, spec.busy), Processes: 3,
				ConnsTotal: -1, ConnsAsyncKeepAlive: -1, ConnsAsyncWriting: -1, ConnsAsyncClosing: -1,
				MemoryMB: float64(spec.memBase + 2*s), CPUSeconds: float64(s) / 10, AcceptQueue: 0})
		}
		results.Judge(&run, f.Scenario.Thresholds)
		if run.Verdict == results.Fail {
			run.Diagnosis = results.Diagnose(run, cfg, f.Scenario.Thresholds)
		}
		f.Runs = append(f.Runs, run)
	}
	broken := results.Run{Config: "mine", MPM: "event", Error: "httpd rejected config \"mine\": AH00526: Syntax error on line 3"}
	results.Judge(&broken, f.Scenario.Thresholds)
	f.Runs = append(f.Runs, broken)
	return f
}

// Golden compares got with testdata/golden/name, or rewrites it with -update.
func Golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if string(got) != string(want) {
		out := filepath.Join(t.TempDir(), name)
		_ = os.WriteFile(out, got, 0o644)
		t.Errorf("%s differs from the golden file; got is in %s (diff them; -update rewrites)", path, out)
	}
}

// RepeatFixture is Fixture's first config run three times (twice served
// whole, once with 15 connections starved: flaky 2/3) and its second once
// more than it failed, as `run --repeat 3` builds them.
func RepeatFixture() *results.File {
	f := Fixture()
	f.Scenario.Repeat = 3
	first, second := f.Runs[0], f.Runs[1]
	var flaky, failing []results.Run
	for k, served := range []int{200, 185, 200} {
		r := first
		r.Connections.Served, r.Connections.Starved = served, 200-served
		r.LatencyMS.P99 += float64(k)
		r.ThroughputRPS += float64(10 * k)
		r.Repeat = k + 1
		results.Judge(&r, f.Scenario.Thresholds)
		flaky = append(flaky, r)
		s := second
		s.Repeat = k + 1
		failing = append(failing, s)
	}
	f.Runs = []results.Run{results.Aggregate(flaky), results.Aggregate(failing)}
	return f
}
