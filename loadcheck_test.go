package loadcheck_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck"
	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/generator/shards"
	"github.com/loadcheck/loadcheck/internal/dockertest"
	"github.com/loadcheck/loadcheck/provider"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

// smallScenario is two stock configs at n connections, in a few seconds.
func smallScenario(t *testing.T, n int, names ...string) scenarios.Scenario {
	t.Helper()
	cfgs, err := apache.Presets(names, n)
	if err != nil {
		t.Fatal(err)
	}
	load := scenarios.DefaultLoad()
	load.Connections, load.Ramp, load.WarmUp, load.Duration, load.RatePerConn = n, time.Second, 2*time.Second, 3*time.Second, 2
	return scenarios.Scenario{Name: "api", Load: load, Configs: cfgs, Thresholds: scenarios.DefaultThresholds()}
}

// checkServed asserts what every provider must give: every connection
// served, and what httpd saw (busy workers, memory, its request count).
func checkServed(t *testing.T, out *results.File, n int) {
	t.Helper()
	if !out.Complete || len(out.Runs) != 2 {
		t.Fatalf("got complete=%v with %d runs, want 2 complete", out.Complete, len(out.Runs))
	}
	for _, r := range out.Runs {
		if r.Verdict != results.Pass || r.Connections.Served != n {
			t.Errorf("%s: verdict %s, served %d: want pass and %d (reasons %v, error %q)", r.Config, r.Verdict, r.Connections.Served, n, r.Reasons, r.Error)
		}
		s := r.Server
		if s == nil {
			t.Fatalf("%s: no server side", r.Config)
		}
		if s.PeakBusyWorkers < 1 || s.StatusSamples < 3 || s.AccessesDuringRun < r.Requests.OK || s.MemoryEndMB <= 0 || s.CPUSeconds <= 0 {
			t.Errorf("%s: server side %+v: want busy workers, samples, httpd's count >= %d ok, memory and CPU", r.Config, *s, r.Requests.OK)
		}
		if r.HTTPDVersion == "" || r.HTTPDConf == "" {
			t.Errorf("%s: version %q, conf %d bytes: want both", r.Config, r.HTTPDVersion, len(r.HTTPDConf))
		}
	}
}

