package results

import (
	"math"
	"testing"
)

func TestWorseP(t *testing.T) {
	for _, tc := range []struct {
		name         string
		base, next   []float64
		higherBetter bool
		want         float64
	}{
		// 3 against 3 completely separated: 1 of the 20 splits.
		{"p99 all worse", []float64{1, 2, 3}, []float64{4, 5, 6}, false, 0.05},
		{"p99 all better", []float64{4, 5, 6}, []float64{1, 2, 3}, false, 1},
		{"served all worse", []float64{4000, 4000, 3990}, []float64{3700, 3600, 3650}, true, 0.05},
		// Identical samples: every split has U = 4.5 (all ties).
		{"all equal", []float64{4000, 4000, 4000}, []float64{4000, 4000, 4000}, true, 1},
		// One overlap: U = 8 of 9; splits with U >= 8 are 2 of 20.
		{"one overlap", []float64{1, 2, 5}, []float64{3, 6, 7}, false, 0.1},
	} {
		if got := worseP(tc.base, tc.next, tc.higherBetter); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: p = %g, want %g", tc.name, got, tc.want)
		}
	}
	// The normal approximation agrees with the exact test where both apply.
	base := []float64{10, 12, 11, 13, 9, 10, 12, 11, 14, 10}
	next := []float64{13, 15, 12, 16, 14, 13, 15, 17, 12, 14}
	exact := worseP(base, next, false)
	pool := append(append([]float64{}, next...), base...)
	approx := normalP(pool, len(next), uStat(next, base))
	if exact > 0.01 || math.Abs(exact-approx) > 0.005 {
		t.Errorf("exact p %g, normal approximation %g: want both small and close", exact, approx)
	}
}
