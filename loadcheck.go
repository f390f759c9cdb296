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
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/capacity"
	"github.com/loadcheck/loadcheck/containers"
	"github.com/loadcheck/loadcheck/cpus"
	"github.com/loadcheck/loadcheck/generator"
	"github.com/loadcheck/loadcheck/generator/inprocess"
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
	generator    generator.Generator
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
	placement    cpus.Placement    // CPUs apart for the server and the generator; zero: shared
	unpin        func()            // gives this process its CPUs back after a run (place)
	prod         Production        // the production host to project onto; zero: none
	rollout      *RolloutSpec      // the switch each load rehearses (Scenario.Rollout); nil: none
}

// Production is the host a config goes to: its CPUs and memory.
type Production struct {
	CPUs        float64
	MemoryBytes int64
}

// WithProduction projects each config's measured costs onto the
// production host p (results.Run.Projection): how many connections its
// memory and CPUs would hold at the same rate per connection, marked as
// a projection with what it assumes.
func WithProduction(p Production) Option { return func(s *settings) { s.prod = p } }

// WithCPUs runs the server and the generator on CPUs of their own: each
// container's cpuset (or a native httpd's affinity) is p.Server, and this
// process, with the shard processes it starts, is pinned to p.Generator
// for the run. Without it both sides share every CPU (the CLI places them
// apart by default: cpus.Split). A zero p changes nothing.
func WithCPUs(p cpus.Placement) Option { return func(s *settings) { s.placement = p } }

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

// WithGenerator sets how the load is generated (default: in this process,
// inprocess.Generator; generator.Choose picks one as the CLI does).
func WithGenerator(g generator.Generator) Option { return func(s *settings) { s.generator = g } }

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
	s := &settings{generator: inprocess.Generator{}, version: "dev", logf: func(string, ...any) {}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ensureProvider makes the default Docker provider when none was given,
// and reads its description once.
func (s *settings) ensureProvider(ctx context.Context, sc scenarios.Scenario) error {
	if s.provider == nil {
		p, err := containers.NewProvider(ctx, sc.Image, sc.Layout, sc.Configs)
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
		CI: CIJob(os.Getenv),
	}
}

// CIJob names the CI job this process runs in, from the variables CI
// systems set: "GitHub Actions run 123 of owner/repo, attempt 1" (with the
// commit), "GitLab CI job 45 of group/project", "CI" for another system
// that sets CI=true; "" outside CI.
func CIJob(getenv func(string) string) string {
	switch {
	case getenv("GITHUB_ACTIONS") == "true":
		s := fmt.Sprintf("GitHub Actions run %s of %s, attempt %s", getenv("GITHUB_RUN_ID"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ATTEMPT"))
		if c := getenv("GITHUB_SHA"); c != "" {
			s += ", commit " + c[:min(12, len(c))]
		}
		return s
	case getenv("GITLAB_CI") == "true":
		return fmt.Sprintf("GitLab CI job %s of %s", getenv("CI_JOB_ID"), getenv("CI_PROJECT_PATH"))
	case getenv("CI") == "true":
		return "CI"
	}
	return ""
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

// AboutScenario names a scenario file's scenario and its description for
// the first progress line; "" for a run from flags alone.
func AboutScenario(sc scenarios.Scenario) string {
	if sc.Description == "" {
		return ""
	}
	return fmt.Sprintf(" (%s: %s)", sc.Name, sc.Description)
}
