package results

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Noise says how large a change must be before compare calls it a
// regression. A metric regresses only when it is worse by more than
// RelPct percent of the base value AND by more than its absolute floor, so
// that a p99 going from 1.1 to 1.4 ms on a shared machine is not news.
type Noise struct {
	RelPct       float64 `json:"rel_pct"`          // default 10
	LatencyMS    float64 `json:"latency_floor_ms"` // p50 and p99; default 2
	DroppedPts   float64 `json:"dropped_floor_pct_points"`
	MemPerConnKB float64 `json:"mem_per_conn_floor_kb"`
	// ServedPct is served connections' own relative threshold: they are
	// counted exactly, so a smaller change already matters.
	ServedPct     float64 `json:"served_rel_pct"`
	ThroughputRPS float64 `json:"throughput_floor_rps"`
}

// DefaultNoise is compare's default threshold.
func DefaultNoise() Noise {
	return Noise{RelPct: 10, ServedPct: 1, LatencyMS: 10, DroppedPts: 0.1, MemPerConnKB: 5, ThroughputRPS: 1}
}

// Delta is one metric of one config in both runs.
type Delta struct {
	Metric string  `json:"metric"`
	Base   float64 `json:"base"`
	New    float64 `json:"new"`
	// Verdict is "same" (within the noise), "better", "worse" (beyond the
	// relative threshold but not the floor, or the reverse) or "regression".
	Verdict string `json:"verdict"`
	// P is, when both runs have repeats, the one-sided Mann–Whitney
	// p-value that the change beyond the noise is real; Base and New are
	// then the medians over the repeats.
	P float64 `json:"p_value,omitempty"`
}

// ConfigDelta compares one config across two runs.
type ConfigDelta struct {
	Config      string   `json:"config"`
	BaseVerdict string   `json:"base_verdict"`
	NewVerdict  string   `json:"new_verdict"`
	Deltas      []Delta  `json:"deltas,omitempty"`
	Regression  bool     `json:"regression"`
	Why         []string `json:"why,omitempty"`
}

// Comparison is `loadcheck compare`'s result.
type Comparison struct {
	Base        string        `json:"base_run"`
	New         string        `json:"new_run"`
	Noise       Noise         `json:"noise"`
	Configs     []ConfigDelta `json:"configs"`
	Warnings    []string      `json:"warnings,omitempty"`
	Regressions int           `json:"regressions"`
	// Test names the statistical test used where both runs have repeats.
	Test string `json:"test,omitempty"`
	// EnvDiffs names each way the two runs' environments differ (host,
	// kernel, Docker, loadcheck, and per config the image, httpd and the
	// generator engine): each is also a warning, and an error with
	// compare --strict-env.
	EnvDiffs []string `json:"environment_differences,omitempty"`
}

// RepeatTest is the rule for configs with repeats on both sides.
var RepeatTest = fmt.Sprintf("with repeats on both sides, a metric regresses only when the medians differ beyond the noise and a one-sided Mann–Whitney U test gives p <= %g (3 against 3 repeats: only when every new repeat is worse than every base repeat; with fewer the test cannot reach it, and the medians are judged against the noise alone)", Alpha)

type metric struct {
	name         string
	get          func(Run) (float64, bool) // false when the run lacks it
	higherBetter bool
	floor        func(Noise) float64
	served       bool // judged by Noise.ServedPct instead of RelPct
}

var compared = []metric{
	{"served", func(r Run) (float64, bool) { return float64(r.Connections.Served), true }, true, func(Noise) float64 { return 0 }, true},
	{"dropped %", func(r Run) (float64, bool) { return r.Requests.DroppedPct, true }, false, func(n Noise) float64 { return n.DroppedPts }, false},
	{"p50 ms", func(r Run) (float64, bool) { return r.LatencyMS.P50, r.Requests.OK > 0 }, false, func(n Noise) float64 { return n.LatencyMS }, false},
	{"p99 ms", func(r Run) (float64, bool) { return r.LatencyMS.P99, r.Requests.OK > 0 }, false, func(n Noise) float64 { return n.LatencyMS }, false},
	{"req/s", func(r Run) (float64, bool) { return r.ThroughputRPS, true }, true, func(n Noise) float64 { return n.ThroughputRPS }, false},
	{"KB/conn", func(r Run) (float64, bool) {
		return memPerConn(r), memPerConn(r) > 0
	}, false, func(n Noise) float64 { return n.MemPerConnKB }, false},
}

