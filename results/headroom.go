package results

import (
	"fmt"
	"math"
)

// Headroom is how much of each of its limits a config used at its peak in
// the measured window: what a rollout review asks before "it passed".
type Headroom struct {
	// CPUs is the CPU httpd had: its own CPUs (apart from the
	// generator's), its --cpus, or the host's; PeakCPUPct is its busiest
	// second's CPU against them (0: unknown).
	CPUs       float64 `json:"cpus"`
	PeakCPUPct float64 `json:"peak_cpu_pct,omitempty"`
	// WindowCPUPct is its CPU over the whole measured window against them.
	WindowCPUPct float64 `json:"window_cpu_pct,omitempty"`
	// PeakMemoryPct is the peak memory against its limit (--memory).
	MemoryLimitMB float64 `json:"memory_limit_mb,omitempty"`
	PeakMemoryPct float64 `json:"peak_memory_pct,omitempty"`
	// Workers is MaxRequestWorkers as httpd runs it; PeakWorkersPct the
	// peak busy workers against it.
	Workers        int     `json:"workers,omitempty"`
	PeakWorkersPct float64 `json:"peak_workers_pct,omitempty"`
	// ConnectionLimit is how many connections the MPM's directives let
	// httpd hold (event: MaxRequestWorkers x (AsyncRequestWorkerFactor +
	// 1); prefork: one per process), ConnectionLimitHow the formula, and
	// ConnectionsPct the target against it.
	ConnectionLimit    int     `json:"connection_limit,omitempty"`
	ConnectionLimitHow string  `json:"connection_limit_how,omitempty"`
	ConnectionsPct     float64 `json:"connections_pct,omitempty"`
}

// HeadroomOf is run's headroom, with httpd on cpus CPUs, workers
// MaxRequestWorkers and the directives' connection limit (how: its
// formula).
func HeadroomOf(run Run, cpus float64, workers, limit int, how string) *Headroom {
	h := &Headroom{CPUs: cpus, Workers: workers, ConnectionLimit: limit, ConnectionLimitHow: how}
	pct := func(a, b float64) float64 { return math.Round(a/b*100*10) / 10 }
	if limit > 0 {
		h.ConnectionsPct = pct(float64(run.Connections.Target), float64(limit))
	}
	s := run.Server
	if s == nil {
		return h
	}
	if workers > 0 && s.PeakBusyWorkers >= 0 {
		h.PeakWorkersPct = pct(float64(s.PeakBusyWorkers), float64(workers))
	}
	if s.MemoryLimitMB > 0 && s.MemoryPeakMB > 0 {
		h.MemoryLimitMB, h.PeakMemoryPct = s.MemoryLimitMB, pct(s.MemoryPeakMB, s.MemoryLimitMB)
	}
	if cpus > 0 {
		h.PeakCPUPct = pct(peakCPU(run), cpus)
		if run.MeasuredS > 0 {
			h.WindowCPUPct = pct(max(windowCPU(run), 0)/run.MeasuredS, cpus)
		}
	}
	return h
}

// peakCPU is httpd's busiest second in the measured window, in CPUs:
// over spans of at least minCPUSpan between readings, since two readings
// close together (one delayed by a slow status page, the next on time)
// make a tiny span whose quotient means nothing.
func peakCPU(run Run) float64 {
	from, to := run.MeasureStartS, run.MeasureStartS+run.MeasuredS
	var peak float64
	pts := run.Server.Series
	i := 0
	for j := 1; j < len(pts); j++ {
		for i < j && pts[j].T-pts[i+1].T >= minCPUSpan {
			i++ // the latest reading at least minCPUSpan before j
		}
		a, b := pts[i], pts[j]
		if a.CPUSeconds < 0 || b.CPUSeconds < 0 || b.T-a.T < minCPUSpan || a.T < from || b.T > to+0.5 {
			continue
		}
		peak = max(peak, (b.CPUSeconds-a.CPUSeconds)/(b.T-a.T))
	}
	return peak
}

// minCPUSpan is the shortest span over which peakCPU takes a rate.
const minCPUSpan = 0.9

