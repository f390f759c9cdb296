package results

import "testing"

// TestTrim: deltas read as numbers, never in exponent form.
func TestTrim(t *testing.T) {
	for v, want := range map[float64]string{3258: "3258", 12000.4: "12000", 18.6: "18.6", 26: "26", 0.123456: "0.123", -4000: "-4000"} {
		if got := Trim(v); got != want {
			t.Errorf("Trim(%g) = %q, want %q", v, got, want)
		}
	}
}