func memPerConn(r Run) float64 {
	if r.Server == nil {
		return 0
	}
	return r.Server.MemoryPerConnKB
}

// ComparedMetrics are the metrics compare sets side by side, in order.
func ComparedMetrics() []string {
	names := make([]string, len(compared))
	for i, m := range compared {
		names[i] = m.name
	}
	return names
}

// Compare sets each config of next against the same config of base.
func Compare(base, next *File, n Noise) Comparison {
	c := Comparison{Base: base.RunID, New: next.RunID, Noise: n}
	bl, nl := base.Scenario.Load, next.Scenario.Load
	if bl.Connections != nl.Connections || bl.RatePerConn != nl.RatePerConn || bl.ClosedLoop != nl.ClosedLoop || bl.Duration != nl.Duration {
		c.Warnings = append(c.Warnings, fmt.Sprintf("the runs offered different loads (base: %d connections, %g req/s each, %s; new: %d, %g, %s): the deltas compare unlike things",
			bl.Connections, bl.RatePerConn, bl.Duration, nl.Connections, nl.RatePerConn, nl.Duration))
	}
	if !base.Complete {
		c.Warnings = append(c.Warnings, "the base run is incomplete")
	}
	if !next.Complete {
		c.Warnings = append(c.Warnings, "the new run is incomplete")
	}
	c.EnvDiffs = EnvDiffs(base, next)
	if len(c.EnvDiffs) > 0 {
		c.Warnings = append(c.Warnings, fmt.Sprintf("the runs ran on different environments (%s): a delta may be the environment's, not the config's",
			strings.Join(c.EnvDiffs, "; ")))
	}
	newRuns := map[string]Run{}
	for _, r := range next.Runs {
		newRuns[r.Config] = r
	}
	seen := map[string]bool{}
	for _, b := range base.Runs {
		seen[b.Config] = true
		nr, ok := newRuns[b.Config]
		d := ConfigDelta{Config: b.Config, BaseVerdict: b.Verdict, NewVerdict: "missing"}
		if !ok {
			d.Regression, d.Why = true, []string{"the config is missing from the new run"}
			c.Configs = append(c.Configs, d)
			continue
		}
		d, warns := compareConfig(b, nr, n)
		c.Warnings = append(c.Warnings, warns...)
		if len(b.Repeats) > 1 && len(nr.Repeats) > 1 {
			c.Test = RepeatTest
		}
		c.Configs = append(c.Configs, d)
	}
	for _, r := range next.Runs {
		if !seen[r.Config] {
			c.Configs = append(c.Configs, ConfigDelta{Config: r.Config, BaseVerdict: "missing", NewVerdict: r.Verdict, Why: []string{"new config: nothing to compare with"}})
		}
	}
	for _, d := range c.Configs {
		if d.Regression {
			c.Regressions++
		}
	}
	return c
}

// compareMetric sets metric m of base against next. With repeats on both
// sides the values are the medians over the measured repeats, and, when
// tested, a change beyond the noise must also pass the one-sided
// Mann–Whitney test at Alpha (untested: too few repeats for the test to
// reach Alpha, see repeatPower, and the medians are judged as single
// runs' values are); otherwise it is the two runs' own values. beyond
// reports a change worse beyond the noise, before the test; ok is false
// when either lacks the metric.
func compareMetric(m metric, base, next Run, n Noise, repeated, tested bool) (d Delta, beyond, ok bool) {
	rel := n.RelPct
	if m.served {
		rel = n.ServedPct
	}
	if !repeated {
		bv, bok := m.get(base)
		nv, nok := m.get(next)
		if !bok || !nok {
			return Delta{}, false, false
		}
		d = Delta{Metric: m.name, Base: bv, New: nv, Verdict: judgeDelta(bv, nv, m.higherBetter, rel, m.floor(n))}
		return d, d.Verdict == "regression", true
	}
	bs, ns := samples(m, base), samples(m, next)
	if len(bs) == 0 || len(ns) == 0 {
		return Delta{}, false, false
	}
	d = Delta{Metric: m.name, Base: median(bs), New: median(ns)}
	d.Verdict = judgeDelta(d.Base, d.New, m.higherBetter, rel, m.floor(n))
	beyond = d.Verdict == "regression"
	if !tested {
		return d, beyond, true
	}
	switch d.Verdict {
	case "regression":
		d.P = worseP(bs, ns, m.higherBetter)
	case "better":
		d.P = worseP(ns, bs, m.higherBetter)
	}
	if d.P > Alpha {
		d.Verdict = "same" // beyond the noise floor, but not beyond chance
	}
	return d, beyond, true
}

