package results_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/loadcheck/loadcheck/internal/testfix"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

func verdictOf(c results.Comparison, config, metric string) string {
	for _, d := range c.Configs {
		if d.Config != config {
			continue
		}
		for _, x := range d.Deltas {
			if x.Metric == metric {
				return x.Verdict
			}
		}
	}
	return "absent"
}

func TestCompareVerdicts(t *testing.T) {
	base := testfix.Fixture()
	self := results.Compare(base, testfix.Fixture(), results.DefaultNoise())
	if self.Regressions != 0 || len(self.Warnings) != 0 {
		t.Fatalf("a run against itself: %d regressions, warnings %v", self.Regressions, self.Warnings)
	}
	for _, d := range self.Configs {
		for _, x := range d.Deltas {
			if x.Verdict != "same" {
				t.Errorf("%s %s: %s against itself", d.Config, x.Metric, x.Verdict)
			}
		}
	}

	tests := []struct {
		name           string
		change         func(f *results.File)
		metric, want   string
		regressedCount int
	}{
		{"p99 up 100% and 20 ms", func(f *results.File) { f.Runs[0].LatencyMS.P99 = 40 }, "p99 ms", "regression", 1},
		{"p99 up 40% but 8 ms: within the floor", func(f *results.File) { f.Runs[0].LatencyMS.P99 = 28.4 }, "p99 ms", "same", 0},
		{"p50 up 60% but 1 ms: within the floor", func(f *results.File) { f.Runs[0].LatencyMS.P50 = 7.0; f.Runs[0].LatencyMS.P99 = 20 }, "p50 ms", "same", 0},
		{"p99 up 12 ms but 5%: within the relative noise", func(f *results.File) { f.Runs[0].LatencyMS.P99 += 12 }, "p99 ms", "same", 0},
		{"p99 down a lot", func(f *results.File) { f.Runs[0].LatencyMS.P99 = 5 }, "p99 ms", "better", 0},
		{"fewer served in a failing config", func(f *results.File) { f.Runs[1].Connections.Served = 100 }, "served", "regression", 1},
		{"more served", func(f *results.File) { f.Runs[1].Connections.Served = 200 }, "served", "better", 0},
		{"3% fewer served: beyond the 1% served threshold", func(f *results.File) { f.Runs[1].Connections.Served = 145 }, "served", "regression", 1},
		{"one fewer served of 150: within it", func(f *results.File) { f.Runs[1].Connections.Served = 149 }, "served", "same", 0},
		{"throughput down 20%", func(f *results.File) { f.Runs[0].ThroughputRPS = 160 }, "req/s", "regression", 1},
		{"memory per connection up", func(f *results.File) { f.Runs[0].Server.MemoryPerConnKB = 150 }, "KB/conn", "regression", 1},
		{"drops from 0.0 to 0.05 points: within the floor", func(f *results.File) { f.Runs[0].Requests.DroppedPct = 0.05 }, "dropped %", "same", 0},
		{"drops from 0 to 2%", func(f *results.File) { f.Runs[0].Requests.DroppedPct = 2 }, "dropped %", "regression", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base, next := testfix.Fixture(), testfix.Fixture()
			if strings.Contains(tc.name, "relative noise") {
				base.Runs[0].LatencyMS.P99, next.Runs[0].LatencyMS.P99 = 240, 240
			}
			tc.change(next)
			c := results.Compare(base, next, results.DefaultNoise())
			config := "event-tuned"
			if strings.Contains(tc.name, "served") {
				config = "prefork-stock"
			}
			if got := verdictOf(c, config, tc.metric); got != tc.want {
				t.Errorf("%s: %s, want %s", tc.metric, got, tc.want)
			}
			if c.Regressions != tc.regressedCount {
				t.Errorf("%d regressions, want %d: %+v", c.Regressions, tc.regressedCount, c.Configs)
			}
		})
	}

	// A pass that turns into a fail regresses even when every metric is
	// within the noise.
	next := testfix.Fixture()
	next.Runs[0].Verdict = results.Fail
	if c := results.Compare(base, next, results.DefaultNoise()); c.Regressions != 1 || !strings.Contains(strings.Join(c.Configs[0].Why, ";"), "verdict pass -> fail") {
		t.Errorf("pass -> fail: %+v", c.Configs[0])
	}
	// A config that vanished regresses; a new one does not.
	next = testfix.Fixture()
	next.Runs[0].Config = "event-bigger"
	c := results.Compare(base, next, results.DefaultNoise())
	if c.Regressions != 1 || c.Configs[0].NewVerdict != "missing" || c.Configs[3].BaseVerdict != "missing" || c.Configs[3].Regression {
		t.Errorf("renamed config: %+v", c.Configs)
	}
	// A wider noise band forgives what the default flags.
	next = testfix.Fixture()
	next.Runs[0].LatencyMS.P99 = 40
	wide := results.DefaultNoise()
	wide.RelPct = 120
	if c := results.Compare(base, next, wide); c.Regressions != 0 {
		t.Errorf("--noise 60: %d regressions", c.Regressions)
	}
	next.Scenario.Load.Connections = 4000
	if c := results.Compare(base, next, results.DefaultNoise()); len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "different loads") {
		t.Errorf("different loads: warnings %v", c.Warnings)
	}
}

