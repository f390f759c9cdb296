package results

import (
	"fmt"
	"math"
	"strings"

	"github.com/loadcheck/loadcheck/bench"
)

// SoakMinWindow is the shortest measured window that gets a soak summary:
// two minutes, for a per-minute series and a memory slope worth a look.
const SoakMinWindow = 120.0 // seconds

// Soak is a long window summed up (run --soak): a compact per-minute
// series, httpd's memory growth per hour, and the processes that ended.
type Soak struct {
	Minutes []SoakMinute `json:"minutes"`
	// MemoryMBPerHour is the slope of a least-squares line through the
	// container's memory readings in the window, in MB per hour, and
	// MemoryMBPerHourSE its standard error (the slope's 95 % interval is
	// about ±1.96 of it); both 0 with fewer than 3 readings, and
	// MemoryReadings says how many there were.
	MemoryMBPerHour   float64 `json:"memory_mb_per_hour"`
	MemoryMBPerHourSE float64 `json:"memory_mb_per_hour_se"`
	MemoryReadings    int     `json:"memory_readings"`
	MemoryStartMB     float64 `json:"memory_start_mb"`
	MemoryEndMB       float64 `json:"memory_end_mb"`
	// MemoryFitStartMB is the fitted line at the window's start, so that
	// a plot can draw it: MemoryFitStartMB + MemoryMBPerHour x hours.
	MemoryFitStartMB float64 `json:"memory_fit_start_mb"`
	// ProcessesEnded is the httpd processes that ended in the window
	// (recycled, stopped as spare); -1 unknown.
	ProcessesEnded int `json:"processes_ended"`
}

// SoakMinute is one minute of the window (the last may be shorter).
type SoakMinute struct {
	Minute int `json:"minute"` // 1 is the window's first
	Tally
	// MemoryMB is the container's memory at the minute's last reading
	// (-1 unknown); ProcessesEnded the httpd processes that ended in it.
	MemoryMB       float64 `json:"memory_mb"`
	ProcessesEnded int     `json:"processes_ended"`
	// PeakGraceful is the most slots finishing gracefully (G on the
	// scoreboard) at one reading: processes recycled or stopped still
	// holding their slots.
	PeakGraceful int `json:"peak_graceful_slots"`
}

// SoakOf sums up run's window minute by minute, when it lasted
// SoakMinWindow or more; nil otherwise.
func SoakOf(run Run) *Soak {
	if !run.Measured() || run.MeasuredS < SoakMinWindow {
		return nil
	}
	start, end := run.MeasureStartS, run.MeasureStartS+run.MeasuredS
	s := &Soak{ProcessesEnded: -1, MemoryStartMB: -1, MemoryEndMB: -1}
	minute := func(t float64) *SoakMinute {
		i := int(math.Max(t-start, 0) / 60)
		for len(s.Minutes) <= i {
			s.Minutes = append(s.Minutes, SoakMinute{Minute: len(s.Minutes) + 1, MemoryMB: -1})
		}
		return &s.Minutes[i]
	}
	for _, p := range run.Series {
		if p.Phase != bench.PhaseMeasure {
			continue
		}
		minute(p.T - 0.5).add(p) // the second's middle
	}
	var xs, ys []float64
	if srv := run.Server; srv != nil {
		ended := -1
		for _, p := range srv.Series {
			if p.T < start || p.T > end {
				if p.T < start {
					ended = p.ProcessesEnded
				}
				continue
			}
			m := minute(p.T)
			if ended >= 0 && p.ProcessesEnded >= ended {
				m.ProcessesEnded += p.ProcessesEnded - ended
				s.ProcessesEnded = max(s.ProcessesEnded, 0) + p.ProcessesEnded - ended
			}
			ended = p.ProcessesEnded
			m.PeakGraceful = max(m.PeakGraceful, p.Scoreboard["G"])
			if p.MemoryMB >= 0 {
				m.MemoryMB = p.MemoryMB
				xs, ys = append(xs, p.T), append(ys, p.MemoryMB)
			}
		}
	}
	s.MemoryReadings = len(xs)
	if len(xs) > 0 {
		s.MemoryStartMB, s.MemoryEndMB = ys[0], ys[len(ys)-1]
	}
	if slope, se, ok := fitSlope(xs, ys); ok {
		s.MemoryMBPerHour, s.MemoryMBPerHourSE = round2(slope*3600), round2(se*3600)
		var mx, my float64
		for i := range xs {
			mx, my = mx+xs[i]/float64(len(xs)), my+ys[i]/float64(len(ys))
		}
		s.MemoryFitStartMB = round2(my + slope*(start-mx))
	}
	return s
}

// fitSlope is the least-squares slope of ys against xs and its standard
// error; false with fewer than 3 points or xs all alike.
func fitSlope(xs, ys []float64) (slope, se float64, ok bool) {
	n := float64(len(xs))
	if len(xs) < 3 {
		return 0, 0, false
	}
	var mx, my float64
	for i := range xs {
		mx, my = mx+xs[i], my+ys[i]
	}
	mx, my = mx/n, my/n
	var sxx, sxy float64
	for i := range xs {
		sxx += (xs[i] - mx) * (xs[i] - mx)
		sxy += (xs[i] - mx) * (ys[i] - my)
	}
	if sxx == 0 {
		return 0, 0, false
	}
	slope = sxy / sxx
	var rss float64
	for i := range xs {
		r := ys[i] - (my + slope*(xs[i]-mx))
		rss += r * r
	}
	return slope, math.Sqrt(rss / (n - 2) / sxx), true
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// Lines say the soak in words: its summary, then one line a minute.
func (s *Soak) Lines() []string {
	if s == nil {
		return nil
	}
	var dropped, worst int64
	worstAt := 0
	for _, m := range s.Minutes {
		if d := m.DroppedTotal(); d > 0 {
			dropped += d
			if d > worst {
				worst, worstAt = d, m.Minute
			}
		}
	}
	head := fmt.Sprintf("soak over %d minutes: ", len(s.Minutes))
	if s.MemoryReadings >= 3 {
		head += fmt.Sprintf("memory %s -> %s MB, %+.2f MB an hour (±%.2f, 95 %%, from %d readings)", Num(s.MemoryStartMB), Num(s.MemoryEndMB), s.MemoryMBPerHour, 1.96*s.MemoryMBPerHourSE, s.MemoryReadings)
	} else {
		head += "memory not readable"
	}
	if s.ProcessesEnded >= 0 {
		head += fmt.Sprintf("; %d httpd processes ended", s.ProcessesEnded)
	}
	if dropped > 0 {
		head += fmt.Sprintf("; %d requests dropped, most in minute %d (%d)", dropped, worstAt, worst)
	} else {
		head += "; no request dropped"
	}
	out := []string{head, "  min       ok  dropped  reconnects  worst p99 ms  memory MB  ended  peak G"}
	for _, m := range s.Minutes {
		mem := "-"
		if m.MemoryMB >= 0 {
			mem = Num(m.MemoryMB)
		}
		drops := fmt.Sprint(m.DroppedTotal())
		if len(m.Dropped) > 0 {
			drops += " (" + strings.ReplaceAll(classes(m.Dropped), ", ", "; ") + ")"
		}
		out = append(out, fmt.Sprintf("  %3d %8d  %7s  %10d  %12s  %9s  %5d  %6d", m.Minute, m.OK, drops, m.Reconnects, Num(m.WorstP99MS), mem, m.ProcessesEnded, m.PeakGraceful))
	}
	return out
}
