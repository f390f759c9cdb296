package results

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Range is one metric over a config's measured repeats.
type Range struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Spread summarizes a config run several times.
type Spread struct {
	Repeats    int   `json:"repeats"`  // runs of the config
	Passed     int   `json:"passed"`   // of them, how many passed
	Measured   int   `json:"measured"` // of them, how many were measured (not setup errors)
	Served     Range `json:"served"`
	DroppedPct Range `json:"dropped_pct"`
	P99MS      Range `json:"p99_ms"`
	RPS        Range `json:"throughput_rps"`
}

// Count says how many repeats passed, as "2/3".
func (s *Spread) Count() string { return fmt.Sprintf("%d/%d", s.Passed, s.Repeats) }

// Aggregate folds one config's judged repeats, in the order they ran, into
// its result: the median repeat's full result (by connections served, then
// p99 latency, the worse of the two middle ones for an even count), with
// every repeat under Repeats and each headline metric's median and range
// under Spread. The verdict is pass when every repeat passed, fail when
// none did, flaky in between, and error when any could not be measured.
// The reasons are each failing repeat's, named by repeat. A single run is
// returned as it is.
func Aggregate(reps []Run) Run {
	if len(reps) == 1 {
		r := reps[0]
		r.Repeat = 0
		return r
	}
	sp := &Spread{Repeats: len(reps)}
	var measured []Run
	for _, r := range reps {
		if r.Verdict == Pass {
			sp.Passed++
		}
		if r.Measured() {
			measured = append(measured, r)
		}
	}
	sp.Measured = len(measured)
	out := reps[0]
	if len(measured) > 0 {
		slices.SortStableFunc(measured, func(a, b Run) int {
			return cmp.Or(cmp.Compare(a.Connections.Served, b.Connections.Served), cmp.Compare(b.LatencyMS.P99, a.LatencyMS.P99))
		})
		out = measured[(len(measured)-1)/2]
		sp.Served = rangeOf(measured, func(r Run) float64 { return float64(r.Connections.Served) })
		sp.DroppedPct = rangeOf(measured, func(r Run) float64 { return r.Requests.DroppedPct })
		sp.P99MS = rangeOf(measured, func(r Run) float64 { return r.LatencyMS.P99 })
		sp.RPS = rangeOf(measured, func(r Run) float64 { return r.ThroughputRPS })
	}
	out.Repeat, out.Repeats, out.Spread = 0, reps, sp
	out.Reasons, out.Diagnosis = nil, ""
	errored, inconclusive := false, false
	// The same reason from several repeats is said once, naming them all.
	var order []string
	which := map[string][]string{}
	for _, r := range reps {
		errored = errored || r.Verdict == Error
		inconclusive = inconclusive || r.Verdict == Inconclusive
		for _, why := range r.Reasons {
			if which[why] == nil {
				order = append(order, why)
			}
			which[why] = append(which[why], strconv.Itoa(r.Repeat))
		}
		if r.Diagnosis != "" && out.Diagnosis == "" {
			out.Diagnosis = fmt.Sprintf("repeat %d: %s", r.Repeat, r.Diagnosis)
		}
	}
	for _, why := range order {
		ks := which[why]
		if len(ks) == 1 {
			out.Reasons = append(out.Reasons, fmt.Sprintf("repeat %s: %s", ks[0], why))
		} else {
			out.Reasons = append(out.Reasons, fmt.Sprintf("repeats %s: %s", strings.Join(ks, ", "), why))
		}
	}
	switch {
	case errored:
		out.Verdict = Error
	case inconclusive:
		out.Verdict = Inconclusive // a repeat measured the test box, not the config
	case sp.Passed == sp.Repeats:
		out.Verdict = Pass
	case sp.Passed == 0:
		out.Verdict = Fail
	default:
		out.Verdict = Flaky
	}
	return out
}

// rangeOf is the median, min and max of f over runs; the median of an even
// count is the mean of the two middle values.
func rangeOf(runs []Run, f func(Run) float64) Range {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	slices.Sort(v)
	n := len(v)
	return Range{Median: (v[(n-1)/2] + v[n/2]) / 2, Min: v[0], Max: v[n-1]}
}

// VerdictLabel is a verdict as tables show it: "PASS", or "FLAKY 2/3" with
// the count of passing repeats for a config run several times.
func (r Run) VerdictLabel() string {
	v := map[string]string{Pass: "PASS", Fail: "FAIL", Error: "ERROR", Flaky: "FLAKY", Inconclusive: "INCONCLUSIVE"}[r.Verdict]
	if v == "" {
		v = r.Verdict
	}
	if r.Spread != nil {
		v += " " + r.Spread.Count()
	}
	return v
}
