package loadcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/containers"
	"github.com/loadcheck/loadcheck/provider"
	"github.com/loadcheck/loadcheck/report"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

// Run loads every config of sc in turn and returns the result file, each
// config judged against sc.Thresholds.
//
// A failed request is data in the result, never an error. Run returns an
// error only when the run as a whole cannot go on: the provider cannot be
// set up, the run folder cannot be written, httpd rejects a config
// (*apache.ConfigError), the Docker engine stops answering
// (*containers.DockerError), or ctx ends. A config that cannot be started for
// another reason is recorded with verdict "error" and the others still
// run. The file returned with an error holds what was measured until then,
// marked incomplete, and is stored when a store was asked for.
func Run(ctx context.Context, sc scenarios.Scenario, opts ...Option) (*results.File, error) {
	s := newSettings(opts)
	if r := sc.Rollout; r != nil {
		if err := ValidateRollout(sc, *r); err != nil {
			return nil, err
		}
		sc.Thresholds.MinServedPct = 0 // a connection the switch closed may reconnect; zero-loss judges the requests
		s.rollout = r
	}
	sc, h, folder, err := s.begin(ctx, sc, results.Schema)
	if err != nil {
		return nil, err
	}
	defer s.cleanRun(h.RunID) // from here on: containers removed, CPUs given back, whatever happens
	out := &results.File{Header: h, Target: s.desc.Target}
	save := func() error { return folder.save(out) }
	if err := save(); err != nil {
		return nil, err
	}
	s.logf("run %s%s: %s", out.RunID, AboutScenario(sc), folder.where())
	// Repeats run interleaved, all configs once and then all again, so that
	// drift of the host spreads over every config alike.
	n := sc.Repeats()
	reps := make([][]results.Run, len(sc.Configs))
	for rep := 1; rep <= n && ctx.Err() == nil; rep++ {
		for i, cfg := range sc.Configs {
			if ctx.Err() != nil {
				break
			}
			label := fmt.Sprintf("[%d/%d %s]", i+1, len(sc.Configs), cfg.Name)
			if n > 1 {
				label = fmt.Sprintf("[%d/%d %s, repeat %d/%d]", i+1, len(sc.Configs), cfg.Name, rep, n)
			}
			run, err := s.runJudged(ctx, sc, cfg, out.RunID, label)
			if err != nil {
				return out, errors.Join(err, save())
			}
			if n > 1 {
				run.Repeat = rep
			}
			reps[i] = append(reps[i], run)
			out.Runs = out.Runs[:0]
			for _, r := range reps {
				if len(r) > 0 {
					out.Runs = append(out.Runs, results.Aggregate(r))
				}
			}
			if s.onConfig != nil {
				s.onConfig(run)
			}
			// Saved after every config, so a run cut short keeps what it measured.
			if err := save(); err != nil {
				return out, err
			}
		}
	}
	if sc.ArrivalCheck {
		if err := s.checkArrivals(ctx, sc, out, save); err != nil {
			return out, err
		}
	}
	out.Complete = ctx.Err() == nil && len(out.Runs) == len(sc.Configs)
	for _, r := range reps {
		out.Complete = out.Complete && len(r) == n
	}
	if err := save(); err != nil {
		return out, err
	}
	if err := folder.finish("report.html", func(w io.Writer) error { return report.WriteHTML(w, out) }); err != nil {
		return out, err
	}
	if folder.dir != "" {
		s.logf("stored %s (result.json, report.html; `loadcheck report %s` re-renders it)", folder.dir, folder.dir)
	}
	s.closeLiveMetrics()
	return out, ctx.Err()
}

// slowerArrival is how many times more slowly connections arrive in an
// arrival check.
const slowerArrival = 4

