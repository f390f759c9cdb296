package main

import (
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/docker/go-units"
	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/capacity"
	"github.com/loadcheck/loadcheck/report"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

// parseArgs parses fs over args, allowing flags before and after the
// positional arguments, and checks that there are want of them.
func parseArgs(fs *flag.FlagSet, args []string, want int, what string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, &usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if (want >= 0 && len(pos) != want) || (want < 0 && len(pos) == 0) {
		return nil, &usageError{fmt.Sprintf("%s: want %s, got %d argument(s); see %s -h", fs.Name(), what, len(pos), fs.Name())}
	}
	return pos, nil
}

// writeOut writes what render produces to path atomically, or to stdout
// when path is empty or "-".
func writeOut(path string, stdout io.Writer, render func(io.Writer) error) error {
	if path == "" || path == "-" {
		return render(stdout)
	}
	var b bytes.Buffer
	if err := render(&b); err != nil {
		return err
	}
	return results.WriteFileAtomic(path, b.Bytes())
}

func cmdReport(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("loadcheck report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "table", "one of "+strings.Join(report.Formats, ", "))
	out := fs.String("o", "", "write to this `FILE` (atomically) instead of stdout")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadcheck report RUN [--format table|markdown|json|junit|html] [-o FILE]

Re-renders a stored run. RUN is a run folder (runs/RUN-ID) or a result
JSON file; a capacity run folder renders as table, markdown, json or html.
markdown suits CI job summaries and pull-request comments, junit
has one test case per config and threshold, html is one self-contained page
with plots. Exit 0 when every config passed, 1 when one failed, 2 on bad input.

Flags:
`)
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args, 1, "one run folder")
	if err != nil {
		return exitSetup, err
	}
	if !slices.Contains(report.Formats, *format) && *format != "md" {
		return exitSetup, &usageError{fmt.Sprintf("--format %q: choose from %s", *format, strings.Join(report.Formats, ", "))}
	}
	capPath := pos[0]
	if st, err := os.Stat(capPath); err == nil && st.IsDir() {
		capPath = filepath.Join(capPath, capacity.ResultFile)
	}
	if _, err := os.Stat(capPath); err == nil && filepath.Base(capPath) == capacity.ResultFile {
		cf, err := capacity.Read(capPath)
		if err != nil {
			return exitSetup, err
		}
		if err := writeOut(*out, stdout, func(w io.Writer) error { return report.RenderCapacity(w, cf, *format) }); err != nil {
			return exitSetup, err
		}
		if !cf.Complete {
			return exitFail, nil
		}
		return exitPass, nil
	}
	f, err := results.ReadRun(pos[0])
	if err != nil {
		return exitSetup, err
	}
	if err := writeOut(*out, stdout, func(w io.Writer) error { return report.Render(w, f, *format) }); err != nil {
		return exitSetup, err
	}
	if *out != "" && *out != "-" {
		fmt.Fprintf(stderr, "loadcheck: wrote %s\n", *out)
	}
	if f.AllPass() {
		return exitPass, nil
	}
	return exitFail, nil
}

func cmdCompare(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("loadcheck compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := results.DefaultNoise()
	format := fs.String("format", "table", "table, markdown or json")
	out := fs.String("o", "", "write to this `FILE` (atomically) instead of stdout")
	fs.Float64Var(&n.RelPct, "noise", n.RelPct, "a metric regresses only when it is worse by more than this `percent`")
	fs.Float64Var(&n.ServedPct, "served-noise", n.ServedPct, "the same for served connections, which are counted exactly (`percent`)")
	fs.Float64Var(&n.LatencyMS, "latency-floor", n.LatencyMS, "... and, for p50 and p99, by more than this many `ms`")
	fs.Float64Var(&n.DroppedPts, "dropped-floor", n.DroppedPts, "... and, for dropped requests, by more than this many percentage `points`")
	fs.Float64Var(&n.MemPerConnKB, "memory-floor", n.MemPerConnKB, "... and, for memory per connection, by more than this many `KB`")
	strictEnv := fs.Bool("strict-env", false, "refuse (exit 2) two runs whose environments differ: host CPU, cores, kernel, Docker, loadcheck, image, httpd or generator engine")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadcheck compare BASE NEW [flags]

Compares each config of the run NEW with the same config of the run BASE
(run folders or result JSON files): served connections, dropped requests,
p50, p99, throughput and memory per connection. A change counts as a
regression only when it is worse beyond the noise threshold and the floor;
a config that passed in BASE and does not pass in NEW, or that is missing
from NEW, always regresses. Two runs that ran on different environments
(host CPU and cores, kernel, Docker, loadcheck, image, httpd, generator
engine) are compared with a warning naming each difference; --strict-env
refuses them. Exit 0 no regression, 1 regression, 2 bad input.

Flags:
`)
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args, 2, "BASE and NEW")
	if err != nil {
		return exitSetup, err
	}
	for _, v := range []float64{n.RelPct, n.ServedPct, n.LatencyMS, n.DroppedPts, n.MemPerConnKB} {
		if v < 0 {
			return exitSetup, &usageError{"noise thresholds and floors must not be negative"}
		}
	}
	if *format != "table" && *format != "markdown" && *format != "md" && *format != "json" {
		return exitSetup, &usageError{fmt.Sprintf("--format %q: choose from table, markdown, json", *format)}
	}
	base, err := results.ReadRun(pos[0])
	if err != nil {
		return exitSetup, fmt.Errorf("base: %w", err)
	}
	next, err := results.ReadRun(pos[1])
	if err != nil {
		return exitSetup, fmt.Errorf("new: %w", err)
	}
	c := results.Compare(base, next, n)
	if *strictEnv && len(c.EnvDiffs) > 0 {
		return exitSetup, &usageError{fmt.Sprintf("--strict-env: the runs ran on different environments: %s", strings.Join(c.EnvDiffs, "; "))}
	}
	if err := writeOut(*out, stdout, func(w io.Writer) error { return results.WriteComparison(w, c, *format) }); err != nil {
		return exitSetup, err
	}
	if c.Regressions > 0 {
		return exitFail, nil
	}
	return exitPass, nil
}

