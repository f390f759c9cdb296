package results

import (
	"strings"
	"testing"

	"github.com/loadcheck/loadcheck/bench"
)

// TestEstimateHandshakeCPU: 1.1 s of CPU in the first 3 s, of which 1200
// requests at the window's 100 µs explain 0.12 s; 1000 connections opened
// with 20 reconnects: 0.98 s over 1020 handshakes.
func TestEstimateHandshakeCPU(t *testing.T) {
	run := func() *Run {
		return &Run{
			TLS:           &TLS{Handshakes: 1100},
			MeasureStartS: 5, MeasuredS: 3,
			Series: []bench.Point{{T: 1, Open: 500}, {T: 2, Open: 1000, Reconnects: 20}, {T: 3, Open: 1000}, {T: 4, Open: 1000, Reconnects: 80}},
			Server: &Server{Series: []ServerPoint{
				{T: -0.001, CPUSeconds: 0, TotalAccesses: 0},
				{T: 1, CPUSeconds: 0.5, TotalAccesses: 100},
				{T: 3, CPUSeconds: 1.1, TotalAccesses: 1200},
				{T: 5, CPUSeconds: 2.0, TotalAccesses: 5000},
				{T: 8, CPUSeconds: 2.3, TotalAccesses: 8000},
			}},
		}
	}
	r := run()
	r.EstimateHandshakeCPU(2)
	if got := r.TLS.ServerCPUPerHandshakeUS; got != 960.8 || !strings.Contains(r.TLS.ServerCPUHow, "over 1020 connections opened or reopened") {
		t.Errorf("estimate %g µs (%s), want 960.8 over 1020 connections", got, r.TLS.ServerCPUHow)
	}
	r = run()
	r.Server.Series[2].CPUSeconds = -1 // the cgroup could not be read
	r.EstimateHandshakeCPU(2)
	if r.TLS.ServerCPUPerHandshakeUS != 0 || !strings.HasPrefix(r.TLS.ServerCPUHow, "not estimated: no CPU reading") {
		t.Errorf("without CPU readings: %g (%s)", r.TLS.ServerCPUPerHandshakeUS, r.TLS.ServerCPUHow)
	}
	r = run()
	r.Server.Series[2].CPUSeconds = 0.1 // requests explain all of it
	r.EstimateHandshakeCPU(2)
	if r.TLS.ServerCPUPerHandshakeUS != 0 || !strings.Contains(r.TLS.ServerCPUHow, "all of it explained by 1200 requests") {
		t.Errorf("nothing left for handshakes: %g (%s)", r.TLS.ServerCPUPerHandshakeUS, r.TLS.ServerCPUHow)
	}
	plain := &Run{}
	plain.EstimateHandshakeCPU(2) // no TLS: nothing to do, no panic
}