// checkArrivals runs each config of out that failed (or was flaky) once
// more, with its connections arriving slowerArrival times more slowly,
// and records what it did (results.Run.Arrival): a verdict that turns to
// PASS depends on the arrival rate, one that fails again does not.
func (s *settings) checkArrivals(ctx context.Context, sc scenarios.Scenario, out *results.File, save func() error) error {
	slow := sc
	if slow.Load.ConnectRate > 0 {
		slow.Load.ConnectRate /= slowerArrival
	} else {
		slow.Load.Ramp *= slowerArrival
	}
	ramp := slow.Load.RampTime()
	for i, cfg := range sc.Configs {
		if i >= len(out.Runs) || ctx.Err() != nil {
			break
		}
		r := &out.Runs[i]
		if (r.Verdict != results.Fail && r.Verdict != results.Flaky) || r.ArrivalPerS == 0 {
			continue
		}
		a := &results.ArrivalCheck{PerS: math.Round(float64(sc.Load.Connections)/ramp.Seconds()*10) / 10, RampS: ramp.Seconds(), Target: sc.Load.Connections}
		run, err := s.runJudged(ctx, slow, cfg, out.RunID, fmt.Sprintf("[%s, connections arriving %d× more slowly: %.0f/s]", cfg.Name, slowerArrival, a.PerS))
		if err != nil {
			return errors.Join(err, save())
		}
		a.Verdict, a.Served, a.Error = run.Verdict, run.Connections.Served, run.Error
		if len(run.Reasons) > 0 {
			a.Why = run.Reasons[0]
		}
		r.Arrival = a
		s.logf("[%s] %s", cfg.Name, r.ArrivalNote())
		if err := save(); err != nil {
			return err
		}
	}
	return nil
}

// runJudged runs cfg once and judges it. A config that cannot be started is
// a judged result with verdict error; the error returned stops the run: a
// config httpd rejects or an engine that went away would fail every config
// after it the same way, and a cancelled ctx ends it.
func (s *settings) runJudged(ctx context.Context, sc scenarios.Scenario, cfg apache.Config, runID, label string) (results.Run, error) {
	run, err := s.runOnce(ctx, sc, cfg, runID, label)
	if err != nil {
		if ctx.Err() != nil || errors.As(err, new(*apache.ConfigError)) || errors.As(err, new(*containers.DockerError)) {
			return run, err
		}
		run = failedRun(cfg, sc.Load.Connections, err)
		s.logf("%s setup failed: %v", label, err)
	}
	for _, fd := range cfg.Check(sc.Load.Connections) {
		run.ConfigWarnings = append(run.ConfigWarnings, fd.Msg)
	}
	results.Judge(&run, sc.Thresholds)
	judgeRollout(&run)
	run.Soak = results.SoakOf(run)
	switch {
	case run.Verdict == results.Fail && sc.Rollout != nil:
		// Two configs ran in the window: the server's peaks and lines are
		// both's, and no one config's directives explain them.
		run.Diagnosis = "two configs ran in this window, so neither is diagnosed alone: the rollout's phases say what the switch cost"
	case run.Verdict == results.Fail:
		run.Diagnosis = results.Diagnose(run, cfg, sc.Thresholds)
	}
	if ramp := sc.Load.RampTime(); ramp > 0 && run.Measured() {
		run.ArrivalPerS = math.Round(float64(sc.Load.Connections)/ramp.Seconds()*10) / 10
	}
	if run.Measured() && run.Server != nil && sc.Rollout == nil { // a rollout's peaks are two configs'
		limit, how := cfg.DirectiveLimit()
		run.Headroom = results.HeadroomOf(run, s.serverCPUs(cfg), cfg.Workers(), limit, how)
		if p := s.prod; p.CPUs > 0 || p.MemoryBytes > 0 {
			if run.Projection = results.ProjectOnto(run, sc.Load.RatePerConn, p.CPUs, float64(p.MemoryBytes>>20)); run.Projection != nil {
				run.Projection.DirectiveLimit = limit
			}
		}
	}
	return run, nil
}

// serverCPUs is the CPU httpd had for cfg: its own CPUs when apart from
// the generator's, its --cpus limit, or the host's.
func (s *settings) serverCPUs(cfg apache.Config) float64 {
	n := float64(runtime.NumCPU())
	if len(s.placement.Server) > 0 {
		n = float64(len(s.placement.Server))
	}
	if cfg.CPUs > 0 {
		n = min(n, cfg.CPUs)
	}
	return n
}

