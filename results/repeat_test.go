package results

import (
	"fmt"
	"strings"
	"testing"
)

func rep(k int, verdict string, served int, p99 float64, reasons ...string) Run {
	return Run{Config: "c", Repeat: k, Verdict: verdict, Reasons: reasons, Connections: Connections{Target: 10, Served: served},
		LatencyMS: Latency{P99: p99}, ThroughputRPS: float64(served)}
}

func TestAggregate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reps    []Run
		verdict string
		label   string
		served  Range
		p99     float64 // the median repeat's
	}{
		{"all pass", []Run{rep(1, Pass, 10, 3), rep(2, Pass, 10, 1), rep(3, Pass, 10, 2)}, Pass, "PASS 3/3", Range{10, 10, 10}, 2},
		{"flaky", []Run{rep(1, Pass, 10, 3), rep(2, Fail, 7, 9, "served 7 of 10"), rep(3, Pass, 10, 2)}, Flaky, "FLAKY 2/3", Range{10, 7, 10}, 3},
		{"all fail", []Run{rep(1, Fail, 6, 3, "x"), rep(2, Fail, 7, 9, "y"), rep(3, Fail, 8, 2, "z")}, Fail, "FAIL 0/3", Range{7, 6, 8}, 9},
		// An even count: the median value is the mean of the middle two,
		// and the median repeat the worse of them.
		{"even", []Run{rep(1, Pass, 10, 3), rep(2, Fail, 8, 9, "x")}, Flaky, "FLAKY 1/2", Range{9, 8, 10}, 9},
		{"one error", []Run{rep(1, Pass, 10, 3), {Config: "c", Repeat: 2, Verdict: Error, Error: "no start", Reasons: []string{"no start"}}, rep(3, Pass, 10, 2)}, Error, "ERROR 2/3", Range{10, 10, 10}, 3},
	} {
		got := Aggregate(tc.reps)
		if got.Verdict != tc.verdict || got.VerdictLabel() != tc.label {
			t.Errorf("%s: verdict %s (%s), want %s (%s)", tc.name, got.Verdict, got.VerdictLabel(), tc.verdict, tc.label)
		}
		if got.Spread.Served != tc.served || got.LatencyMS.P99 != tc.p99 || got.Repeat != 0 || len(got.Repeats) != len(tc.reps) {
			t.Errorf("%s: served %+v, p99 %g, repeat %d, %d repeats; want %+v, %g, 0, %d", tc.name, got.Spread.Served, got.LatencyMS.P99, got.Repeat, len(got.Repeats), tc.served, tc.p99, len(tc.reps))
		}
		for _, r := range tc.reps {
			for _, why := range r.Reasons {
				if !strings.Contains(strings.Join(got.Reasons, "\n"), fmt.Sprintf("repeat %d: %s", r.Repeat, why)) {
					t.Errorf("%s: reasons %q miss repeat %d's %q", tc.name, got.Reasons, r.Repeat, why)
				}
			}
		}
	}
	// One reason from several repeats is said once.
	same := Aggregate([]Run{rep(1, Fail, 6, 3, "x"), rep(2, Fail, 7, 9, "x"), rep(3, Pass, 10, 2)})
	if strings.Join(same.Reasons, "|") != "repeats 1, 2: x" {
		t.Errorf("reasons %q, want one line naming repeats 1 and 2", same.Reasons)
	}
	// A config run once is returned as it is.
	one := rep(1, Fail, 7, 9, "x")
	if got := Aggregate([]Run{one}); got.Spread != nil || got.Repeats != nil || got.Verdict != Fail || got.VerdictLabel() != "FAIL" || got.Reasons[0] != "x" {
		t.Errorf("single run: %+v", got)
	}
}