// TestRunDocker drives the Docker provider through the library API alone,
// with no flags: Run's default provider, and a stored run folder.
func TestRunDocker(t *testing.T) {
	dockertest.Require(t)
	dir := t.TempDir()
	sc := smallScenario(t, 120, "event-stock", "worker-stock")
	sc.Image = dockertest.Image
	var seen []string
	out, err := loadcheck.Run(context.Background(), sc, loadcheck.WithStore(dir), loadcheck.WithRunID("api"),
		loadcheck.OnConfig(func(r results.Run) { seen = append(seen, r.Config) }))
	if err != nil {
		t.Fatal(err)
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
	checkServed(t, out, 120)
	if len(seen) != 2 || out.Runs[0].Image != dockertest.Image || out.Scenario.Layout != "debian" {
		t.Errorf("hook saw %v, image %q, layout %q: want both configs, %s, debian", seen, out.Runs[0].Image, out.Scenario.Layout, dockertest.Image)
	}
	stored, err := results.ReadRun(filepath.Join(dir, "api"))
	if err != nil || len(stored.Runs) != 2 || !stored.Complete {
		t.Errorf("stored run: %v, %+v", err, stored)
	}
	// Run ends its folder with the HTML report, as Capacity does.
	if html, err := os.ReadFile(filepath.Join(dir, "api", "report.html")); err != nil || !bytes.Contains(html, []byte("event-stock")) {
		t.Errorf("report.html: %v, %d bytes", err, len(html))
	}
}

// TestRunLocal runs the same through the local provider: httpd started
// natively on this host, no container.
func TestRunLocal(t *testing.T) {
	dockertest.RequireHTTPD(t)
	t.Chdir(t.TempDir())
	sc := smallScenario(t, 120, "event-stock", "worker-stock")
	out, err := loadcheck.Run(context.Background(), sc, loadcheck.WithProvider(provider.Local{}))
	if err != nil {
		t.Fatal(err)
	}
	checkServed(t, out, 120)
	if out.Runs[0].Image != "" {
		t.Errorf("image %q for a native httpd", out.Runs[0].Image)
	}
	// Nothing written without WithStore.
	if _, err := os.Stat(loadcheck.DefaultRunsDir); !os.IsNotExist(err) {
		t.Errorf("Run without WithStore wrote %s", loadcheck.DefaultRunsDir)
	}
}

// TestRepeatInterleaved runs each config twice against a fresh httpd,
// all configs once and then all again, and keeps every repeat.
func TestRepeatInterleaved(t *testing.T) {
	dockertest.RequireHTTPD(t)
	sc := smallScenario(t, 40, "event-stock", "worker-stock")
	sc.Repeat = 2
	var order []string
	dir := t.TempDir()
	out, err := loadcheck.Run(context.Background(), sc, loadcheck.WithProvider(provider.Local{}), loadcheck.WithStore(dir), loadcheck.WithRunID("rep"),
		loadcheck.OnConfig(func(r results.Run) { order = append(order, fmt.Sprintf("%s#%d", r.Config, r.Repeat)) }))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, " ") != "event-stock#1 worker-stock#1 event-stock#2 worker-stock#2" {
		t.Errorf("ran %v: want interleaved repeats", order)
	}
	if !out.Complete || len(out.Runs) != 2 {
		t.Fatalf("complete %v with %d configs", out.Complete, len(out.Runs))
	}
	for _, r := range out.Runs {
		if len(r.Repeats) != 2 || r.Spread == nil || r.Spread.Passed != 2 || r.Verdict != results.Pass || r.Spread.Served.Median != 40 {
			t.Errorf("%s: verdict %s, spread %+v, %d repeats: want 2 passing repeats serving 40", r.Config, r.Verdict, r.Spread, len(r.Repeats))
		}
		for _, rep := range r.Repeats {
			if rep.Server == nil || rep.Server.AccessesDuringRun < rep.Requests.OK {
				t.Errorf("%s repeat %d: server side %+v: each repeat has its own fresh server's view", r.Config, rep.Repeat, rep.Server)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "rep", "worker-stock.r2.hlog")); err != nil {
		t.Errorf("repeat files: %v", err)
	}
}

// TestMain lets this test binary act as a generator shard process, as
// loadcheck's hidden shard command does.
func TestMain(m *testing.M) {
	if os.Getenv("LOADCHECK_TEST_SHARD") == "1" {
		if err := bench.ServeShard(context.Background(), os.Stdin, os.Stdout); err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A run through shard processes records the schedule's own start, not the
// moment the shards were launched (they begin a second later), so that the
// window, the .hlog interval, the busy-shutdown cut-off and the series line
// up.
func TestShardStartRecorded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	defer srv.Close()
	load := scenarios.DefaultLoad()
	load.Connections, load.RatePerConn, load.Ramp, load.WarmUp, load.Duration = 4, 5, 200*time.Millisecond, 300*time.Millisecond, 2*time.Second
	sc := scenarios.Scenario{Name: "shards", Load: load, Configs: []apache.Config{{Name: "t", MPM: "unknown"}}, Thresholds: scenarios.DefaultThresholds()}
	gen := shards.Generator{N: 2, Command: func(ctx context.Context) *exec.Cmd {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "LOADCHECK_TEST_SHARD=1")
		return cmd
	}}
	called := time.Now()
	out, err := loadcheck.Run(context.Background(), sc, loadcheck.WithProvider(provider.Target{URL: srv.URL + "/"}), loadcheck.WithGenerator(gen))
	if err != nil {
		t.Fatal(err)
	}
	r := out.Runs[0]
	if r.Verdict != "pass" || r.Shards != 2 {
		t.Fatalf("verdict %s with %d processes: %v", r.Verdict, r.Shards, r.Reasons)
	}
	// bench.RunShards starts the common schedule a second after it is called.
	if d := r.LoadStartedAt.Sub(called); d < 900*time.Millisecond || d > 3*time.Second {
		t.Errorf("load started %s after the call: want the shards' common start, about 1 s later", d)
	}
}

// blockingProvider's Start waits until ctx ends, like a container that is
// still starting when the user presses Ctrl-C.
type blockingProvider struct{ started chan struct{} }

func (p blockingProvider) Describe() provider.Description {
	return provider.Description{Name: "blocking"}
}
func (p blockingProvider) Start(ctx context.Context, _ apache.Config, _ provider.StartOptions) (provider.Server, error) {
	close(p.started)
	<-ctx.Done()
	return nil, ctx.Err()
}

// Ctrl-C while a server starts: Run still returns (and stores) the result
// of the configs measured so far, marked incomplete, with ctx's error; the
// command prints it as the partial table.
func TestInterruptDuringStart(t *testing.T) {
	dir := t.TempDir()
	sc := smallScenario(t, 10, "event-stock", "worker-stock")
	ctx, cancel := context.WithCancel(context.Background())
	p := blockingProvider{started: make(chan struct{})}
	go func() { <-p.started; cancel() }()
	out, err := loadcheck.Run(ctx, sc, loadcheck.WithProvider(p), loadcheck.WithStore(dir), loadcheck.WithRunID("cut"))
	if !errors.Is(err, context.Canceled) || out == nil || out.Complete {
		t.Fatalf("got %v, %+v: want the partial result and context.Canceled", err, out)
	}
	stored, err := results.ReadRun(filepath.Join(dir, "cut"))
	if err != nil || stored.Complete {
		t.Errorf("stored run: %v, complete %v; want it stored, incomplete", err, stored != nil && stored.Complete)
	}
}

// killingProvider starts httpd natively and kills all of it after a while,
// as if it crashed mid-run.
type killingProvider struct {
	provider.Local
	after time.Duration
}

func (p killingProvider) Start(ctx context.Context, cfg apache.Config, o provider.StartOptions) (provider.Server, error) {
	srv, err := p.Local.Start(ctx, cfg, o)
	if err != nil {
		return srv, err
	}
	cg := srv.Endpoint().Sources.Cgroup
	time.AfterFunc(p.after, func() {
		for _, f := range cg.ProcsFiles() {
			b, _ := os.ReadFile(f)
			for _, pid := range strings.Fields(string(b)) {
				if n, err := strconv.Atoi(pid); err == nil {
					syscall.Kill(n, syscall.SIGKILL)
				}
			}
		}
	})
	return srv, nil
}

// httpd dies mid-run: that config ends as error, saying when httpd died,
// with the numbers measured until then kept; the next config still runs.
func TestServerDiesMidRun(t *testing.T) {
	dockertest.RequireHTTPD(t)
	sc := smallScenario(t, 20, "event-stock")
	ok := sc.Configs[0]
	ok.Name = "event-stock-again"
	sc.Configs = append(sc.Configs, ok)
	var kills int
	p := &countingKiller{killingProvider: killingProvider{after: 4500 * time.Millisecond}, kills: &kills}
	out, err := loadcheck.Run(context.Background(), sc, loadcheck.WithProvider(p))
	if err != nil {
		t.Fatal(err)
	}
	dead, alive := out.Runs[0], out.Runs[1]
	if dead.Verdict != results.Error || dead.Server == nil || !strings.Contains(dead.Server.Died, "httpd exited") || !strings.Contains(dead.Server.Died, "into the load") {
		t.Errorf("killed config: verdict %s, server %+v: want error saying when httpd exited", dead.Verdict, dead.Server)
	}
	if dead.Requests.Sent == 0 || dead.Requests.OK == 0 || dead.Requests.Errors["connect_refused"]+dead.Requests.Errors["closed_by_server"]+dead.Requests.Errors["reset"] == 0 {
		t.Errorf("killed config: requests %+v: want the numbers measured until then, and the failures after", dead.Requests)
	}
	if alive.Verdict != results.Pass {
		t.Errorf("the next config: verdict %s %v, want pass", alive.Verdict, alive.Reasons)
	}
}

// countingKiller kills only the first config's httpd.
type countingKiller struct {
	killingProvider
	kills *int
}

func (p *countingKiller) Start(ctx context.Context, cfg apache.Config, o provider.StartOptions) (provider.Server, error) {
	*p.kills++
	if *p.kills > 1 {
		return p.Local.Start(ctx, cfg, o)
	}
	return p.killingProvider.Start(ctx, cfg, o)
}

// TestCIJob names the CI job from the variables CI systems set.
func TestCIJob(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "123", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ATTEMPT": "2", "GITHUB_SHA": "d93afb5fce5f0011223344"},
			"GitHub Actions run 123 of o/r, attempt 2, commit d93afb5fce5f"},
		{map[string]string{"GITLAB_CI": "true", "CI": "true", "CI_JOB_ID": "45", "CI_PROJECT_PATH": "g/p"}, "GitLab CI job 45 of g/p"},
		{map[string]string{"CI": "true"}, "CI"},
		{map[string]string{"CI": "false"}, ""},
		{nil, ""},
	} {
		if got := loadcheck.CIJob(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.env, got, tc.want)
		}
	}
}