// repeatPower says whether the repeats of base and next that were
// measured can show a change at Alpha, and what the comparison must say
// of them: repeats that errored and shrank a sample, a side with none
// measured, too few to reach Alpha (then the medians are judged against
// the noise alone, as single runs are).
func repeatPower(base, next Run) (tested bool, warns []string) {
	nb, nn := measuredRepeats(base), measuredRepeats(next)
	for _, side := range []struct {
		name    string
		got, of int
	}{{"base", nb, len(base.Repeats)}, {"new", nn, len(next.Repeats)}} {
		switch {
		case side.got == 0:
			warns = append(warns, fmt.Sprintf("no %s repeat was measured (all %d errored): its metrics cannot be compared", side.name, side.of))
		case side.got < side.of:
			warns = append(warns, fmt.Sprintf("%d of %d %s repeats were not measured (errored): the test uses %d", side.of-side.got, side.of, side.name, side.got))
		}
	}
	if nb == 0 || nn == 0 {
		return false, warns
	}
	if p := smallestP(nb, nn); p > Alpha {
		warns = append(warns, fmt.Sprintf("%d against %d measured repeats cannot reach p <= %g (the smallest p is %.2g): the medians are judged against the noise alone, as single runs are; 3 against 3 is the least that can show a change",
			nb, nn, Alpha, p))
		return false, warns
	}
	return true, warns
}

// measuredRepeats counts r's repeats that were measured.
func measuredRepeats(r Run) int {
	n := 0
	for _, rep := range r.Repeats {
		if rep.Measured() {
			n++
		}
	}
	return n
}

// EnvDiffs names each way next's environment differs from base's, where
// both record it: the host (CPU model and cores, kernel, and its name
// unless both ran in CI, whose runners are named afresh), the Docker engine, loadcheck, and per config the image, httpd's version
// and the generator engine.
func EnvDiffs(base, next *File) []string {
	var out []string
	diff := func(what, b, n string) {
		if b != "" && n != "" && b != n {
			out = append(out, fmt.Sprintf("%s %s -> %s", what, b, n))
		}
	}
	be, ne := base.Environment, next.Environment
	diff("CPU", be.CPUModel, ne.CPUModel)
	if be.CPUs > 0 && ne.CPUs > 0 && be.CPUs != ne.CPUs {
		out = append(out, fmt.Sprintf("cores %d -> %d", be.CPUs, ne.CPUs))
	}
	diff("kernel", be.Kernel, ne.Kernel)
	if be.CI == "" || ne.CI == "" { // CI runners are named afresh for every job
		diff("host", be.Hostname, ne.Hostname)
	}
	diff("Docker", be.DockerVersion, ne.DockerVersion)
	diff("loadcheck", be.LoadcheckVersion, ne.LoadcheckVersion)
	newRuns := map[string]Run{}
	for _, r := range next.Runs {
		newRuns[r.Config] = r
	}
	for _, b := range base.Runs {
		n, ok := newRuns[b.Config]
		if !ok {
			continue
		}
		diff(b.Config+": image", b.ImageID, n.ImageID)
		diff(b.Config+": httpd", b.HTTPDVersion, n.HTTPDVersion)
		diff(b.Config+": generator engine", b.Engine, n.Engine)
	}
	return out
}

// samples is metric m over r's measured repeats.
func samples(m metric, r Run) []float64 {
	var v []float64
	for _, rep := range r.Repeats {
		if x, ok := m.get(rep); ok && rep.Measured() {
			v = append(v, x)
		}
	}
	return v
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
}

