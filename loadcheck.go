// Package loadcheck proves that Apache httpd configurations hold thousands
// of concurrent keep-alive connections, side by side, and says honestly
// which connections were served, which were starved, and why.
//
// Run puts one run together: for each config of a scenario it starts a
// server through a provider (a Docker container by default, a native httpd,
// or a server already running), starts the observers on what that server
// exposes, runs the generator, stops the observers, judges the verdict and
// stores the result. Capacity searches each config's break point the same
// way. Both are plain functions, callable from go test; the loadcheck
// command adds only flags, printing, signals and exit codes.
//
// Options are applied in order after the defaults, as in the testcontainers
// modules: WithProvider, WithGenerator, WithStore, WithLog, OnConfig and
// the rest.
package loadcheck

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/capacity"
	"github.com/loadcheck/loadcheck/containers"
	"github.com/loadcheck/loadcheck/promwrite"
	"github.com/loadcheck/loadcheck/provider"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

// DefaultRunsDir is where the loadcheck command stores run folders unless
// told otherwise.
const DefaultRunsDir = "runs"

// Option changes how Run or Capacity works.
type Option func(*settings)

type settings struct {
	provider     provider.Provider
	desc         provider.Description // the provider's, read once per run
	generator    Generator
	storeDir     string // parent of the run folder; "" stores nothing
	runID        string
	scenarioFile string
	version      string
	logf         func(format string, a ...any)
	live         func(label string, p bench.Progress)
	onConfig     func(results.Run)
	onProbe      func(config string, p capacity.Probe)
	noConfirm    bool
	prom         *promwrite.Client // live metrics, when a receiver is given
}

// WithPromRemoteWrite pushes live metrics once a second during each load
// to the Prometheus remote-write receiver at url: connections open, OK and
// failed requests by class, the last second's p99, and mod_status's busy
// workers, processes and memory, labelled with run_id, config and phase.
// A failed push is counted and reported, never a failed run.
func WithPromRemoteWrite(url string) Option {
	return func(s *settings) { s.prom = promwrite.New(url) }
}

// WithProvider sets where the servers run (default: a Docker container per
// config, from the scenario's image or the default one).
func WithProvider(p provider.Provider) Option { return func(s *settings) { s.provider = p } }

// WithGenerator sets how the load is generated (default: InProcess).
func WithGenerator(g Generator) Option { return func(s *settings) { s.generator = g } }

// WithStore stores the run in a new folder under dir (result.json, one
// .hlog, httpd.conf and series CSV per config), rewritten after each
// config. Without it nothing is written.
func WithStore(dir string) Option { return func(s *settings) { s.storeDir = dir } }

// WithRunID names the run (default: its start time and a random suffix).
func WithRunID(id string) Option { return func(s *settings) { s.runID = id } }

// WithScenarioFile records the file the scenario came from.
func WithScenarioFile(path string) Option { return func(s *settings) { s.scenarioFile = path } }

// WithVersion records the version of the program calling Run.
func WithVersion(v string) Option { return func(s *settings) { s.version = v } }

// WithLog receives one line per step: a config starting, httpd ready, a
// server-side reading that is unavailable, the run stored.
func WithLog(logf func(format string, a ...any)) Option { return func(s *settings) { s.logf = logf } }

// WithLiveProgress receives the generator's progress about once a second;
// label names the config, as in "[2/6 event-stock]".
func WithLiveProgress(f func(label string, p bench.Progress)) Option {
	return func(s *settings) { s.live = f }
}

// OnConfig is called with each config's judged result as soon as it is
// known.
func OnConfig(f func(results.Run)) Option { return func(s *settings) { s.onConfig = f } }

func newSettings(opts []Option) *settings {
	s := &settings{generator: InProcess{}, version: "dev", logf: func(string, ...any) {}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ensureProvider makes the default Docker provider when none was given,
// and reads its description once.
func (s *settings) ensureProvider(ctx context.Context, sc scenarios.Scenario) error {
	if s.provider == nil {
		p, err := containers.NewProvider(ctx, sc.Image, sc.Layout)
		if err != nil {
			return err
		}
		s.provider = p
	}
	s.desc = s.provider.Describe()
	return nil
}

// NewRunID names a run by its start time plus a random suffix, so that two
// runs started in the same second never share their containers' label.
func NewRunID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// Environment records where the run happens.
func Environment(version string) results.Environment {
	host, _ := os.Hostname()
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return results.Environment{
		LoadcheckVersion: version, GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		CPUs: runtime.NumCPU(), Hostname: host, CPUModel: cpuModel(), Kernel: strings.TrimSpace(string(kernel)),
	}
}

// cpuModel is the first CPU's model name in /proc/cpuinfo; "" elsewhere.
func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

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
	if err := check(sc, s.runID); err != nil {
		return nil, err
	}
	if err := s.ensureProvider(ctx, sc); err != nil {
		return nil, err
	}
	d := s.desc
	if d.Image != "" {
		sc.Image, sc.Layout = d.Image, d.Layout
	}
	out := &results.File{Schema: results.Schema, RunID: s.runID, StartedAt: time.Now().UTC(),
		Environment: Environment(s.version), Scenario: sc, ScenarioFile: s.scenarioFile}
	out.Environment.DockerVersion = d.EngineVersion
	if out.RunID == "" {
		out.RunID = NewRunID()
	}
	out.Target = d.Target
	st, err := newStore(s.storeDir, out.RunID)
	if err != nil {
		return nil, err
	}
	save := func() error { return st.save(out) }
	if err := save(); err != nil {
		return nil, err
	}
	s.logf("run %s%s: %s", out.RunID, AboutScenario(sc), st.where())
	defer s.cleanRun(out.RunID)
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
			run, err := s.measure(ctx, sc, cfg, out.RunID, label)
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
	out.Complete = ctx.Err() == nil && len(out.Runs) == len(sc.Configs)
	for _, r := range reps {
		out.Complete = out.Complete && len(r) == n
	}
	if err := save(); err != nil {
		return out, err
	}
	if st.dir != "" {
		s.logf("stored %s (re-render it with `loadcheck report %s`)", st.dir, st.dir)
	}
	if s.prom != nil {
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
	return out, ctx.Err()
}

// measure runs cfg once and judges it. A config that cannot be started is
// a judged result with verdict error; the error returned stops the run: a
// config httpd rejects or an engine that went away would fail every config
// after it the same way, and a cancelled ctx ends it.
func (s *settings) measure(ctx context.Context, sc scenarios.Scenario, cfg apache.Config, runID, label string) (results.Run, error) {
	run, err := s.loadConfig(ctx, sc, cfg, runID, label)
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
	if run.Verdict == results.Fail {
		run.Diagnosis = results.Diagnose(run, cfg, sc.Thresholds)
	}
	return run, nil
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

// AboutScenario names a scenario file's scenario and its description for
// the first progress line; "" for a run from flags alone.
func AboutScenario(sc scenarios.Scenario) string {
	if sc.Description == "" {
		return ""
	}
	return fmt.Sprintf(" (%s: %s)", sc.Name, sc.Description)
}
