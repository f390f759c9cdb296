package results

import (
	"strings"
	"testing"
)

// A run with its server series: httpd at 0.5 CPU in the window's busiest
// second, 150 of 400 workers at peak, 300 of 1024 MB, 2000 of the 4800
// connections its directives allow; projected onto 4 CPUs and 4 GB.
func TestHeadroomAndProjection(t *testing.T) {
	run := Run{Config: "c", Connections: Connections{Target: 2000, Served: 2000}, MeasureStartS: 10, MeasuredS: 4,
		Server: &Server{PeakBusyWorkers: 150, MemoryPeakMB: 300, MemoryLimitMB: 1024, MemoryStartMB: 100, MemoryPerConnKB: 100,
			Series: []ServerPoint{{T: 9, CPUSeconds: 0}, {T: 10, CPUSeconds: 5}, {T: 11, CPUSeconds: 5.3}, {T: 12, CPUSeconds: 5.8},
				{T: 13, CPUSeconds: 6.2}, {T: 14, CPUSeconds: 6.6}, {T: 15, CPUSeconds: 9}}}}
	h := HeadroomOf(run, 1, 400, 4800, "MaxRequestWorkers x (AsyncRequestWorkerFactor 2 + 1)")
	if h.PeakCPUPct != 50 || h.WindowCPUPct != 40 || h.PeakWorkersPct != 37.5 || h.PeakMemoryPct != 29.3 || h.ConnectionsPct != 41.7 {
		t.Errorf("headroom %+v: want CPU 50%% at the busiest second and 40%% over the window (not the 5 s before the window, nor the teardown after), workers 37.5%%, memory 29.3%%, connections 41.7%%", h)
	}
	if l := strings.Join(h.Lines(), "; "); !strings.Contains(l, "CPU 50% of its 1 CPU at the busiest second (40% over the window)") || !strings.Contains(l, "connections 42% of the 4800") {
		t.Errorf("lines: %s", l)
	}
	p := ProjectOnto(run, 1, 4, 4096)
	// Memory: (4096-100) MB / 100 KB; CPU: 1.6 s over 4 s for 2000 = 0.0002 CPU each.
	if p == nil || p.ConnectionsByMemory != 40919 || p.ConnectionsByCPU != 20000 || !strings.Contains(p.Line(), "a projection: it assumes costs grow in proportion") {
		t.Errorf("projection %+v: %s", p, p.Line())
	}
	if p.DirectiveLimit = 4800; !strings.Contains(p.Line(), "but its directives hold 4800 whatever the host") {
		t.Errorf("the directives' cap is not said: %s", p.Line())
	}
	over := HeadroomOf(Run{Connections: Connections{Target: 4000}}, 1, 150, 150, "MaxRequestWorkers: one process per connection")
	if l := strings.Join(over.Lines(), "; "); !strings.Contains(l, "its directives allow 150 connections (MaxRequestWorkers: one process per connection), fewer than the 4000 asked for") {
		t.Errorf("a target above the directives: %s", l)
	}
	if ProjectOnto(Run{Connections: Connections{Served: 0}, Server: &Server{}}, 1, 4, 4096) != nil {
		t.Error("a projection from nothing served")
	}
}

// A reading delayed by a slow status page lands 66 ms before the next,
// with the CPU of the second before it: the busiest second is taken over
// spans of about a second, never over those 66 ms (the soak of
// 2026-12-05 said "CPU 1015% of its 1 CPU" from such a pair).
func TestPeakCPUCloseReadings(t *testing.T) {
	run := Run{MeasureStartS: 10, MeasuredS: 4, Server: &Server{Series: []ServerPoint{
		{T: 10, CPUSeconds: 1}, {T: 11, CPUSeconds: 1.4}, {T: 11.934, CPUSeconds: 1.8}, {T: 12, CPUSeconds: 2.47}, {T: 13, CPUSeconds: 2.9}, {T: 14, CPUSeconds: 3.3}}}}
	// The busiest span: 11 to 12 s, 1.07 CPU-seconds over a second.
	if got := peakCPU(run); got < 1.06 || got > 1.08 {
		t.Errorf("peak %.3f CPUs, want 1.07 (11 to 12 s), not 10.2 (11.934 to 12 s)", got)
	}
}
