package loadcheck

import (
	"time"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/observe"
	"github.com/loadcheck/loadcheck/promwrite"
	"github.com/loadcheck/loadcheck/scenarios"
	"github.com/loadcheck/loadcheck/settle"
)

// progressFor makes the generator's progress callback: the live display, and
// for an auto warm-up the settler, which sends on measureFrom once the
// server has settled. settled says why the warm-up ended, once it has.
func (s *settings) progressFor(l scenarios.Load, label string, session *observe.Session) (progress func(bench.Progress), measureFrom chan time.Time, settled func() string) {
	settled = func() string { return "" }
	var settler *settle.Settler
	if l.WarmUp == bench.WarmUpAuto {
		measureFrom = make(chan time.Time, 1)
		settler = settle.New(l.Connections, l.RatePerConn, session.Latest)
		settled = settler.Reason
	}
	if settler == nil && s.live == nil {
		return nil, nil, settled
	}
	return func(p bench.Progress) {
		if settler != nil && settler.Tick(p) {
			measureFrom <- time.Now().Add(settle.Margin)
			s.logf("%s warm-up ends after %s: %s", label, (p.Elapsed - l.MeasureStart() + l.WarmUpLimit()).Round(time.Second), settler.Reason())
		}
		if s.live != nil {
			s.live(label, p)
		}
	}, measureFrom, settled
}

// withLiveMetrics adds the live metrics push (WithPromRemoteWrite) to progress:
// each second's samples are queued, so that a slow receiver never holds
// the generator up.
func (s *settings) withLiveMetrics(progress func(bench.Progress), runID, config string, session *observe.Session) func(bench.Progress) {
	if s.prom == nil {
		return progress
	}
	return func(p bench.Progress) {
		if progress != nil {
			progress(p)
		}
		now := time.Now()
		pt, ok := session.Latest()
		s.prom.Send(now, progressSamples(p, runID, config, pt, ok, now))
	}
}

// progressSamples is one second's live metrics (promwrite.Live) from the
// generator's progress p and the server's latest reading pt (when ok).
func progressSamples(p bench.Progress, runID, config string, pt observe.Point, ok bool, now time.Time) []promwrite.Sample {
	l := promwrite.Live{Phase: string(p.Phase), Open: p.Open, OK: p.OK, Failed: p.Failed, Errors: p.Errors, P99Seconds: float64(p.P99US) / 1e6}
	if h := p.Latency; h != nil {
		for _, b := range h.Distribution() {
			if b.Count > 0 {
				l.Latency = append(l.Latency, promwrite.Count{Seconds: float64(b.To) / 1e6, N: uint64(b.Count)})
			}
		}
	}
	if ok {
		l.Server = &promwrite.ServerLive{BusyWorkers: pt.BusyWorkers, Processes: pt.Processes, MemoryBytes: pt.MemoryMB * (1 << 20)}
	}
	return l.Samples(runID, config, now)
}

// closeLiveMetrics sends the live metrics still queued, and says how the
// pushes went.
func (s *settings) closeLiveMetrics() {
	if s.prom == nil {
		return
	}
	s.prom.Close(3 * time.Second)
	switch pushed, failed, last := s.prom.Counts(); {
	case failed > 0:
		s.logf("warning: %d of %d live-metric pushes to %s failed (the last: %v); the run's own numbers are complete", failed, pushed, s.prom.URL, last)
	default:
		s.logf("pushed live metrics %d times to %s", pushed, s.prom.URL)
	}
	if err := s.prom.NativeRefused(); err != nil {
		s.logf("the receiver refused native histograms (%v): latency went as classic buckets only (Prometheus takes them with --enable-feature=native-histograms)", err)
	}
}
