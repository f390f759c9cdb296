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
	"github.com/loadcheck/loadcheck/promwrite"
	"github.com/loadcheck/loadcheck/provider"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
	"github.com/loadcheck/loadcheck/settle"
)

// statusInterval is how often mod_status is read during a load.
const statusInterval = time.Second

// store is a run folder, or nothing when dir is "".
type store struct{ dir string }

func newStore(parent, runID string) (store, error) {
	if parent == "" {
		return store{}, nil
	}
	dir, err := results.CreateRunDir(parent, runID)
	return store{dir: dir}, err
}

func (st store) save(f *results.File) error {
	if st.dir == "" {
		return nil
	}
	return f.Save(st.dir)
}

func (st store) where() string {
	if st.dir == "" {
		return "not stored"
	}
	return "storing results in " + st.dir
}

// loadConfig starts the server for cfg, loads it while the observers read
// what it exposes, and always stops it.
func (s *settings) loadConfig(ctx context.Context, sc scenarios.Scenario, cfg apache.Config, runID, label string) (results.Run, error) {
	d := s.desc
	switch {
	case d.Image != "":
		s.logf("%s starting httpd (%s, %s layout)", label, d.Image, d.Layout)
	case d.Name == "local":
		s.logf("%s starting httpd on this host (%s layout)", label, d.Layout)
	}
	for _, fd := range cfg.Check(sc.Load.Connections) {
		s.logf("%s %s", label, fd)
	}
	be, cfg, err := startBackend(sc.Workload.Backend, cfg)
	if err != nil {
		return results.Run{}, err
	}
	if be != nil {
		defer be.Close()
		s.logf("%s backend for %s at %s: %s per answer, %d bytes", label, sc.Workload.Backend.Path, be.URL(), sc.Workload.Backend.Latency, sc.Workload.Backend.Size)
	}
	srv, stop, err := s.startServer(ctx, cfg, runID, sc.Load.Connections, sc.Workload, label)
	defer stop()
	if err != nil {
		return results.Run{}, err
	}
	ep := srv.Endpoint()
	if sc.Load, err = s.loadFor(ctx, ep, sc.Load, label); err != nil {
		return results.Run{}, err
	}
	sc.Load.ServerKeepAlive = cfg.KeepAliveTimeout()
	if ka, rate := sc.Load.ServerKeepAlive, sc.Load.RatePerConn; ka > 0 && rate > 0 && time.Duration(float64(time.Second)/rate) >= ka {
		s.logf("%s a connection's requests come every %s, not sooner than its KeepAliveTimeout (%s): httpd closes them while idle, and loadcheck opens each again for its next request, as a browser does; counted as idle reopens, not as failures",
			label, time.Duration(float64(time.Second)/rate), ka)
	}
	ready := "loading " + ep.URL + ";"
	if ep.Version != "" {
		ready = ep.Version + " ready at " + ep.URL + ";"
	}
	s.logf("%s %s opening %d connections over %s%s", label, ready, sc.Load.Connections, sc.Load.Ramp, s.generator.Describe())
	if ep.Sources.CgroupErr != nil {
		s.logf("%s httpd's memory and CPU unavailable: %v", label, ep.Sources.CgroupErr)
	}
	session := observe.Start(ctx, ep.Sources, statusInterval)
	progress, measureFrom, settled := s.progressFor(sc.Load, label, session)
	progress = s.withLiveMetrics(progress, runID, cfg.Name, session)
	res, err := s.generator.Generate(ctx, ep.URL, sc.Load, progress, measureFrom)
	seen := session.Stop()
	if err != nil {
		return results.Run{}, err
	}
	run := results.FromBench(cfg, res)
	// The schedule's own start: shard processes begin a moment after the
	// call, and every offset (the series, the window) counts from it.
	started := res.Started
	run.LoadStartedAt, run.MeasureStartS = started.UTC(), res.MeasureStart.Seconds()
	run.WarmUpS, run.WarmUpEnded = warmUpUsed(sc.Load, res, settled())
	run.Image, run.ImageID = d.Image, d.ImageID
	run.HTTPDConf, run.HTTPDVersion = ep.Conf, ep.Version
	run.Adjustments, run.Host = ep.Adjustments, ep.Host
	if seen.KernelErr != nil {
		s.logf("%s kernel listen counters unavailable: %v", label, seen.KernelErr)
	}
	if ep.Sources.StatusURL == "" && ep.Sources.Netstat == "" {
		return run, nil // nothing of the server can be seen
	}
	alignSeries(seen, started)
	run.Server = serverSide(ctx, ep, cfg, seen, run.Connections, started.Add(res.MeasureStart+sc.Load.Duration), func(err error) {
		s.logf("%s %v", label, err)
	})
	run.EstimateHandshakeCPU(sc.Load.RampTime().Seconds())
	if be != nil {
		run.Server.Backend = backendSeen(sc.Workload.Backend, be.Stats())
	}
	run.Server.PHPFPM = seen.FPM
	if died := diedDuring(ctx, ep, started); died != "" {
		run.Server.Died = died
		s.logf("%s %s", label, died)
	}
	return run, nil
}

