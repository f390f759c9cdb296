package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/go-units"
	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

// cmdValidate is `loadcheck validate SCENARIO`: checks and renders it without load.
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
		describeConfig(stdout, cfg, conf, lay.Name, l.Connections)
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

// describeConfig prints validate's lines for one config: its MPM and
// limits, its tree and certificates, its rendered httpd.conf's size, and
// what Check finds at the connection target.
func describeConfig(w io.Writer, cfg apache.Config, conf, layout string, conns int) {
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
		fmt.Fprintf(w, "  config %s: %s MPM%s, config tree %s (%s layout, %d files, %s with loadcheck's additions %d lines)\n",
			cfg.Name, cfg.MPM, limits, t.Dir, t.Layout, len(t.Files), t.Main, strings.Count(conf, "\n"))
		for _, c := range t.Certs() {
			fmt.Fprintf(w, "    certificate %s (%s:%d): used if the tree or the image has it, else generated\n", c.Cert, c.Line.File, c.Line.N)
		}
	} else {
		fmt.Fprintf(w, "  config %s: %s MPM%s, httpd.conf %d lines (%s layout)\n", cfg.Name, cfg.MPM, limits, strings.Count(conf, "\n"), layout)
	}
	for _, fd := range cfg.Check(conns) {
		fmt.Fprintf(w, "    %s\n", fd)
	}
}
