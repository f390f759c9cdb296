package results

import (
	"math"
	"slices"
)

// Alpha is the significance level of compare's test on repeats.
const Alpha = 0.05

// worseP is the one-sided p-value of a Mann–Whitney U test that the values
// in next are worse than those in base (larger when higherBetter is false,
// smaller when it is true): the share of all ways to split the pooled
// values into groups of these sizes whose U is at least the one observed.
// Ties count a half. Up to 200,000 splits are enumerated exactly (10
// repeats on each side need 184,756); beyond that the normal
// approximation with a tie correction is used.
func worseP(base, next []float64, higherBetter bool) float64 {
	m, n := len(next), len(base)
	if m == 0 || n == 0 {
		return 1
	}
	pool := make([]float64, 0, m+n)
	for _, v := range append(append([]float64{}, next...), base...) {
		if higherBetter {
			v = -v // larger is now worse
		}
		pool = append(pool, v)
	}
	observed := uStat(pool[:m], pool[m:])
	if binom(m+n, m) > 200000 {
		return normalP(pool, m, observed)
	}
	var atLeast, total float64
	pick := make([]bool, m+n)
	var walk func(i, left int)
	walk = func(i, left int) {
		if left == 0 {
			var a, b []float64
			for j, v := range pool {
				if pick[j] {
					a = append(a, v)
				} else {
					b = append(b, v)
				}
			}
			total++
			if uStat(a, b) >= observed-1e-9 {
				atLeast++
			}
			return
		}
		if m+n-i < left {
			return
		}
		pick[i] = true
		walk(i+1, left-1)
		pick[i] = false
		walk(i+1, left)
	}
	walk(0, m)
	return atLeast / total
}

// uStat counts the pairs (x in a, y in b) with x > y, ties a half.
func uStat(a, b []float64) float64 {
	var u float64
	for _, x := range a {
		for _, y := range b {
			switch {
			case x > y:
				u++
			case x == y:
				u += 0.5
			}
		}
	}
	return u
}

func binom(n, k int) float64 {
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}

// normalP is the one-sided p-value of U under the normal approximation,
// with the variance corrected for ties and a continuity correction.
func normalP(pool []float64, m int, u float64) float64 {
	n := len(pool) - m
	N := float64(m + n)
	sorted := slices.Clone(pool)
	slices.Sort(sorted)
	var ties float64
	for i := 0; i < len(sorted); {
		j := i
		for j < len(sorted) && sorted[j] == sorted[i] {
			j++
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	mean := float64(m*n) / 2
	variance := float64(m*n) / 12 * ((N + 1) - ties/(N*(N-1)))
	if variance <= 0 {
		return 1
	}
	z := (u - mean - 0.5) / math.Sqrt(variance)
	return 0.5 * math.Erfc(z/math.Sqrt2)
}

// smallestP is the smallest one-sided p-value worseP can give for m base
// and n new values: every new value worse than every base value. For the
// exact test it is 1/C(m+n, m): 2 against 2 repeats give 0.17, 2 against
// 3 give 0.1, 3 against 3 give 0.05.
func smallestP(m, n int) float64 {
	base, next := make([]float64, m), make([]float64, n)
	for i := range next {
		next[i] = 1
	}
	return worseP(base, next, false)
}