// A failing config that now could not even start, or that is gone, is a
// regression although the base did not pass.
func TestCompareFailToErrorAndMissing(t *testing.T) {
	base := testfix.Fixture()
	var failing string
	for _, r := range base.Runs {
		if r.Verdict == results.Fail {
			failing = r.Config
		}
	}
	next := testfix.Fixture()
	for i := range next.Runs {
		if next.Runs[i].Config == failing {
			next.Runs[i] = results.Run{Config: failing, MPM: next.Runs[i].MPM, Verdict: results.Error, Error: "start httpd: timeout"}
		}
	}
	c := results.Compare(base, next, results.DefaultNoise())
	for _, d := range c.Configs {
		if d.Config == failing && !d.Regression {
			t.Errorf("%s fail -> error: not a regression: %+v", failing, d)
		}
	}
	if failing == "" || c.Regressions == 0 {
		t.Errorf("fixture has failing config %q; regressions %d", failing, c.Regressions)
	}
	gone := testfix.Fixture()
	gone.Runs = gone.Runs[:0]
	for _, r := range testfix.Fixture().Runs {
		if r.Config != failing {
			gone.Runs = append(gone.Runs, r)
		}
	}
	if c := results.Compare(base, gone, results.DefaultNoise()); c.Regressions == 0 {
		t.Errorf("failing config %s missing: no regression", failing)
	}
}

// repeated is a file with one config "c" run once per value pair (served,
// p99), judged against the default thresholds of 10 connections.
func repeated(vals ...[2]float64) *results.File {
	f := &results.File{Header: results.Header{RunID: "r", Complete: true}}
	f.Scenario.Load.Connections, f.Scenario.Thresholds = 10, scenarios.DefaultThresholds()
	var reps []results.Run
	for k, v := range vals {
		r := results.Run{Config: "c", Repeat: k + 1, Connections: results.Connections{Target: 10, Served: int(v[0]), Starved: 10 - int(v[0])},
			Requests: results.Requests{Sent: 100, OK: 100}, LatencyMS: results.Latency{P50: 1, P99: v[1]}, ThroughputRPS: 10, Complete: true}
		results.Judge(&r, f.Scenario.Thresholds)
		reps = append(reps, r)
	}
	f.Runs = []results.Run{results.Aggregate(reps)}
	return f
}

