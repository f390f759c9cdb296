package loadcheck

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/backend"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/observe"
	"github.com/loadcheck/loadcheck/provider"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

// runOnce loads cfg once against a fresh server while the observers read
// what it exposes, and turns what both sides saw into its result,
// unjudged. The server always stops.
func (s *settings) runOnce(ctx context.Context, sc scenarios.Scenario, cfg apache.Config, runID, label string) (results.Run, error) {
	r, err := s.start(ctx, sc, cfg, runID, label)
	if err != nil {
		return results.Run{}, err
	}
	defer r.stop()
	sc.Load, cfg = r.load, r.cfg
	ep := r.ep
	ready := "loading " + ep.URL + ";"
	if ep.Version != "" {
		ready = ep.Version + " ready at " + ep.URL + ";"
	}
	speaks := ""
	if sc.Load.HTTP2() {
		speaks = fmt.Sprintf(" speaking %s, up to %d streams each,", sc.Load.Protocol, sc.Load.StreamsPerConn())
	}
	s.logf("%s %s opening %d connections%s over %s%s", label, ready, sc.Load.Connections, speaks, sc.Load.Ramp, s.generator.Describe())
	progress, measureFrom, settled := s.progressFor(sc.Load, label, r.session)
	progress = s.withLiveMetrics(progress, runID, cfg.Name, r.session)
	var sw *switcher
	if s.rollout != nil {
		if sw, err = s.newSwitcher(ctx, r.srv, label, cfg.Proxy); err != nil {
			r.session.Stop()
			return results.Run{}, err
		}
		progress = sw.progress(ctx, progress, s.logf, label)
	}
	res, err := s.generator.Generate(ctx, ep.URL, bench.Options{Load: sc.Load, Progress: progress, MeasureFrom: measureFrom})
	observed := r.session.Stop()
	if err != nil {
		return results.Run{}, err
	}
	run := s.record(ctx, sc, r, res, observed, settled(), label)
	if sw != nil {
		at, err := sw.done()
		if err != nil {
			return results.Run{}, fmt.Errorf("switch to %s: %w", s.rollout.To.Name, err)
		}
		run.Rollout = results.RolloutOf(run, cfg.Name, s.rollout.To.Name, s.rollout.How, at.Sub(res.Started).Seconds())
		run.HTTPDConf += "\n# loadcheck rollout: switched (" + s.rollout.How + ") to " + s.rollout.To.Name + "\n"
	}
	return run, nil
}

// record is one load's result: the generator's accounting, and the
// server's side as the observers saw it and the endpoint still tells.
func (s *settings) record(ctx context.Context, sc scenarios.Scenario, r *ready, res *bench.Result, observed observe.Report, settled, label string) results.Run {
	cfg, ep := r.cfg, r.ep
	run := results.FromBench(cfg, res)
	// The schedule's own start: shard processes begin a moment after the
	// call, and every offset (the series, the window) counts from it.
	started := res.Started
	run.LoadStartedAt, run.MeasureStartS = started.UTC(), res.MeasureStart.Seconds()
	run.WarmUpS, run.WarmUpEnded = warmUpUsed(sc.Load, res, settled)
	run.Image, run.ImageID = s.desc.Image, s.desc.ImageID
	if sc.Load.HTTP2() {
		run.Protocol, run.Streams = sc.Load.Protocol, sc.Load.StreamsPerConn()
	}
	run.HTTPDConf, run.HTTPDVersion = ep.Conf, ep.Version
	run.Adjustments, run.Host = ep.Adjustments, ep.Host
	if observed.KernelErr != nil {
		s.logf("%s kernel listen counters unavailable: %v", label, observed.KernelErr)
	}
	if ep.Sources.StatusURL == "" && ep.Sources.Netstat == "" {
		return run // nothing of the server can be observed
	}
	alignSeries(observed, started)
	run.Server = serverSide(ctx, ep, cfg, observed, run.Connections, started.Add(res.MeasureStart+sc.Load.Duration), func(err error) {
		s.logf("%s %v", label, err)
	})
	run.EstimateHandshakeCPU(sc.Load.RampTime().Seconds())
	if u := ep.Sources.StatusURL; sc.Load.HTTP2() && u != "" {
		if p, err := observe.FetchProtocols(ctx, observe.StatusClient, u); err != nil {
			s.logf("%s the protocols httpd served: %v", label, err)
		} else {
			run.Server.Protocols = p
		}
	}
	if sc.Load.HTTP2() && run.Server.PeakThreads > 0 {
		run.Server.H2MinWorkers, run.Server.H2MaxWorkers = cfg.H2Workers()
	}
	if r.be != nil {
		run.Server.Backend = backendSeen(sc.Workload.Backend, r.be.Stats())
	}
	run.Server.PHPFPM = observed.FPM
	if died := diedDuring(ctx, ep, started); died != "" {
		run.Server.Died = died
		s.logf("%s %s", label, died)
	}
	return run
}