// loadFor logs what was changed to run a config tree, and returns l
// asking for the vhost the server wants (its Host header), if any. An
// https:// server's certificate is verified for that name first (see
// bench.VerifyTLS).
func (s *settings) loadFor(ctx context.Context, ep provider.Endpoint, l scenarios.Load, label string) (scenarios.Load, error) {
	for _, a := range ep.Adjustments {
		s.logf("%s adjusted: %s", label, a)
	}
	if ep.Host != "" {
		s.logf("%s the load asks for vhost %s (Host header)", label, ep.Host)
		l.Headers = append(append([]string(nil), l.Headers...), "Host: "+ep.Host)
	}
	return l, bench.VerifyTLS(ctx, ep.URL, l, ep.TLSRoots)
}

// startServer starts httpd for cfg, sized for conns connections. stop,
// always safe to call, stops it (if it started) and logs a failure to.
func (s *settings) startServer(ctx context.Context, cfg apache.Config, runID string, conns int, w scenarios.Workload, label string) (provider.Server, func(), error) {
	o := provider.StartOptions{RunID: runID, Connections: conns}
	for _, f := range w.Files {
		o.Files = append(o.Files, provider.File{Path: f.Path, Size: int64(f.Size)})
	}
	srv, err := s.provider.Start(ctx, cfg, o)
	return srv, func() {
		if srv == nil {
			return
		}
		if err := srv.Stop(); err != nil {
			s.logf("%s stop the server: %v (run `loadcheck clean`)", label, err)
		}
	}, err
}

// progressFor makes the generator's progress callback: the live display, and
// for an auto warm-up the settler, which sends on measureFrom once the
// server has settled. settled says why the warm-up ended, once it has.
func (s *settings) progressFor(l scenarios.Load, label string, session *observe.Session) (progress func(bench.Progress), measureFrom chan time.Time, settled func() string) {
	settled = func() string { return "" }
	var st *settle.Settler
	if l.WarmUp == bench.WarmUpAuto {
		measureFrom = make(chan time.Time, 1)
		st = settle.New(l.Connections, l.RatePerConn, session.Latest)
		settled = st.Reason
	}
	if st == nil && s.live == nil {
		return nil, nil, settled
	}
	return func(p bench.Progress) {
		if st != nil && st.Tick(p) {
			measureFrom <- time.Now().Add(settle.Margin)
			s.logf("%s warm-up ends after %s: %s", label, (p.Elapsed - l.MeasureStart() + l.WarmUpLimit()).Round(time.Second), st.Reason())
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
func alignSeries(seen observe.Report, started time.Time) {
	if seen.Started.IsZero() || started.IsZero() {
		return
	}
	shift := seen.Started.Sub(started).Seconds()
	for i := range seen.Stats.Points {
		p := &seen.Stats.Points[i]
		p.T = math.Round((p.T+shift)*1000) / 1000
	}
}

// serverSide is the result's server part: what the observers saw
// (results.ServerFrom), and what only the endpoint can still read: an OOM
// kill the engine saw, the access logs' lines, and the error log
// (Server.ReadErrorLog). windowEnd is when the measured window ended:
// event's busy shutdowns after it are the client's own teardown.
func serverSide(ctx context.Context, ep provider.Endpoint, cfg apache.Config, seen observe.Report, conns results.Connections, windowEnd time.Time, logErr func(error)) *results.Server {
	srv := results.ServerFrom(seen, conns, cfg.MemoryBytes, cfg.CPUs, ep.Nofile)
	if srv.OOMKills == 0 && ep.OOMKilled != nil && ep.OOMKilled(ctx) {
		srv.OOMKills = 1 // httpd itself, seen by the engine after its cgroup went away
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

// startBackend starts the workload's backend, if it has one, and returns
// cfg proxying its path to it.
func startBackend(w scenarios.Backend, cfg apache.Config) (*backend.Server, apache.Config, error) {
	if !w.Set() {
		return nil, cfg, nil
	}
	lat, err := backend.ParseLatency(w.Latency)
	if err != nil {
		return nil, cfg, err
	}
	be, err := backend.Start(lat, int(w.Size))
	if err != nil {
		return nil, cfg, fmt.Errorf("start the backend: %w", err)
	}
	cfg.Proxy = append(append([]apache.Proxy(nil), cfg.Proxy...), apache.Proxy{Path: w.Path, URL: be.URL()})
	return be, cfg, nil
}

// backendSeen is the result's view of what the backend saw.
func backendSeen(w scenarios.Backend, st backend.Stats) *results.Backend {
	ms := func(p float64) float64 { return math.Round(float64(backend.At(st.Waits, p).Microseconds())/10) / 100 }
	return &results.Backend{Path: w.Path, Latency: w.Latency, Requests: st.Requests, PeakConcurrency: st.PeakConcurrency,
		WaitMS: results.Latency{P50: ms(0.5), P90: ms(0.9), P99: ms(0.99), P999: ms(0.999), Max: ms(1)}}
}