// With repeats on both sides a change is a regression only when it is
// beyond the noise and beyond chance.
func TestCompareRepeats(t *testing.T) {
	noise := results.DefaultNoise()
	base := repeated([2]float64{10, 5}, [2]float64{10, 6}, [2]float64{10, 7})
	for _, tc := range []struct {
		name   string
		next   *results.File
		metric string
		want   string
	}{
		{"the same again", repeated([2]float64{10, 6}, [2]float64{10, 5}, [2]float64{10, 8}), "p99 ms", "same"},
		{"every repeat worse", repeated([2]float64{10, 30}, [2]float64{10, 40}, [2]float64{10, 35}), "p99 ms", "regression"},
		// The medians differ beyond the floor (6 -> 30 ms), but one new
		// repeat is as good as the base: 2 of 20 splits, p = 0.1.
		{"worse but overlapping", repeated([2]float64{10, 30}, [2]float64{10, 5.5}, [2]float64{10, 35}), "p99 ms", "same"},
		{"fewer served every time", repeated([2]float64{8, 5}, [2]float64{7, 6}, [2]float64{9, 7}), "served", "regression"},
	} {
		c := results.Compare(base, tc.next, noise)
		if got := verdictOf(c, "c", tc.metric); got != tc.want {
			t.Errorf("%s: %s %s, want %s (%+v)", tc.name, tc.metric, got, tc.want, c.Configs)
		}
		if c.Test == "" {
			t.Errorf("%s: the test used is not named", tc.name)
		}
	}
	// The single-run rule would call the overlapping case a regression.
	one := func(f *results.File) *results.File {
		g := *f
		g.Runs = []results.Run{f.Runs[0].Repeats[1]}
		g.Runs[0].Repeat = 0
		return &g
	}
	worse := repeated([2]float64{10, 30}, [2]float64{10, 5.5}, [2]float64{10, 35})
	worse.Runs[0].Repeats[1].LatencyMS.P99 = 30
	if got := verdictOf(results.Compare(one(base), one(worse), noise), "c", "p99 ms"); got != "regression" {
		t.Errorf("one run each: p99 6 -> 30 is %s, want regression", got)
	}
	// A pass that became flaky is a warning, not a regression by itself.
	flaky := repeated([2]float64{10, 6}, [2]float64{9, 5}, [2]float64{10, 7})
	c := results.Compare(base, flaky, noise)
	if c.Regressions != 0 || len(c.Warnings) == 0 || !strings.Contains(c.Warnings[0], "PASS 3/3 -> FLAKY 2/3") {
		t.Errorf("pass -> flaky: %d regressions, warnings %q: want a warning and no regression", c.Regressions, c.Warnings)
	}
	// ... but a pass that now always fails is.
	if c := results.Compare(base, repeated([2]float64{9, 6}, [2]float64{9, 5}, [2]float64{9, 7}), noise); c.Regressions != 1 {
		t.Errorf("pass -> fail 0/3: %d regressions", c.Regressions)
	}
}

// TestCompareFewRepeats: with too few repeats the exact test cannot reach
// Alpha (2 against 2: the smallest p is 1/6), so it can never call a
// change significant: compare says so and judges the medians as single
// runs are, and a tripled p99 is a regression. Errored repeats that
// shrink a sample are named.
func TestCompareFewRepeats(t *testing.T) {
	noise := results.DefaultNoise()
	base := repeated([2]float64{10, 5}, [2]float64{10, 6})
	c := results.Compare(base, repeated([2]float64{10, 16}, [2]float64{10, 19}), noise)
	if got := verdictOf(c, "c", "p99 ms"); got != "regression" || c.Regressions != 1 {
		t.Errorf("2 against 2, p99 tripled: %s, %d regressions; want a regression", got, c.Regressions)
	}
	if w := strings.Join(c.Warnings, "\n"); !strings.Contains(w, "2 against 2 measured repeats cannot reach p <= 0.05 (the smallest p is 0.17)") {
		t.Errorf("warnings %q: want the test's limit said", c.Warnings)
	}
	if c := results.Compare(base, repeated([2]float64{10, 6}, [2]float64{10, 5}), noise); c.Regressions != 0 {
		t.Errorf("2 against 2, the same again: %d regressions", c.Regressions)
	}

	// An errored repeat leaves 2 of 3: named, and the same fallback.
	errored := repeated([2]float64{10, 5}, [2]float64{10, 6}, [2]float64{10, 7})
	errored.Runs[0].Repeats[2].Error = "httpd did not start"
	c = results.Compare(errored, repeated([2]float64{10, 16}, [2]float64{10, 19}, [2]float64{10, 18}), noise)
	w := strings.Join(c.Warnings, "\n")
	if !strings.Contains(w, "1 of 3 base repeats were not measured (errored): the test uses 2") || c.Regressions != 1 {
		t.Errorf("an errored base repeat: %d regressions, warnings %q", c.Regressions, c.Warnings)
	}
	// A base with no measured repeat cannot make a metric regress: said.
	for i := range errored.Runs[0].Repeats {
		errored.Runs[0].Repeats[i].Error = "httpd did not start"
	}
	c = results.Compare(errored, repeated([2]float64{10, 16}, [2]float64{10, 19}, [2]float64{10, 18}), noise)
	if w := strings.Join(c.Warnings, "\n"); !strings.Contains(w, "no base repeat was measured (all 3 errored)") {
		t.Errorf("every base repeat errored: warnings %q", c.Warnings)
	}

	// PASS -> FLAKY with the p99 medians 6 -> 30 ms: the test says
	// chance (one new repeat as good as the base, p = 0.1), but a pass
	// lost in one repeat with a metric moved that far is a regression.
	flaky := repeated([2]float64{10, 30}, [2]float64{9, 5.5}, [2]float64{10, 35})
	c = results.Compare(repeated([2]float64{10, 5}, [2]float64{10, 6}, [2]float64{10, 7}), flaky, noise)
	if c.Regressions != 1 || !strings.Contains(strings.Join(c.Configs[0].Why, ";"), "PASS 3/3 -> FLAKY 2/3 with p99 ms worse beyond the noise") {
		t.Errorf("pass -> flaky with p99 6 -> 30: %d regressions, why %q", c.Regressions, c.Configs[0].Why)
	}
}

