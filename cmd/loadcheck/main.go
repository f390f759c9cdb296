// Command loadcheck proves that Apache httpd configurations hold thousands
// of concurrent keep-alive connections, side by side, in real containers.
//
// It is the only place that parses flags, prints, handles signals and sets
// exit codes: 0 every config passed, 1 a config failed, 2 usage or setup
// error, 130 interrupted.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/results"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// Exit codes.
const (
	exitPass        = 0
	exitFail        = 1
	exitSetup       = 2
	exitInterrupted = 130
)

// Set by `make release` with -ldflags "-X main.release=v1.2.0 -X
// main.buildDate=...": a plain `go build` leaves them empty and the build
// info Go records (the VCS tag or a pseudo-version, the commit) is used.
var release, buildDate string

// version is what results record: the release, else the module version
// from the build info, else "dev" with the commit (buildVersion).
var version = func() string {
	if release != "" {
		return release
	}
	bi, _ := debug.ReadBuildInfo()
	return buildVersion(bi, "dev")
}()

// buildVersion is the module's version from the build info (Go 1.24 and
// later make it the VCS tag, or a pseudo-version naming the commit with
// "+dirty" for uncommitted changes, when it stamps VCS information; `make
// build` asks it to, -buildvcs=auto), else fallback with the VCS revision
// when there is one: "dev (3f2a9c1b7e44+dirty, 2026-11-27T03:40:00Z)",
// else fallback.
func buildVersion(bi *debug.BuildInfo, fallback string) string {
	if bi == nil {
		return fallback
	}
	if mv := bi.Main.Version; mv != "" && mv != "(devel)" {
		return mv
	}
	rev, at, dirty := vcsInfo(bi)
	if rev == "" {
		return fallback
	}
	if dirty {
		rev += "+dirty"
	}
	if at != "" {
		rev += ", " + at
	}
	return fmt.Sprintf("%s (%s)", fallback, rev)
}

