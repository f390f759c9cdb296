package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/containers"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

var errHelp = errors.New("help requested")

// runFlags is everything `loadcheck run` accepts.
type runFlags struct {
	spec       *scenarios.Spec // the scenario file, when one is given
	configs    string
	image      string
	layout     string
	target     string
	jsonPath   string
	resultsDir string
	runID      string
	quiet      bool
	shards     int
	noShard    bool
	sourceAddr int
	memory     int64
	cpus       float64
	files      []scenarios.Config // --config-file
	configsSet bool
	overrides  []scenarios.Directive
	load       scenarios.Load
	thresholds scenarios.Thresholds
	set        map[string]bool // flags given on the command line
	// extra adds a command's own flags (capacity's) to run's.
	extra func(fs *flag.FlagSet)
}

// defaultResultsDir is where run folders go unless --results says otherwise.
func defaultResultsDir() string {
	if d := os.Getenv("LOADCHECK_RESULTS"); d != "" {
		return d
	}
	return "results"
}

// splitScenario takes the scenario file out of run's arguments: it may come
// before the flags or after them.
func splitScenario(args []string, extra func(*flag.FlagSet)) (path string, rest []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	probe := &runFlags{load: scenarios.DefaultLoad(), extra: extra}
	fs := probe.flagSet(io.Discard)
	if fs.Parse(args) != nil || fs.NArg() == 0 {
		return "", args
	}
	n := len(args) - fs.NArg()
	return fs.Arg(0), append(append([]string{}, args[:n]...), fs.Args()[1:]...)
}

func parseRunFlags(args []string, stderr io.Writer, extra func(*flag.FlagSet)) (*runFlags, error) {
	f := &runFlags{load: scenarios.DefaultLoad(), thresholds: scenarios.DefaultThresholds(), set: map[string]bool{}, extra: extra}
	path, args := splitScenario(args, extra)
	if path != "" {
		spec, err := scenarios.LoadFile(path)
		if err != nil {
			return nil, &usageError{err.Error()}
		}
		f.spec, f.load, f.thresholds, f.image, f.layout = spec, spec.Load, spec.Thresholds, spec.Image, spec.Layout
	}
	fs := f.flagSet(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, &usageError{err.Error()}
	}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	f.configsSet = f.set["configs"]
	if f.load.ClosedLoop && !f.set["rate"] {
		f.load.RatePerConn = 0
	}
	if f.noShard && f.shards > 1 {
		return nil, &usageError{"--no-shard and --shards > 1 contradict each other"}
	}
	if fs.NArg() > 0 {
		return nil, &usageError{fmt.Sprintf("unexpected argument %q; give one scenario file at most", fs.Arg(0))}
	}
	if err := f.load.Validate(); err != nil {
		return nil, &usageError{"bad load: " + err.Error()}
	}
	if err := f.thresholds.Validate(); err != nil {
		return nil, &usageError{"bad threshold: " + err.Error()}
	}
	if f.spec != nil && f.target != "" {
		return nil, &usageError{"a scenario file starts httpd containers and cannot be used with --target"}
	}
	if strings.ContainsAny(f.runID, "/\\") || f.runID == "." || f.runID == ".." {
		return nil, &usageError{fmt.Sprintf("--run-id %q: want a folder name, without slashes", f.runID)}
	}
	return f, nil
}