func cmdValidate(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("loadcheck validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	layout := fs.String("layout", "", "render for this image layout, official or debian (default: the scenario's, else official)")
	outDir := fs.String("out", "", "write each config's rendered httpd.conf into this `DIR`")
	show := fs.Bool("print", false, "print each rendered httpd.conf")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadcheck validate SCENARIO.yaml [--layout official|debian] [--out DIR] [--print]

Checks a scenario file without starting anything: every key, type and value,
each config's directives against each other and against the connection
target, and renders each config's httpd.conf. Exit 0 when it is valid
(warnings allowed), 2 when it is not.

Flags:
`)
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args, 1, "one scenario file")
	if err != nil {
		return exitSetup, err
	}
	spec, err := scenarios.LoadFile(pos[0])
	if err != nil {
		return exitSetup, err
	}
	sc, err := spec.Build()
	if err != nil {
		return exitSetup, err
	}
	name := *layout
	if name == "" {
		name = sc.Layout
	}
	if name == "" {
		name = "official"
	}
	lay, err := apache.LayoutByName(name)
	if err != nil {
		return exitSetup, &usageError{"--layout: " + err.Error()}
	}
	if *outDir != "" {
		if err := os.MkdirAll(*outDir, 0o755); err != nil {
			return exitSetup, err
		}
	}
	l := sc.Load
	mode := fmt.Sprintf("%g req/s per connection", l.RatePerConn)
	if l.ClosedLoop {
		mode = "closed loop"
	}
	fmt.Fprintf(stdout, "%s: scenario %q is valid\n", pos[0], sc.Name)
	if sc.Description != "" {
		fmt.Fprintf(stdout, "  about: %s\n", sc.Description)
	}
	fmt.Fprintf(stdout, "  load: %d connections, %s, ramp %s, warm-up %s, measured %s, timeout %s\n",
		l.Connections, mode, l.Ramp, l.DescribeWarmUp(), l.Duration, l.Timeout)
	if w := workloadLine(sc); w != "" {
		fmt.Fprintf(stdout, "  workload: %s\n", w)
	}
	if g := spec.Generator; g.Fleet == "swarm" {
		fmt.Fprintf(stdout, "  generator: swarm, %d job services\n", g.Shards)
	} else if g.Shards > 0 {
		fmt.Fprintf(stdout, "  generator: %d local processes\n", g.Shards)
	}
	th := sc.Thresholds
	fmt.Fprintf(stdout, "  pass: >= %g%% served, <= %g%% dropped, p99 <= %s\n", th.MinServedPct, th.MaxDroppedPct, th.MaxP99)
	for _, cfg := range sc.Configs {
		conf := apache.Render(cfg, lay, "127.0.0.1:8080", apache.ContainerPaths)
		limits := ""
		if cfg.MemoryBytes > 0 {
			limits += fmt.Sprintf(", memory %d MB", cfg.MemoryBytes>>20)
		}
		if cfg.CPUs > 0 {
			limits += fmt.Sprintf(", %g CPUs", cfg.CPUs)
		}
		if cfg.PHP != nil {
			limits += ", " + cfg.PHP.Describe()
		}
		if t := cfg.Tree; t != nil {
			if t.MPM != "" {
				limits += " (mpm: switched from the tree's own)"
			}
			if v, err := t.SSLVhost(t.Host); cfg.TLS != "" && err == nil {
				limits += fmt.Sprintf(", over TLS to its SSL vhost %s (%s:%d)", cmp.Or(v.ServerName, strings.Join(v.Addrs, " ")), v.File, v.N)
			}
			fmt.Fprintf(stdout, "  config %s: %s MPM%s, config tree %s (%s layout, %d files, %s with loadcheck's additions %d lines)\n",
				cfg.Name, cfg.MPM, limits, t.Dir, t.Layout, len(t.Files), t.Main, strings.Count(conf, "\n"))
			for _, c := range t.Certs() {
				fmt.Fprintf(stdout, "    certificate %s (%s:%d): used if the tree or the image has it, else generated\n", c.Cert, c.Line.File, c.Line.N)
			}
		} else {
			fmt.Fprintf(stdout, "  config %s: %s MPM%s, httpd.conf %d lines (%s layout)\n", cfg.Name, cfg.MPM, limits, strings.Count(conf, "\n"), lay.Name)
		}
		for _, fd := range cfg.Check(l.Connections) {
			fmt.Fprintf(stdout, "    %s\n", fd)
		}
		if *outDir != "" {
			path := filepath.Join(*outDir, cfg.Name+".httpd.conf")
			if err := results.WriteFileAtomic(path, []byte(conf)); err != nil {
				return exitSetup, err
			}
			fmt.Fprintf(stdout, "    wrote %s\n", path)
		}
		if *show {
			fmt.Fprintf(stdout, "# ---- %s: httpd.conf (Listen is a free port on 127.0.0.1 when it runs) ----\n%s", cfg.Name, conf)
		}
	}
	return exitPass, nil
}

// workloadLine says what a scenario serves and sends beyond the test
// page; "" when nothing.
func workloadLine(sc scenarios.Scenario) string {
	var parts []string
	for _, f := range sc.Workload.Files {
		parts = append(parts, fmt.Sprintf("file %s (%s)", f.Path, units.BytesSize(float64(f.Size))))
	}
	if sc.Workload.PathsFrom != "" {
		parts = append(parts, "the request mix of "+sc.Workload.PathsFrom)
	}
	if b := sc.Workload.Backend; b.Set() {
		parts = append(parts, fmt.Sprintf("backend %s (%s, %s answers)", b.Path, b.Latency, units.BytesSize(float64(b.Size))))
	}
	if sl := sc.Load.Slow; sl.Set() {
		parts = append(parts, "slow clients: "+sl.Describe(sc.Load.Connections))
	}
	return strings.Join(parts, "; ")
}

func cmdTrend(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("loadcheck trend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "markdown", strings.Join(report.TrendFormats, ", "))
	out := fs.String("o", "", "write to this `FILE` (atomically) instead of stdout")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadcheck trend DIR|RUN... [--format FORMAT] [-o FILE]

Follows each config through stored runs over time: a folder of run
folders (the nightly results), run folders, or result JSON files, ordered
by their start. Per config: served, dropped %, p50, p99, req/s and memory
per connection of every run, the first run as the baseline, and each run
compared with the one before as loadcheck compare judges (regressions
marked). Formats: markdown (tables), html (a plot per metric and the
tables), json, and for CI tools the newest run alone: gab-smaller and
gab-bigger (github-action-benchmark's customSmallerIsBetter and
customBiggerIsBetter) and bencher (Bencher's metric format).
Exit 0, 1 when the newest run regressed from the one before, 2 bad input.

Flags:
`)
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args, -1, "run folders, a folder of them, or result JSON files")
	if err != nil {
		return exitSetup, err
	}
	if !slices.Contains(report.TrendFormats, *format) && *format != "md" {
		return exitSetup, &usageError{fmt.Sprintf("--format %q: choose from %s", *format, strings.Join(report.TrendFormats, ", "))}
	}
	var files []*results.File
	for _, p := range pos {
		found, err := storedRuns(p, func(err error) { fmt.Fprintf(stderr, "loadcheck: warning: left out of the trend: %v\n", err) })
		if err != nil {
			return exitSetup, err
		}
		files = append(files, found...)
	}
	t := results.BuildTrend(files, results.DefaultNoise())
	if err := writeOut(*out, stdout, func(w io.Writer) error { return report.WriteTrend(w, t, *format) }); err != nil {
		return exitSetup, err
	}
	last := len(t.Runs) - 1
	for _, c := range t.Configs {
		if n := len(c.Points); last > 0 && n > 0 && c.Points[n-1].Run == last && c.Points[n-1].Regression {
			return exitFail, nil
		}
	}
	return exitPass, nil
}

// storedRuns reads the run at path (a run folder or a result JSON file),
// or every run folder directly under it; one of those that cannot be read
// is left out, and skip is told why.
func storedRuns(path string, skip func(error)) ([]*results.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		f, err := results.ReadRun(path)
		return []*results.File{f}, err
	}
	if _, err := os.Stat(filepath.Join(path, "result.json")); err == nil {
		f, err := results.ReadRun(path)
		return []*results.File{f}, err
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var out []*results.File
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(path, e.Name(), "result.json")); e.IsDir() && err == nil {
			f, err := results.ReadRun(filepath.Join(path, e.Name()))
			if err != nil {
				skip(err)
				continue
			}
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, &usageError{fmt.Sprintf("%s: no stored run in it (a run folder holds result.json)", path)}
	}
	return out, nil
}