// vcsInfo is the commit Go stamped into bi, its time, and whether the
// tree had uncommitted changes.
func vcsInfo(bi *debug.BuildInfo) (rev, at string, dirty bool) {
	if bi == nil {
		return "", "", false
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	return rev, at, dirty
}

// versionText is `loadcheck version`: the version, the commit, when it
// was built (a plain go build records the commit's time, not the
// build's) and the Go toolchain.
func versionText(bi *debug.BuildInfo, v, built string) string {
	rev, at, dirty := vcsInfo(bi)
	switch {
	case rev == "":
		rev = "unknown (built outside a git checkout, or with -buildvcs=false)"
	case dirty:
		rev += " (with uncommitted changes)"
	}
	when := "not recorded"
	switch {
	case built != "":
		when = built
	case at != "":
		when = "not recorded (commit time " + at + ")"
	}
	goVersion := runtime.Version()
	if bi != nil && bi.GoVersion != "" {
		goVersion = bi.GoVersion
	}
	return fmt.Sprintf("loadcheck %s\ncommit  %s\nbuilt   %s\ngo      %s %s/%s\n", v, rev, when, goVersion, runtime.GOOS, runtime.GOARCH)
}

const usage = `loadcheck proves that Apache httpd configs hold thousands of concurrent
keep-alive connections, side by side, in real httpd containers.

Usage:
  loadcheck run [SCENARIO.yaml] [flags]  start one container per config, load each,
                                         compare, store the run in runs/RUN-ID
  loadcheck run --target URL             load a server that is already running
  loadcheck run --provider local         run httpd natively on this host, no Docker
  loadcheck run --target URL --generator swarm --shards N
                                         generate the load from N Docker Swarm jobs
  loadcheck run --target URL --generator kubernetes --shards N --generator-image IMAGE
                                         ... or from an Indexed Job of N pods
  loadcheck rollout --from A --to B      switch a running httpd from config A to B under load
                                         (graceful or restart): was it zero-loss?
  loadcheck validate SCENARIO.yaml       check a scenario and render its httpd.conf files
  loadcheck report RUN [--format F]      re-render a stored run: table, markdown,
                                         json, junit or html
  loadcheck compare BASE NEW             per-config deltas; exit 1 on a regression
  loadcheck trend DIR|RUN...             stored runs over time, per config; regressions marked
  loadcheck baseline promote RUN         make a CI run the nightly baseline (.loadcheck/baseline)
  loadcheck prune DIR --keep N           keep the N newest run folders in DIR, remove the rest
  loadcheck capacity SCENARIO.yaml       find where each config breaks, what a connection
                                         costs, and directives that reach the target
  loadcheck plan --target URL --shards N -o DIR
                                         split a load over generator shards you start
                                         yourself (CI matrix jobs, ssh): one request each
  loadcheck shard REQUEST.json|DIR       run one planned shard; JSON lines on stdout
  loadcheck merge SHARD.jsonl...         join the shards' outputs into one run
  loadcheck generator-image              build the image fleet shards run (this binary),
                                         when missing, and print its tag
  loadcheck doctor [-c N]                this host's limits that turn into drops
                                         (nofile, somaxconn, conntrack, ports), with fixes
  loadcheck clean [--all]                remove containers a crashed run left behind
                                         (--all: every loadcheck container, live runs' too)
  loadcheck version                      version, commit, build date, Go

Run "loadcheck COMMAND -h" for a command's flags. Ready-made scenarios are in
scenarios/ (smoke.yaml runs in under a minute).

Exit codes: 0 all configs passed (compare: no regression), 1 a config failed
(compare: a regression), 2 usage or setup error, or an INCONCLUSIVE verdict
(the generator, not the server, was the limit), 130 interrupted (the partial
result is still printed and stored, marked incomplete).
`

// usageError is bad input from the user: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitSetup
	}
	// loadcheck removes its own labelled containers on every exit path, so
	// it needs no Ryuk, whose image cannot be pulled where no registry is
	// reachable. TESTCONTAINERS_RYUK_DISABLED=false brings Ryuk back.
	if _, set := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !set {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	if os.Getenv("LOADCHECK_DEBUG") == "" {
		tclog.SetDefault(tclog.NewNoopLogger()) // testcontainers' own chatter
	}
	if path := os.Getenv("LOADCHECK_CPUPROFILE"); path != "" {
		// For developers measuring the generator (bench/perf/README.md).
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	if spec := os.Getenv("LOADCHECK_HEAPPROFILE"); spec != "" {
		heapProfileAt(spec)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	code := exitPass
	switch args[0] {
	case "run":
		code, err = cmdRun(ctx, args[1:], stdout, stderr)
	case "report":
		code, err = cmdReport(args[1:], stdout, stderr)
	case "capacity":
		code, err = cmdCapacity(ctx, args[1:], stdout, stderr)
	case "rollout":
		code, err = cmdRollout(ctx, args[1:], stdout, stderr)
	case "compare":
		code, err = cmdCompare(args[1:], stdout, stderr)
	case "trend":
		code, err = cmdTrend(args[1:], stdout, stderr)
	case "validate":
		code, err = cmdValidate(args[1:], stdout, stderr)
	case "clean":
		err = cmdClean(ctx, args[1:], stdout, stderr)
	case "doctor":
		code, err = cmdDoctor(args[1:], stdout, stderr)
	case "plan":
		code, err = cmdPlan(ctx, args[1:], stdout, stderr)
	case "shard":
		err = cmdShard(ctx, args[1:], stdout, stderr)
	case "merge":
		code, err = cmdMerge(args[1:], stdout, stderr)
	case "baseline":
		code, err = cmdBaseline(args[1:], stdout, stderr)
	case "prune":
		code, err = cmdPrune(args[1:], stdout, stderr)
	case "generator-image":
		err = cmdGeneratorImage(ctx, args[1:], stdout, stderr)
	case shardCommand: // started by a run that needs several generator processes
		err = bench.ServeShard(ctx, os.Stdin, stdout)
	case "version", "--version":
		bi, _ := debug.ReadBuildInfo()
		fmt.Fprint(stdout, versionText(bi, version, buildDate))
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = &usageError{fmt.Sprintf("unknown command %q; run \"loadcheck help\"", args[0])}
	}
	if err != nil {
		if !errors.Is(err, errHelp) {
			fmt.Fprintf(stderr, "loadcheck: %v\n", err)
		}
		if ctx.Err() != nil {
			return exitInterrupted
		}
		if errors.Is(err, errHelp) {
			return exitPass
		}
		return exitSetup
	}
	return code
}

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

// flagGroup is a heading of a command's help and the flags under it.
type flagGroup struct {
	title string
	names []string
}

// printGrouped prints fs's flags as PrintDefaults does, under the groups'
// headings in their order; a flag in no group comes last, under "Other
// flags", so that none is left out of the help.
func printGrouped(w io.Writer, fs *flag.FlagSet, groups []flagGroup) {
	listed := map[string]bool{}
	print := func(title string, names []string) {
		g := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
		g.SetOutput(w)
		for _, n := range names {
			if fl := fs.Lookup(n); fl != nil {
				g.Var(fl.Value, fl.Name, fl.Usage)
				g.Lookup(n).DefValue = fl.DefValue // not what flags before -h set
				listed[n] = true
			}
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		g.PrintDefaults()
	}
	for _, gr := range groups {
		print(gr.title, gr.names)
	}
	var rest []string
	fs.VisitAll(func(fl *flag.Flag) {
		if !listed[fl.Name] {
			rest = append(rest, fl.Name)
		}
	})
	if len(rest) > 0 {
		print("Other flags", rest)
	}
}

// heapProfileAt writes the heap's profile to PATH once, DELAY after now
// (spec PATH@DELAY, as /tmp/heap.out@5s), for developers measuring the
// generator's memory per connection mid-run (bench/perf/README.md).
func heapProfileAt(spec string) {
	path, delay, _ := strings.Cut(spec, "@")
	d, err := time.ParseDuration(delay)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadcheck: LOADCHECK_HEAPPROFILE=%s: want PATH@DELAY, as /tmp/heap.out@5s\n", spec)
		return
	}
	time.AfterFunc(d, func() {
		runtime.GC()
		if f, err := os.Create(path); err == nil {
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	})
}
