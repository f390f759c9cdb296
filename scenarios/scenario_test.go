package scenarios

import (
	"strings"
	"testing"
)

func TestLoadValidate(t *testing.T) {
	l := DefaultLoad()
	if err := l.Validate(); err != nil {
		t.Fatalf("default load invalid: %v", err)
	}
	l.Connections = -5
	if err := l.Validate(); err == nil || !strings.Contains(err.Error(), "connections") {
		t.Errorf("got %v, want an error naming connections", err)
	}
	if err := (Thresholds{MinServedPct: 120, MaxP99: 1}).Validate(); err == nil {
		t.Error("served 120% accepted")
	}
}

// The target is probed for a limit more than half of it above, with
// near_target, unless the directives set that limit.
func TestProbeTarget(t *testing.T) {
	c := Capacity{Arrival: ArrivalNearTarget, PrecisionPct: 5}
	for _, tc := range []struct {
		maxPass, limit int
		want           bool
	}{
		{7600, 24000, true},  // event-tuned: far above, its directives allow far more
		{7999, 8000, false},  // worker-tuned: its MaxRequestWorkers
		{7600, 0, true},      // no directive limit known
		{6000, 24000, false}, // within half the target
	} {
		if got := c.ProbeTarget(tc.maxPass, 4000, tc.limit); got != tc.want {
			t.Errorf("limit %d (directives %d): probe the target %v, want %v", tc.maxPass, tc.limit, got, tc.want)
		}
	}
	if (Capacity{PrecisionPct: 5}).ProbeTarget(7600, 4000, 24000) {
		t.Error("arrival always probed the target")
	}
}