// Lines say the headroom in words, one per limit that is known.
func (h *Headroom) Lines() []string {
	if h == nil {
		return nil
	}
	var out []string
	if h.PeakCPUPct > 0 {
		line := fmt.Sprintf("CPU %.0f%% of its %s at the busiest second", h.PeakCPUPct, CPUCount(h.CPUs))
		if h.WindowCPUPct > 0 {
			line += fmt.Sprintf(" (%.0f%% over the window)", h.WindowCPUPct)
		}
		out = append(out, line)
	}
	if h.PeakMemoryPct > 0 {
		out = append(out, fmt.Sprintf("memory %.0f%% of its %g MB", h.PeakMemoryPct, h.MemoryLimitMB))
	}
	if h.Workers > 0 && h.PeakWorkersPct > 0 {
		out = append(out, fmt.Sprintf("busy workers %.0f%% of MaxRequestWorkers %d", h.PeakWorkersPct, h.Workers))
	}
	switch {
	case h.ConnectionLimit > 0 && h.ConnectionsPct > 100:
		out = append(out, fmt.Sprintf("its directives allow %d connections (%s), fewer than the %.0f asked for", h.ConnectionLimit, h.ConnectionLimitHow, h.ConnectionsPct*float64(h.ConnectionLimit)/100))
	case h.ConnectionLimit > 0:
		out = append(out, fmt.Sprintf("connections %.0f%% of the %d its directives allow (%s)", h.ConnectionsPct, h.ConnectionLimit, h.ConnectionLimitHow))
	}
	return out
}

// Projection is a config's measured costs carried onto the production
// host: how many connections its memory and its CPUs would hold at the
// same rate per connection. It is an estimate, and Assumes says on what.
type Projection struct {
	CPUs                float64 `json:"cpus"`
	MemoryMB            float64 `json:"memory_mb"`
	ConnectionsByMemory int     `json:"connections_by_memory,omitempty"`
	ConnectionsByCPU    int     `json:"connections_by_cpu,omitempty"`
	// DirectiveLimit is what the config's directives hold whatever the
	// host (Headroom.ConnectionLimit); 0 unknown.
	DirectiveLimit int    `json:"directive_limit,omitempty"`
	Assumes        string `json:"assumes"`
}

// ProjectOnto carries run's costs onto a host of cpus CPUs and memoryMB:
// memory as the base httpd used before any load plus what each held
// connection added, CPU as httpd's CPU per connection over the window.
// nil when run measured neither.
func ProjectOnto(run Run, rate, cpus, memoryMB float64) *Projection {
	s := run.Server
	if s == nil || run.Connections.Served == 0 {
		return nil
	}
	p := &Projection{CPUs: cpus, MemoryMB: memoryMB,
		Assumes: fmt.Sprintf("costs grow in proportion to connections, as measured here at %d connections and %g requests a second each, on CPUs as fast as this host's", run.Connections.Served, rate)}
	if s.MemoryPerConnKB > 0 && memoryMB > s.MemoryStartMB {
		p.ConnectionsByMemory = int((memoryMB - s.MemoryStartMB) * 1024 / s.MemoryPerConnKB)
	}
	if cpu := windowCPU(run); cpu > 0 && run.MeasuredS > 0 {
		perConn := cpu / run.MeasuredS / float64(run.Connections.Served) // CPUs per connection
		p.ConnectionsByCPU = int(cpus / perConn)
	}
	if p.ConnectionsByMemory == 0 && p.ConnectionsByCPU == 0 {
		return nil
	}
	return p
}

// windowCPU is httpd's CPU seconds over the measured window.
func windowCPU(run Run) float64 {
	from, to := run.MeasureStartS, run.MeasureStartS+run.MeasuredS
	first, last := -1.0, -1.0
	for _, p := range run.Server.Series {
		if p.CPUSeconds < 0 || p.T < from || p.T > to+0.5 {
			continue
		}
		if first < 0 {
			first = p.CPUSeconds
		}
		last = p.CPUSeconds
	}
	return last - first
}

// Line says the projection in words, marked as one.
func (p *Projection) Line() string {
	if p == nil {
		return ""
	}
	s := fmt.Sprintf("projected onto production (%s, %g MB): ", CPUCount(p.CPUs), p.MemoryMB)
	switch {
	case p.ConnectionsByMemory > 0 && p.ConnectionsByCPU > 0:
		s += fmt.Sprintf("memory for about %d connections, CPU for about %d", p.ConnectionsByMemory, p.ConnectionsByCPU)
	case p.ConnectionsByMemory > 0:
		s += fmt.Sprintf("memory for about %d connections", p.ConnectionsByMemory)
	default:
		s += fmt.Sprintf("CPU for about %d connections", p.ConnectionsByCPU)
	}
	if lim := p.DirectiveLimit; lim > 0 && (lim < p.ConnectionsByMemory || lim < p.ConnectionsByCPU) {
		s += fmt.Sprintf(", but its directives hold %d whatever the host", lim)
	}
	return s + "; a projection: it assumes " + p.Assumes
}
