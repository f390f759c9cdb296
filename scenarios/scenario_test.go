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