// check refuses what would go wrong only after servers started: a bad load,
// config names that are not plain file names, a run ID that is not a
// folder name.
func check(sc scenarios.Scenario, runID string) error {
	if strings.ContainsAny(runID, "/\\") || runID == "." || runID == ".." {
		return fmt.Errorf("run ID %q: want a folder name, without slashes", runID)
	}
	return Validate(sc)
}

// Validate reports what in sc cannot run, before anything starts: a bad
// load, no config, a repeat count out of range, a config name httpd
// cannot use, or a config that contradicts itself (httpd would quietly
// run other values than the ones written, such as a MaxRequestWorkers
// above ServerLimit x ThreadsPerChild). Run calls it; so does the CLI,
// for its usage errors, after its flags changed the scenario.
func Validate(sc scenarios.Scenario) error {
	if err := sc.Load.Validate(); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if len(sc.Configs) == 0 {
		return errors.New("the scenario has no config to run")
	}
	if sc.Repeat < 0 || sc.Repeat > scenarios.MaxRepeat {
		return fmt.Errorf("repeat: want 1 to %d runs per config, got %d", scenarios.MaxRepeat, sc.Repeat)
	}
	var bad []string
	for _, c := range sc.Configs {
		if err := apache.CheckName(c.Name); err != nil {
			return err
		}
		l := scenarios.LoadFor(sc.Load, c)
		if err := l.Validate(); err != nil && c.Load != (apache.ConfigLoad{}) {
			return fmt.Errorf("config %s's load: %w", c.Name, err)
		}
		if err := l.CheckEngine(c.TLS != ""); err != nil && l.HTTP2() && rendered(c) {
			return fmt.Errorf("config %s: %w", c.Name, err)
		}
		if err := checkProtocol(l, c); err != nil {
			return err
		}
		for _, fd := range c.Check(sc.Load.Connections) {
			if fd.Error {
				bad = append(bad, fd.Msg)
			}
		}
	}
	if len(bad) > 0 {
		return errors.New("config contradicts itself:\n  " + strings.Join(bad, "\n  "))
	}
	return nil
}

// checkProtocol refuses a preset an HTTP/2 load cannot speak to: one
// without HTTP/2 in its Protocols. A config file or tree says its own
// Protocols; a server that does not speak HTTP/2 fails each connection
// with why.
func checkProtocol(l bench.Load, c apache.Config) error {
	if l.HTTP2() && rendered(c) && c.File == "" && c.Tree == nil && !apache.SpeaksHTTP2(c) {
		return fmt.Errorf("config %s does not speak HTTP/2 (no h2 or h2c in its Protocols): run %s%s, its variant with mod_http2, or --set Protocols=\"h2 h2c http/1.1\"", c.Name, c.Name, apache.H2Suffix)
	}
	return nil
}

// rendered reports whether loadcheck writes c's httpd.conf and starts
// it: not --target's server, whose MPM it does not know.
func rendered(c apache.Config) bool {
	return slices.Contains([]string{"prefork", "worker", "event"}, c.MPM)
}

// failedRun records a config that could not be loaded: killed for memory
// while it started (a result: the config does not fit), or a setup error.
func failedRun(cfg apache.Config, target int, err error) results.Run {
	var oom *containers.OOMError
	if errors.As(err, &oom) {
		return results.Run{Config: cfg.Name, MPM: cfg.MPM, Connections: results.Connections{Target: target}, TimeToCapacityS: -1,
			Server: &results.Server{OOMKills: 1, OOMAtStart: oom.Error(), MemoryLimitMB: oom.LimitMB}}
	}
	return results.Run{Config: cfg.Name, MPM: cfg.MPM, Error: err.Error()}
}

// cleanRun is the safety net behind each server's own Stop: it removes
// what a stop that failed or was cut short left, even after Ctrl-C.
func (s *settings) cleanRun(runID string) {
	if s.unpin != nil {
		s.unpin()
	}
	c, ok := s.provider.(provider.Cleaner)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if removed, err := c.CleanRun(ctx, runID); err != nil || len(removed) > 0 {
		s.logf("removed leftover containers %v (%v)", removed, err)
	}
}