// TestCompareEnvironment: two runs on different machines, engines or
// images are named difference by difference.
func TestCompareEnvironment(t *testing.T) {
	base := repeated([2]float64{10, 5})
	next := repeated([2]float64{10, 5})
	base.Environment = results.Environment{LoadcheckVersion: "v1", CPUs: 2, CPUModel: "Xeon A", Kernel: "6.1", Hostname: "ci-1", DockerVersion: "28.2.2"}
	next.Environment = results.Environment{LoadcheckVersion: "v1", CPUs: 4, CPUModel: "EPYC B", Kernel: "6.1", Hostname: "ci-1", DockerVersion: "28.2.2"}
	base.Runs[0].Engine, next.Runs[0].Engine = "goroutine", "epoll"
	base.Runs[0].ImageID, next.Runs[0].ImageID = "sha256:aa", "sha256:aa"
	c := results.Compare(base, next, results.DefaultNoise())
	want := []string{"CPU Xeon A -> EPYC B", "cores 2 -> 4", "c: generator engine goroutine -> epoll"}
	if !slices.Equal(c.EnvDiffs, want) {
		t.Errorf("differences %q, want %q", c.EnvDiffs, want)
	}
	if w := strings.Join(c.Warnings, "\n"); !strings.Contains(w, "the runs ran on different environments (CPU Xeon A -> EPYC B; cores 2 -> 4; c: generator engine goroutine -> epoll)") {
		t.Errorf("warnings %q", c.Warnings)
	}
	if c := results.Compare(base, base, results.DefaultNoise()); len(c.EnvDiffs) != 0 {
		t.Errorf("a run against itself: differences %q", c.EnvDiffs)
	}
	// A new image digest, and another host: outside CI the host counts;
	// between two CI jobs it does not (runners are named afresh).
	next.Environment = base.Environment
	next.Environment.Hostname = "laptop"
	next.Runs[0].Engine, next.Runs[0].ImageID = "goroutine", "sha256:bb"
	if got, want := results.Compare(base, next, results.DefaultNoise()).EnvDiffs, []string{"host ci-1 -> laptop", "c: image sha256:aa -> sha256:bb"}; !slices.Equal(got, want) {
		t.Errorf("differences %q, want %q", got, want)
	}
	base.Environment.CI, next.Environment.CI = "GitHub Actions run 1 of o/r, attempt 1", "GitHub Actions run 2 of o/r, attempt 1"
	if got, want := results.Compare(base, next, results.DefaultNoise()).EnvDiffs, []string{"c: image sha256:aa -> sha256:bb"}; !slices.Equal(got, want) {
		t.Errorf("two CI runs: differences %q, want %q", got, want)
	}
}

// TestCompareInconclusive: a config whose new run was inconclusive (the
// generator at its limit) is not a regression, even from a pass, and its
// metrics are not compared; the comparison says why.
func TestCompareInconclusive(t *testing.T) {
	run := func(verdict string, p99 float64) results.Run {
		return results.Run{Config: "c", Verdict: verdict, Complete: true, Connections: results.Connections{Target: 10, Served: 10},
			Requests: results.Requests{Sent: 100, OK: 100}, LatencyMS: results.Latency{P99: p99}, MeasuredS: 5}
	}
	base := &results.File{Header: results.Header{RunID: "a", Complete: true}, Runs: []results.Run{run(results.Pass, 10)}}
	next := &results.File{Header: results.Header{RunID: "b", Complete: true}, Runs: []results.Run{run(results.Inconclusive, 900)}}
	c := results.Compare(base, next, results.DefaultNoise())
	if c.Regressions != 0 || len(c.Configs[0].Deltas) != 0 || !strings.Contains(strings.Join(c.Warnings, "\n"), "the new run is inconclusive") {
		t.Errorf("regressions %d, deltas %+v, warnings %q: want none compared, and why", c.Regressions, c.Configs[0].Deltas, c.Warnings)
	}
}