// warmUpUsed is the warm-up as it ran, and why it ended.
func warmUpUsed(l scenarios.Load, res *bench.Result, reason string) (float64, string) {
	used := math.Round((res.MeasureStart-l.MeasureStart()+l.WarmUpLimit()).Seconds()*10) / 10
	switch {
	case l.WarmUp != bench.WarmUpAuto:
		return used, "fixed"
	case reason == "":
		return used, fmt.Sprintf("the server did not settle within the cap (%s)", l.WarmUpLimit())
	}
	return used, reason
}

// diedDuring says when and how httpd exited during the load, or "" when
// it is still running, was killed for memory (a result, counted as an OOM
// kill), or cannot be asked.
func diedDuring(ctx context.Context, ep provider.Endpoint, started time.Time) string {
	if ep.Exited == nil {
		return ""
	}
	e := ep.Exited(ctx)
	if !e.Exited || e.OOM {
		return ""
	}
	when := "during the load"
	if !e.At.IsZero() && !started.IsZero() {
		when = fmt.Sprintf("%s into the load", e.At.Sub(started).Round(100*time.Millisecond))
	}
	return fmt.Sprintf("httpd exited %s (%s); the numbers are what was measured until the load ended", when, e.How)
}

// alignSeries makes the server series count from the schedule's start,
// like the client's: the sampler starts before the generator, and shard
// processes begin their schedule a moment after they are started.
func alignSeries(observed observe.Report, started time.Time) {
	if observed.Started.IsZero() || started.IsZero() {
		return
	}
	shift := observed.Started.Sub(started).Seconds()
	for i := range observed.Stats.Points {
		p := &observed.Stats.Points[i]
		p.T = math.Round((p.T+shift)*1000) / 1000
	}
}

// serverSide is the result's server part: what the observers saw
// (results.ServerFrom), and what only the endpoint can still read: an OOM
// kill the engine saw, the access logs' lines, and the error log
// (Server.ReadErrorLog). windowEnd is when the measured window ended:
// event's busy shutdowns after it are the client's own teardown.
func serverSide(ctx context.Context, ep provider.Endpoint, cfg apache.Config, observed observe.Report, conns results.Connections, windowEnd time.Time, logErr func(error)) *results.Server {
	srv := results.ServerFrom(observed, conns, cfg.MemoryBytes, cfg.CPUs, ep.Nofile)
	if srv.OOMKills == 0 && ep.OOMKilled != nil && ep.OOMKilled(ctx) {
		srv.OOMKills = 1 // httpd itself, observed by the engine after its cgroup went away
	}
	if ep.Sources.AccessLogs != nil {
		if lines, err := ep.Sources.AccessLogs(ctx); err != nil {
			logErr(fmt.Errorf("count the access logs' lines: %w", err))
		} else {
			srv.AccessLogLines = lines
		}
	}
	if ep.Sources.ErrorLog == nil {
		return srv
	}
	logCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	text, err := ep.Sources.ErrorLog(logCtx)
	if err != nil {
		logErr(fmt.Errorf("read httpd's error log: %w", err))
		return srv
	}
	srv.ReadErrorLog(text, windowEnd)
	return srv
}

// backendSeen is the result's view of what the backend saw.
func backendSeen(w scenarios.Backend, stats backend.Stats) *results.Backend {
	ms := func(p float64) float64 {
		return math.Round(float64(backend.At(stats.Waits, p).Microseconds())/10) / 100
	}
	return &results.Backend{Path: w.Path, Latency: w.Latency, Requests: stats.Requests, PeakConcurrency: stats.PeakConcurrency,
		WaitMS: results.Latency{P50: ms(0.5), P90: ms(0.9), P99: ms(0.99), P999: ms(0.999), Max: ms(1)}}
}