// judgeDelta calls a change a regression only when it is worse beyond both
// the relative threshold and the absolute floor.
func judgeDelta(base, next float64, higherBetter bool, relPct, floor float64) string {
	diff := next - base
	if higherBetter {
		diff = -diff // positive: worse
	}
	rel := math.Inf(1)
	if base != 0 {
		rel = 100 * math.Abs(diff) / math.Abs(base)
	} else if diff == 0 {
		rel = 0
	}
	beyond := rel > relPct && math.Abs(diff) > floor
	switch {
	case !beyond:
		return "same"
	case diff > 0:
		return "regression"
	}
	return "better"
}

// Trim is v with three significant digits, whole numbers from 1000 up
// (3258, not 3.26e+03).
func Trim(v float64) string {
	if math.Abs(v) >= 1000 {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimSuffix(fmt.Sprintf("%.3g", v), ".0")
}

// PctChange is the change from base to next in percent, as "+12.5%",
// "±0%", or "new" from nothing.
func PctChange(base, next float64) string {
	if base == 0 {
		if next == 0 {
			return "±0%"
		}
		return "new"
	}
	return fmt.Sprintf("%+.1f%%", 100*(next-base)/base)
}

// compareConfig is one config's delta between base run b and new run nr:
// the verdicts, each compared metric, whether it regressed and why, and
// the warnings the comparison gives.
func compareConfig(b, nr Run, n Noise) (d ConfigDelta, warnings []string) {
	d = ConfigDelta{Config: b.Config, BaseVerdict: b.Verdict}
	d.NewVerdict = nr.Verdict
	repeated := len(b.Repeats) > 1 && len(nr.Repeats) > 1
	if repeated {
		d.BaseVerdict, d.NewVerdict = b.VerdictLabel(), nr.VerdictLabel()
	}
	// A run whose generator was the limit measured the test box: it is
	// no evidence either way, so nothing of it is compared.
	for _, side := range []struct {
		name string
		r    Run
	}{{"base", b}, {"new", nr}} {
		if side.r.Verdict == Inconclusive {
			return d, []string{fmt.Sprintf("%s: the %s run is inconclusive (its generator, not the server, was the limit): not compared", b.Config, side.name)}
		}
	}
	// A pass lost is a regression, and so is a config that could be
	// measured before and now could not be started, whatever its
	// verdict. With repeats, a pass that became flaky is not by itself:
	// one repeat in three is within the noise of a config near its
	// edge; the metrics' test decides.
	flaky := repeated && b.Verdict == Pass && nr.Verdict == Flaky
	if !flaky && ((b.Verdict == Pass && nr.Verdict != Pass) || (nr.Verdict == Error && b.Verdict != Error)) {
		d.Regression = true
		d.Why = append(d.Why, fmt.Sprintf("verdict %s -> %s", d.BaseVerdict, d.NewVerdict))
	}
	tested := repeated
	if repeated {
		var warns []string
		tested, warns = repeatPower(b, nr)
		for _, w := range warns {
			warnings = append(warnings, b.Config+": "+w)
		}
	}
	var moved []string // metrics whose medians are worse beyond the noise, whatever the test says
	if b.Measured() && nr.Measured() {
		for _, m := range compared {
			if x, beyond, ok := compareMetric(m, b, nr, n, repeated, tested); ok {
				d.Deltas = append(d.Deltas, x)
				if beyond {
					moved = append(moved, m.name)
				}
				if x.Verdict == "regression" {
					d.Regression = true
					d.Why = append(d.Why, fmt.Sprintf("%s %s -> %s (%s)", m.name, Trim(x.Base), Trim(x.New), PctChange(x.Base, x.New)))
				}
			}
		}
	}
	// A pass that became flaky is not a regression by itself (one
	// repeat in three fails for a config near its edge), but it is
	// with a metric that moved beyond the noise or failed the test.
	switch {
	case flaky && (d.Regression || len(moved) > 0):
		d.Regression = true
		d.Why = append([]string{fmt.Sprintf("verdict %s -> %s with %s worse beyond the noise", d.BaseVerdict, d.NewVerdict, strings.Join(moved, ", "))}, d.Why...)
	case flaky:
		warnings = append(warnings, fmt.Sprintf("%s: %s -> %s; not a regression by itself, and no metric moved beyond the noise", b.Config, d.BaseVerdict, d.NewVerdict))
	}
	return d, warnings
}