// flagSet binds run's flags to f, with f's current values as defaults.
func (f *runFlags) flagSet(stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("loadcheck run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.configs, "configs", strings.Join(scenarios.PresetNames(), ","), "comma-separated configs to compare: "+strings.Join(scenarios.PresetNames(), ", ")+"; with a scenario, pick among its configs")
	fs.StringVar(&f.image, "image", f.image, "httpd image (default: "+containers.DefaultImage+" if present locally, else "+containers.DebianImage+")")
	fs.StringVar(&f.layout, "layout", f.layout, "image layout: official or debian (default: detect from the image)")
	fs.StringVar(&f.target, "target", "", "load this already-running server URL instead of starting containers (config name \"target\")")
	fs.StringVar(&f.resultsDir, "results", defaultResultsDir(), "write the run folder (result.json, .hlog, httpd.conf, series) under this `DIR`; $LOADCHECK_RESULTS sets the default")
	fs.StringVar(&f.runID, "run-id", "", "name the run folder (default: start time and a random suffix)")
	fs.StringVar(&f.jsonPath, "json", "", "also write the result (schema "+results.Schema+") to `PATH`")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress lines on stderr")
	fs.Func("set", "override a directive in every config, `Name=Value` (repeatable), e.g. --set MaxRequestWorkers=4000", func(v string) error {
		d, err := scenarios.ParseOverride(v)
		if err == nil {
			f.overrides = append(f.overrides, d)
		}
		return err
	})
	for _, name := range []string{"c", "connections"} {
		fs.IntVar(&f.load.Connections, name, f.load.Connections, "number of concurrent keep-alive `connections`")
	}
	for _, name := range []string{"d", "duration"} {
		fs.DurationVar(&f.load.Duration, name, f.load.Duration, "measured window")
	}
	fs.DurationVar(&f.load.Ramp, "ramp", f.load.Ramp, "spread connection opens over this time")
	fs.DurationVar(&f.load.WarmUp, "warmup", f.load.WarmUp, "unmeasured time after the ramp, for httpd to spawn workers")
	fs.Float64Var(&f.load.ConnectRate, "connect-rate", f.load.ConnectRate, "open this many connections per second (replaces --ramp)")
	fs.Float64Var(&f.load.RatePerConn, "rate", f.load.RatePerConn, "requests per second on each connection (open model)")
	fs.BoolVar(&f.load.ClosedLoop, "closed-loop", f.load.ClosedLoop, "send each connection's next request as soon as the last response arrives, like wrk (a throughput test; --rate does not apply)")
	fs.DurationVar(&f.load.Timeout, "timeout", f.load.Timeout, "request timeout, counted from the request's intended send time")
	fs.StringVar(&f.load.Method, "method", f.load.Method, "request method (default GET)")
	var paths, headers []string
	fs.Func("path", "request `path` (repeatable: paths are used in turn; default /)", func(v string) error {
		paths = append(paths, v)
		f.load.Paths = paths
		return nil
	})
	fs.Func("header", "add a request header, e.g. --header 'X-Token: abc' (repeatable; replaces a scenario's headers)", func(v string) error {
		if _, err := bench.ParseHeader(v); err != nil {
			return err
		}
		headers = append(headers, v)
		f.load.Headers = headers
		return nil
	})
	fs.StringVar(&f.load.Body, "body", f.load.Body, "request body")
	fs.Func("config-file", "add the user's own complete httpd.conf as config `NAME=PATH` (repeatable); its Listen lines are replaced and mod_status is added. Without --configs or a scenario only these files run", func(v string) error {
		name, path, ok := strings.Cut(v, "=")
		if !ok {
			return fmt.Errorf("want NAME=PATH, for example mine=./httpd.conf")
		}
		cfg, err := scenarios.UserConfig(name, path)
		if err == nil {
			f.files = append(f.files, cfg)
		}
		return err
	})
	fs.Func("memory", "limit each httpd container's memory, e.g. 512m or 2g, to emulate the production host (no swap)", func(v string) error {
		n, err := units.RAMInBytes(v)
		if err != nil || n < 6<<20 {
			return fmt.Errorf("want a size of at least 6m such as 512m or 2g, got %q", v)
		}
		f.memory = n
		return nil
	})
	fs.Float64Var(&f.cpus, "cpus", 0, "limit each httpd container to this many CPUs, e.g. 1.5")
	fs.IntVar(&f.shards, "shards", 0, "generator processes (0: as many as the nofile limit needs)")
	fs.BoolVar(&f.noShard, "no-shard", false, "never split the generator over processes; fail before any traffic when one process cannot hold -c")
	fs.IntVar(&f.sourceAddr, "source-addrs", 0, "spread connections to a loopback target over this many source addresses from 127.0.0.2 (0: as many as the ephemeral ports need)")
	fs.Float64Var(&f.thresholds.MinServedPct, "min-served-pct", f.thresholds.MinServedPct, "pass needs at least this % of connections served")
	fs.Float64Var(&f.thresholds.MaxDroppedPct, "max-dropped-pct", f.thresholds.MaxDroppedPct, "pass allows at most this % of requests dropped")
	fs.DurationVar(&f.thresholds.MaxP99, "max-p99", f.thresholds.MaxP99, "pass allows at most this p99 latency")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadcheck run [SCENARIO.yaml] [flags]

Starts one httpd container per config, opens exactly -c keep-alive connections to
each, prints one row per config and stores the run in a folder under --results.
A scenario file (see scenarios/*.yaml) sets the configs, load and thresholds;
flags given on the command line win over it. Exit 0 when all pass, 1 when any
fails, 2 on bad input or setup errors.

Flags:
`)
		fs.PrintDefaults()
	}
	if f.extra != nil {
		f.extra(fs)
	}
	return fs
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	f, err := parseRunFlags(args, stderr, nil)
	if err != nil {
		return exitSetup, err
	}
	gen, err := newGenerator(f)
	if err != nil {
		return exitSetup, err
	}
	sc := scenarios.Scenario{Name: "cli", Load: f.load, Thresholds: f.thresholds}
	switch {
	case f.target != "" && len(f.overrides) > 0:
		return exitSetup, &usageError{"--set changes httpd configs and cannot be used with --target"}
	case f.target != "" && (f.memory > 0 || f.cpus > 0):
		return exitSetup, &usageError{"--memory and --cpus limit httpd containers and cannot be used with --target"}
	case f.cpus < 0:
		return exitSetup, &usageError{fmt.Sprintf("--cpus must not be negative, got %g", f.cpus)}
	case f.target != "" && len(f.files) > 0:
		return exitSetup, &usageError{"--config-file starts httpd containers and cannot be used with --target"}
	case f.target != "":
		sc.Configs = []scenarios.Config{{Name: "target", MPM: "unknown"}}
	default:
		if sc, err = f.scenario(); err != nil {
			return exitSetup, err
		}
	}
	runID := f.runID
	if runID == "" {
		runID = newRunID()
	}
	out := &results.File{
		Schema:      results.Schema,
		RunID:       runID,
		StartedAt:   time.Now().UTC(),
		Environment: environment(),
	}
	p := newProgress(stderr, f.quiet)

	var img containers.ImageInfo
	if f.target == "" {
		sc.Image, img, err = chooseImage(ctx, f.image, f.layout)
		if err != nil {
			return exitSetup, err
		}
		sc.Layout = img.Layout.Name
	}
	out.Scenario = sc
	if f.spec != nil {
		out.ScenarioFile = f.spec.Path
	}
	dir, err := results.CreateRunDir(f.resultsDir, out.RunID)
	if err != nil {
		return exitSetup, err
	}
	if err := out.Save(dir); err != nil {
		return exitSetup, err
	}
	p.logf("run %s%s: storing results in %s", out.RunID, aboutScenario(sc), dir)

	if f.target == "" {
		defer func() {
			// Each config removes its own container; this catches one whose
			// removal failed or was cut short, even after Ctrl-C.
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if removed, err := containers.CleanRun(cctx, out.RunID); err != nil || len(removed) > 0 {
				p.logf("removed leftover containers %v (%v)", removed, err)
			}
		}()
	}
	for i, cfg := range sc.Configs {
		if ctx.Err() != nil {
			break
		}
		p.config = fmt.Sprintf("[%d/%d %s]", i+1, len(sc.Configs), cfg.Name)
		var run results.Run
		if f.target != "" {
			run, err = runTarget(ctx, gen, f.target, cfg, sc.Load, p)
		} else {
			run, err = runContainer(ctx, gen, sc, img, cfg, out.RunID, p)
		}
		if err != nil {
			var cfgErr *containers.ConfigError
			if errors.As(err, &cfgErr) || ctx.Err() != nil {
				return exitSetup, err
			}
			var oom *containers.OOMError
			if errors.As(err, &oom) {
				// Not a setup problem: the config does not fit its memory.
				run = results.Run{Config: cfg.Name, MPM: cfg.MPM, Connections: results.Connections{Target: sc.Load.Connections}, TimeToCapacityS: -1,
					Server: &results.Server{OOMKills: 1, OOMAtStart: oom.Error(), MemoryLimitMB: oom.LimitMB}}
				p.logf("%s %v", p.config, oom)
			} else {
				// A setup failure of one config is recorded; the others still run.
				run = results.Run{Config: cfg.Name, MPM: cfg.MPM, Error: err.Error()}
				p.logf("%s setup failed: %v", p.config, err)
			}
		}
		for _, fd := range cfg.Check(sc.Load.Connections) {
			run.ConfigWarnings = append(run.ConfigWarnings, fd.Msg)
		}
		results.Judge(&run, sc.Thresholds)
		out.Runs = append(out.Runs, run)
		// Saved after every config, so a run cut short keeps what it measured.
		if err := out.Save(dir); err != nil {
			return exitSetup, err
		}
	}
	out.Complete = ctx.Err() == nil && len(out.Runs) == len(sc.Configs)
	p.clear()
	if err := out.Save(dir); err != nil {
		return exitSetup, err
	}
	p.logf("stored %s (re-render it with `loadcheck report %s`)", dir, dir)

	// The JSON goes first: the table's reader may close stdout early.
	if f.jsonPath != "" {
		if err := out.WriteJSON(f.jsonPath); err != nil {
			return exitSetup, err
		}
		p.logf("wrote %s", f.jsonPath)
	}
	if err := results.WriteTable(stdout, out); err != nil {
		return exitSetup, fmt.Errorf("render table: %w", err)
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "loadcheck: interrupted; the result above is partial")
		return exitInterrupted, nil
	case out.AllPass():
		return exitPass, nil
	}
	return exitFail, nil
}

// scenario builds the configs to run: the scenario file's or the presets
// named by --configs, then the user's files, with the flags applied.
func (f *runFlags) scenario() (scenarios.Scenario, error) {
	sc := scenarios.Scenario{Name: "cli", Load: f.load, Thresholds: f.thresholds}
	var err error
	switch {
	case f.spec != nil:
		spec := *f.spec
		spec.Load, spec.Thresholds = f.load, f.thresholds
		if f.configsSet {
			if err := spec.Only(strings.Split(f.configs, ",")); err != nil {
				return sc, &usageError{"--configs: " + err.Error()}
			}
		}
		if sc, err = spec.Build(); err != nil {
			return sc, &usageError{err.Error()}
		}
	case f.configsSet || len(f.files) == 0:
		if sc.Configs, err = scenarios.Presets(strings.Split(f.configs, ","), f.load.Connections); err != nil {
			return sc, &usageError{"--configs: " + err.Error()}
		}
	}
	for _, file := range f.files {
		for _, c := range sc.Configs {
			if c.Name == file.Name {
				return sc, &usageError{fmt.Sprintf("--config-file %s: a config called %q is already in the run; choose another name", file.Name, file.Name)}
			}
		}
	}
	sc.Configs = append(sc.Configs, f.files...)
	for i := range sc.Configs {
		c := &sc.Configs[i]
		if c.File != "" && len(f.overrides) > 0 {
			return sc, &usageError{fmt.Sprintf("--set cannot change a --config-file config (%s): edit the file instead, or drop --set", c.Name)}
		}
		for _, d := range f.overrides {
			c.Set(d)
		}
		if f.set["memory"] {
			c.MemoryBytes = f.memory
		}
		if f.set["cpus"] {
			c.CPUs = f.cpus
		}
	}
	// Contradictions stop the run before any container starts: httpd
	// would quietly run other values than the ones written.
	var bad []string
	for _, cfg := range sc.Configs {
		for _, fd := range cfg.Check(f.load.Connections) {
			if fd.Error {
				bad = append(bad, fd.Msg)
			}
		}
	}
	if len(bad) > 0 {
		return sc, &usageError{"config contradicts itself:\n  " + strings.Join(bad, "\n  ")}
	}
	return sc, nil
}

// newRunID names a run by its start time plus a random suffix, so that two
// runs started in the same second never share their containers' label.
func newRunID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// chooseImage resolves the image to use and its layout.
func chooseImage(ctx context.Context, image, layout string) (string, containers.ImageInfo, error) {
	if image != "" {
		info, err := containers.InspectImage(ctx, image, layout)
		return image, info, err
	}
	info, err := containers.InspectImage(ctx, containers.DefaultImage, layout)
	var missing *containers.ImageMissingError
	if errors.As(err, &missing) {
		info, err = containers.InspectImage(ctx, containers.DebianImage, layout)
		if errors.As(err, &missing) {
			return "", info, fmt.Errorf("neither %s nor %s is in the local Docker engine: pull %s, or build %s from Debian's packages with `make image`",
				containers.DefaultImage, containers.DebianImage, containers.DefaultImage, containers.DebianImage)
		}
		return containers.DebianImage, info, err
	}
	return containers.DefaultImage, info, err
}

// aboutScenario names a scenario file's scenario and its description for
// the first progress line; "" for a run from flags alone.
func aboutScenario(sc scenarios.Scenario) string {
	if sc.Description == "" {
		return ""
	}
	return fmt.Sprintf(" (%s: %s)", sc.Name, sc.Description)
}

func runTarget(ctx context.Context, gen *generator, url string, cfg scenarios.Config, l scenarios.Load, p *progress) (results.Run, error) {
	p.logf("%s loading %s with %d connections%s", p.config, url, l.Connections, gen.describe())
	started := time.Now()
	res, err := gen.run(ctx, url, l, p)
	if err != nil {
		return results.Run{}, err
	}
	run := results.FromBench(cfg, res)
	run.LoadStartedAt, run.MeasureStartS = started.UTC(), l.MeasureStart().Seconds()
	return run, nil
}

// runContainer starts httpd for cfg, loads it while sampling mod_status,
// and always removes the container.
func runContainer(ctx context.Context, gen *generator, sc scenarios.Scenario, img containers.ImageInfo, cfg scenarios.Config, runID string, p *progress) (results.Run, error) {
	p.logf("%s starting httpd (%s, %s layout)", p.config, sc.Image, img.Layout.Name)
	for _, fd := range cfg.Check(sc.Load.Connections) {
		p.logf("%s %s", p.config, fd)
	}
	srv, err := containers.Start(ctx, containers.Options{
		Image: sc.Image, Layout: img.Layout, Config: cfg, RunID: runID, Connections: sc.Load.Connections,
	})
	defer func() {
		if err := srv.Terminate(); err != nil {
			p.logf("%s remove container: %v (run `loadcheck clean`)", p.config, err)
		}
	}()
	if err != nil {
		return results.Run{}, err
	}
	p.logf("%s %s ready at %s; opening %d connections over %s%s", p.config, srv.Version, srv.URL, sc.Load.Connections, sc.Load.Ramp, gen.describe())

	const netstat = "/proc/net/netstat"
	listenBefore, listenErr := containers.ReadListenCounters(netstat)
	sampleCtx, stopSampling := context.WithCancel(ctx)
	if srv.CgroupErr != nil {
		p.logf("%s container memory and CPU unavailable: %v", p.config, srv.CgroupErr)
	}
	sampler := containers.StartSampler(sampleCtx, srv.StatusURL, time.Second, srv.Probe())
	started := time.Now()
	res, err := gen.run(ctx, srv.URL, sc.Load, p)
	stopSampling()
	stats := sampler.Wait()
	listenAfter, listenErr2 := containers.ReadListenCounters(netstat)
	if err != nil {
		return results.Run{}, err
	}
	run := results.FromBench(cfg, res)
	run.LoadStartedAt, run.MeasureStartS = started.UTC(), sc.Load.MeasureStart().Seconds()
	run.Image, run.ImageID, run.HTTPDConf = sc.Image, img.ID, srv.ConfText
	run.HTTPDVersion = srv.Version
	run.Server = &results.Server{
		StatusSamples: stats.Samples, StatusFailed: stats.FailedSamples,
		PeakBusyWorkers: stats.PeakBusy, PeakProcesses: stats.PeakProcesses, PeakConnsTotal: stats.PeakConnsTotal,
		Nofile: srv.Nofile, StatusLastError: stats.LastError,
	}
	if stats.AccessesAtStart >= 0 {
		run.Server.AccessesDuringRun = stats.AccessesAtEnd - stats.AccessesAtStart
	}
	run.Server.Series = stats.Points
	mb := func(b int64) float64 { return math.Round(float64(b)/(1<<20)*10) / 10 }
	if stats.MemoryAtStart >= 0 {
		s := run.Server
		s.MemoryStartMB, s.MemoryEndMB, s.MemoryPeakMB = mb(stats.MemoryAtStart), mb(stats.MemoryAtEnd), mb(stats.MemoryPeak)
		s.CPUSeconds = math.Round(float64(stats.CPUNanos)/1e7) / 100
		if held := run.Connections.Served + run.Connections.PartlyServed; held > 0 {
			s.MemoryPerConnKB = math.Round(float64(stats.MemoryAtEnd-stats.MemoryAtStart)/1024/float64(held)*10) / 10
		}
	}
	run.Server.MemoryLimitMB, run.Server.CPULimit = mb(cfg.MemoryBytes), cfg.CPUs
	run.Server.OOMKills = stats.OOMKills
	run.Server.PeakAcceptQueue = stats.PeakAcceptQueue
	if run.Server.OOMKills == 0 && srv.OOMKilled(ctx) {
		run.Server.OOMKills = 1 // httpd itself, seen by the engine after its cgroup went away
	}
	if listenErr == nil && listenErr2 == nil {
		d := listenAfter.Sub(listenBefore)
		run.Server.Kernel = &d
		run.Server.KernelScope = "network namespace of loadcheck"
		if srv.HostNetwork {
			run.Server.KernelScope = "host (httpd shares the host's network namespace): other traffic counts too"
		}
	} else {
		p.logf("%s kernel listen counters unavailable: %v", p.config, errors.Join(listenErr, listenErr2))
	}
	logCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if text, err := srv.Logs(logCtx); err == nil {
		run.Server.ErrorLog = containers.ScanErrorLog(text)
		windowEnd := started.Add(sc.Load.MeasureStart() + sc.Load.Duration)
		s := run.Server
		s.BusyShutdowns, s.BusyClosed, s.FullRefusals = containers.ScanBusyShutdowns(text, windowEnd)
	} else {
		p.logf("%s read httpd's error log: %v", p.config, err)
	}
	return run, nil
}

func cmdClean(ctx context.Context, stdout io.Writer) error {
	removed, err := containers.Clean(ctx)
	for _, id := range removed {
		fmt.Fprintf(stdout, "removed %s\n", id)
	}
	if err == nil && len(removed) == 0 {
		fmt.Fprintln(stdout, "no loadcheck containers found")
	}
	return err
}

func environment() results.Environment {
	host, _ := os.Hostname()
	return results.Environment{
		LoadcheckVersion: version, GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		CPUs: runtime.NumCPU(), Hostname: host,
	}
}
