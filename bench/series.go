package bench

import (
	"math"
	"sync"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Point is one second of a run, counted by completion time over all phases.
type Point struct {
	// Second numbers the point: the run's n-th second ends at n. Shards'
	// points merge by it. When the machine stalls, one point can cover
	// several seconds.
	Second int `json:"s"`
	// T is the end of the second, in seconds since the run started; the
	// last point may cover less than a second.
	T     float64 `json:"t"`
	Phase Phase   `json:"phase"` // the phase the second began in
	Open  int64   `json:"open"`  // connections open at T
	OK    int64   `json:"ok"`    // responses that arrived in the second
	// Late counts answers that arrived after their request had timed out
	// (and was counted as dropped): the server did send them.
	Late int64 `json:"late,omitempty"`
	// Reconnects counts connections opened again in the second because
	// the server had closed them.
	Reconnects int64            `json:"reconnects,omitempty"`
	Errors     map[string]int64 `json:"errors,omitempty"`
	// P99US is the 99th percentile of the second's OK latencies, from the
	// intended send time; 0 when none arrived.
	P99US int64 `json:"p99_us"`
	// CPUMS is the CPU time the generator's processes used in the second
	// (user and system, ms); SendLateUS the latest the generator reached a
	// due slot on a free connection in it (µs).
	CPUMS      int64 `json:"cpu_ms,omitempty"`
	SendLateUS int64 `json:"send_late_us,omitempty"`

	latency *hdrhistogram.Histogram // for merging shards
}

// newSecondHistogram holds one second's latencies: 2 significant figures
// are plenty for a plotted p99 and keep a run's series small.
func newSecondHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, maxLatencyUS, 2)
}

type seriesTicker struct {
	r    *runner
	done chan struct{}
	// endTaken closes once a point at or after the window's end is
	// recorded: connections stay open until then, so that the window's
	// last point counts them.
	endTaken chan struct{}
	endOnce  sync.Once
	wg       sync.WaitGroup
	points   []Point
	lastOK   int64
	lastLt   int64
	lastRc   int64
	lastEr   [numClasses]int64
	lastCPU  time.Duration
	// latency is every OK response's latency so far, all phases, for the
	// Progress callback (only with one).
	latency *hdrhistogram.Histogram
}

// newSeriesTicker samples r once a second until stop, and feeds the
// Progress callback.
func newSeriesTicker(r *runner) *seriesTicker {
	s := &seriesTicker{r: r, done: make(chan struct{}), endTaken: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		timer := time.NewTimer(time.Until(r.start.Add(time.Second)))
		defer timer.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-timer.C:
				now := time.Now()
				s.point(now, int(math.Round(now.Sub(r.start).Seconds())))
				if !now.Before(r.endAt()) {
					s.endOnce.Do(func() { close(s.endTaken) })
				}
				// The next whole second, skipping any the process slept through.
				next := now.Sub(r.start).Truncate(time.Second) + time.Second
				timer.Reset(time.Until(r.start.Add(next)))
			}
		}
	}()
	return s
}

func (s *seriesTicker) point(now time.Time, second int) {
	r := s.r
	elapsed := now.Sub(r.start)
	if elapsed <= 0 {
		return // a shard waiting for the common start
	}
	from := r.start
	if n := len(s.points); n > 0 {
		from = from.Add(time.Duration(s.points[n-1].T * float64(time.Second)))
	}
	if n := len(s.points); n > 0 && second <= s.points[n-1].Second {
		second = s.points[n-1].Second + 1
	}
	p := Point{Second: max(second, 1), T: elapsed.Seconds(), Phase: r.phaseAt(from), Open: r.open.Load(), latency: newSecondHistogram()}
	for i := range r.recs {
		rec := &r.recs[i]
		rec.mu.Lock()
		p.latency.Merge(rec.thisSecnd)
		rec.thisSecnd.Reset()
		rec.mu.Unlock()
	}
	if p.latency.TotalCount() > 0 {
		p.P99US = p.latency.ValueAtQuantile(99)
	}
	if r.opts.Progress != nil {
		if s.latency == nil {
			s.latency = newSecondHistogram()
		}
		s.latency.Merge(p.latency)
	}
	ok := r.okAll.Load()
	p.OK, s.lastOK = ok-s.lastOK, ok
	late := r.lateAll.Load()
	p.Late, s.lastLt = late-s.lastLt, late
	rc := r.reconnectsAll.Load()
	p.Reconnects, s.lastRc = rc-s.lastRc, rc
	cpu := processCPU()
	if s.lastCPU == 0 {
		s.lastCPU = r.cpuAtStart
	}
	p.CPUMS, s.lastCPU = cpu.Milliseconds()-s.lastCPU.Milliseconds(), cpu // whole ms of the running total: nothing lost to rounding
	p.SendLateUS = r.sendLateMax.Swap(0)
	for c := range numClasses {
		n := r.errsAll[c].Load()
		if d := n - s.lastEr[c]; d > 0 {
			if p.Errors == nil {
				p.Errors = map[string]int64{}
			}
			p.Errors[c.String()] = d
		}
		s.lastEr[c] = n
	}
	s.points = append(s.points, p)
	if r.opts.Progress != nil {
		errs := map[string]int64{}
		for c := range numClasses {
			if n := s.lastEr[c]; n > 0 {
				errs[c.String()] = n
			}
		}
		r.opts.Progress(Progress{
			Phase: r.phaseAt(now), Elapsed: elapsed, Open: p.Open, OK: ok, Failed: r.failedAll.Load(),
			Measured: r.phaseAt(now) == PhaseMeasure, Errors: errs, P99US: p.P99US, Latency: s.latency,
			Left:    max(0, time.Duration(r.measureOff.Load())+r.opts.Duration-elapsed),
			Stalled: r.stalled(now),
		})
	}
}

// stop ends the ticker, adds the last partial second and returns the series.
func (s *seriesTicker) stop() []Point {
	close(s.done)
	s.wg.Wait()
	s.point(time.Now(), 0) // numbered after the last full second
	return s.points
}

// stalled counts the connections that have waited for an answer for more
// than StallAfter at now.
func (r *runner) stalled(now time.Time) int64 {
	before := now.Add(-StallAfter).UnixNano()
	var n int64
	for i := range r.stats {
		if w := r.stats[i].waitingSince.Load(); w != 0 && w < before {
			n++
		}
	}
	return n
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
