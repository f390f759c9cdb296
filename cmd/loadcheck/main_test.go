package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/internal/dockertest"
	"github.com/loadcheck/loadcheck/results"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = realMain(args, &out, &errb)
	return code, out.String(), errb.String()
}

func readResult(t *testing.T, path string) *results.File {
	t.Helper()
	f, err := results.ReadJSON(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return f
}

func TestUsageErrors(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--configs", "event-fast"}, "unknown config \"event-fast\""},
		{[]string{"run", "-c", "0"}, "connections: must be at least 1"},
		{[]string{"run", "-c", "-3"}, "connections: must be at least 1"},
		{[]string{"run", "-c", fmt.Sprint(lim.Max), "--no-shard"}, fmt.Sprintf("need %d file descriptors in one process", lim.Max+256)},
		{[]string{"run", "--no-shard", "--shards", "3"}, "contradict"},
		{[]string{"run", "--closed-loop", "--rate", "5"}, "closed loop"},
		{[]string{"run", "--header", "NoColon"}, `want "Name: value"`},
		{[]string{"run", "--path", "nope"}, "a path must start with /"},
		{[]string{"run", "--memory", "lots"}, "want a size of at least 6m"},
		{[]string{"run", "--config-file", "mine"}, "want NAME=PATH"},
		{[]string{"run", "--config-file", "mine=testdata/nope.conf"}, "nope.conf"},
		{[]string{"run", "--config-file", "mine=testdata/user-event.conf", "--set", "A=1"}, "--set: cannot change config mine, your own config file (testdata/user-event.conf)"},
		{[]string{"run", "--configs", "event-tuned", "--set", "ThreadsPerChild=100"}, "ThreadsPerChild 100 is above ThreadLimit 64"},
		{[]string{"run", "--config-dir", "shop"}, "want NAME=DIR"},
		{[]string{"run", "--config-dir", "shop=testdata"}, "config tree testdata: no top-level config file: expected apache2.conf"},
		{[]string{"run", "--config-dir", "shop=../../scenarios/trees/debian-shop", "--config-dir", "shop=../../apache/testdata/official-tree"}, `--config-dir: shop=../../apache/testdata/official-tree: a config called "shop" is already in the run`},
		{[]string{"run", "--config-dir", "shop=../../scenarios/trees/debian-shop", "--host", "blog.example"}, "--host: blog.example: config tree ../../scenarios/trees/debian-shop (shop) has no vhost"},
		{[]string{"run", "--host", "shop.example"}, "--host: chooses a vhost of a config tree"},
		{[]string{"run", "--tls", "--tls-key", "dsa"}, `--tls-key: unknown TLS key "dsa": use ecdsa-p256 (default) or rsa2048`},
		{[]string{"run", "--tls-key", "rsa2048"}, "--tls-key needs --tls"},
		{[]string{"run", "--tls", "--config-file", "mine=testdata/user-event.conf"}, "--tls: config mine is your own config file (testdata/user-event.conf)"},
		{[]string{"run", "--tls", "--config-dir", "blog=../../apache/testdata/official-tree"}, "--tls: config tree ../../apache/testdata/official-tree has no SSL virtual host"},
		{[]string{"run", "--tls", "--target", "http://127.0.0.1:1/"}, "for a server you run, give --target https://"},
		{[]string{"run", "--target", "http://127.0.0.1:1/", "--config-dir", "shop=../../scenarios/trees/debian-shop"}, "--config-dir start httpd containers"},
		{[]string{"run", "--cpus", "-1"}, "--cpus must not be negative"},
		{[]string{"run", "--file", "/big.bin"}, "want PATH=SIZE such as /page-100k.html=100k"},
		{[]string{"run", "--paths-from", "testdata/nope.log"}, "testdata/nope.log: no such file"},
		{[]string{"run", "--backend", "/app"}, "want PATH=LATENCY"},
		{[]string{"run", "--backend", "/app=lognormal p50=400ms p99=50ms"}, "--backend: latency \"lognormal p50=400ms p99=50ms\": the quantiles must grow"},
		{[]string{"run", "--backend-size", "2k"}, "--backend-size: needs a backend (--backend"},
		{[]string{"run", "--slow-clients", "120%"}, "slow_clients.share: want a share of the connections from 0% to 100%, got 120%"},
		{[]string{"run", "--slow-clients", "lots"}, "want a share such as 20%"},
		{[]string{"run", "--slow-read", "8k"}, "--slow-read needs --slow-clients"},
		{[]string{"run", "--slow-clients", "20%", "--file", "/p=100k", "--path", "/p", "-d", "6s"}, "make the window at least 15s"},
		{[]string{"run", "--paths-from", "testdata/user-event.conf"}, "testdata/user-event.conf: no line in Common or Combined Log Format"},
		{[]string{"run", "--paths-from", "testdata/access.log", "--path", "/x"}, "--paths-from gives the paths and methods: drop --path and --method"},
		{[]string{"run", "--file", "/big.bin=lots"}, "want PATH=SIZE"},
		{[]string{"run", "--file", "big.bin=1k"}, "--file: want an absolute path"},
		{[]string{"run", "--file", "/big.bin=1g"}, "--file: want 0 to 64m"},
		{[]string{"run", "--target", "http://127.0.0.1:1/", "--file", "/a=1k"}, "--file creates files on a server loadcheck starts"},
		{[]string{"run", "--target", "http://127.0.0.1:1/", "--memory", "1g"}, "cannot be used with --target"},
		{[]string{"run", "--set", "MaxRequestWorkers"}, "want Name=Value"},
		{[]string{"run", "--target", "http://127.0.0.1:1/", "--set", "A=1"}, "cannot be used with --target"},
		{[]string{"run", "-d", "soon"}, "invalid value \"soon\""},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"run", "--warmup", "soon"}, `want auto or a duration such as 30s, got "soon"`},
		{[]string{"run", "--warmup", "auto", "--warmup-max", "2s"}, "warmup_max: at least 5s"},
		{[]string{"run", "--warmup", "30s", "--warmup-max", "60s"}, "warmup_max: caps an auto warm-up only"},
		{[]string{"run", "--repeat", "0"}, "--repeat: want 1 to 100 runs per config, got 0"},
		{[]string{"run", "--repeat", "-2"}, "--repeat: want 1 to 100 runs per config, got -2"},
		{[]string{"run", "--flaky-ok"}, "--flaky-ok needs --repeat 2 or more"},
		{[]string{"capacity", "../../scenarios/capacity.yaml", "--repeat", "3"}, "--repeat and --flaky-ok apply to loadcheck run"},
		{[]string{"capacity", "../../scenarios/capacity.yaml", "--search", "binary"}, `capacity: search: must be stepped or bisect, got "binary"`},
	}
	for _, tc := range tests {
		code, _, stderr := run(t, tc.args...)
		if code != exitSetup || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: got exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// okServer starts an in-process HTTP server on loopback that answers "ok"
// and returns its base URL.
func okServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/"
}

// TestTargetMode drives an in-process loopback server: no Docker.
func TestTargetMode(t *testing.T) {
	url := okServer(t)
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := run(t, "run", "--target", url, "-c", "50",
		"--ramp", "200ms", "--warmup", "300ms", "-d", "2s", "--rate", "5", "--json", out)
	if code != exitPass {
		t.Fatalf("got exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	f := readResult(t, out)
	r := f.Runs[0]
	if f.Schema != "loadcheck.result/v1" || r.Config != "target" || r.Verdict != "pass" {
		t.Errorf("got schema %q config %q verdict %q", f.Schema, r.Config, r.Verdict)
	}
	if r.Connections.Served != 50 || r.Requests.Sent != 500 || r.Requests.OK != 500 {
		t.Errorf("got served %d sent %d ok %d, want 50 500 500", r.Connections.Served, r.Requests.Sent, r.Requests.OK)
	}
	if !strings.Contains(stdout, "target") || !strings.Contains(stdout, "PASS") {
		t.Errorf("table lacks the target row:\n%s", stdout)
	}
	// The documented keys are there.
	raw, _ := os.ReadFile(out)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	run0 := m["runs"].([]any)[0].(map[string]any)
	for _, key := range []string{"config", "mpm", "verdict", "connections", "requests", "latency_ms", "throughput_rps"} {
		if _, ok := run0[key]; !ok {
			t.Errorf("result lacks key %q", key)
		}
	}
}

// TestTargetTLSVerify loads an https:// server whose certificate no root
// vouches for: refused before the load, naming --insecure; with it, loaded.
func TestTargetTLSVerify(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	t.Cleanup(srv.Close)
	args := []string{"run", "--target", srv.URL + "/", "-c", "10", "--ramp", "200ms", "--warmup", "300ms", "-d", "1s", "--rate", "5"}
	code, _, stderr := run(t, args...)
	if code != exitSetup || !strings.Contains(stderr, "the server's certificate cannot be verified for 127.0.0.1 (x509: certificate signed by unknown authority): pass --insecure") {
		t.Errorf("unverifiable certificate: exit %d, stderr:\n%s", code, stderr)
	}
	out := filepath.Join(t.TempDir(), "r.json")
	code, _, stderr = run(t, append(args, "--insecure", "--json", out)...)
	if code != exitPass {
		t.Fatalf("--insecure: exit %d, stderr:\n%s", code, stderr)
	}
	if r := readResult(t, out).Runs[0]; r.TLS == nil || r.TLS.Handshakes < 10 || r.Connections.Served != 10 {
		t.Errorf("--insecure: served %d, TLS %+v", r.Connections.Served, r.TLS)
	}
}

// TestTreeCertificateRefused stops a tree whose certificate does not match
// its key, or has only one half of its pair, before any container starts.
func TestTreeCertificateRefused(t *testing.T) {
	certA, _, _ := apache.SelfSigned([]string{"shop.example"}, apache.TLSKeyECDSA)
	_, keyB, _ := apache.SelfSigned([]string{"shop.example"}, apache.TLSKeyECDSA)
	for name, pair := range map[string][2][]byte{"mismatch": {certA, keyB}, "no key": {certA, nil}} {
		tree := t.TempDir()
		if err := os.CopyFS(tree, os.DirFS("../../scenarios/trees/official-shop")); err != nil {
			t.Fatal(err)
		}
		for i, p := range []string{"conf/server.crt", "conf/server.key"} {
			if pair[i] != nil {
				if err := os.WriteFile(filepath.Join(tree, p), pair[i], 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		code, _, stderr := run(t, "run", "--config-dir", "shop="+tree, "--tls", "-c", "10")
		want := map[string]string{"mismatch": "certificate " + tree + "/conf/server.crt and key " + tree + "/conf/server.key do not match",
			"no key": "the key " + tree + "/conf/server.key is missing while its certificate " + tree + "/conf/server.crt is there"}[name]
		if code != exitSetup || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant exit 2 and %q", name, code, stderr, want)
		}
	}
}

// TestShardedTarget splits the generator over three processes of the real
// binary (the hidden shard command) and checks the merged accounting.
func TestShardedTarget(t *testing.T) {
	url := okServer(t)
	out := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command(binary, "run", "--quiet", "--target", url, "-c", "30", "--shards", "3",
		"--ramp", "300ms", "--warmup", "500ms", "-d", "2s", "--rate", "5", "--json", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sharded run: %v\n%s", err, stderr.String())
	}
	r := readResult(t, out).Runs[0]
	if r.Shards != 3 || r.Connections.Served != 30 || r.Requests.Sent != 300 || r.Requests.OK != 300 {
		t.Errorf("processes %d served %d sent %d ok %d, want 3 30 300 300", r.Shards, r.Connections.Served, r.Requests.Sent, r.Requests.OK)
	}
	if len(r.Series) < 3 {
		t.Errorf("got %d series points for a 2.8 s run", len(r.Series))
	}
	// Each process's share is kept beside the merged numbers.
	var served, target int
	var ok int64
	for _, s := range r.GeneratorShards {
		served, target, ok = served+s.Served, target+s.Target, ok+s.OK
	}
	if len(r.GeneratorShards) != 3 || served != 30 || target != 30 || ok != 300 || r.GeneratorShards[2].Shard != 2 {
		t.Errorf("generator shards %+v: want 3 adding up to 30 served of 30 and 300 ok", r.GeneratorShards)
	}
}

// TestDockerUnreachable runs a separate process: testcontainers resolves
// the Docker host once per process.
func TestDockerUnreachable(t *testing.T) {
	cmd := exec.Command(binary, "run", "--configs", "event-stock", "-c", "10")
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix:///nonexistent/docker.sock", "TESTCONTAINERS_RYUK_DISABLED=true")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	_ = cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != exitSetup || !strings.Contains(stderr.String(), "Docker engine unreachable") {
		t.Errorf("got exit %d stderr %q, want 2 and a clear Docker message", code, stderr.String())
	}
}

// binary is loadcheck built once by TestMain, for the tests that need a
// separate process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "loadcheck-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "loadcheck")
	// Run folders go to a temporary folder, not into the source tree.
	os.Setenv("LOADCHECK_RESULTS", filepath.Join(dir, "results"))
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build loadcheck: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestMissingImage(t *testing.T) {
	dockertest.Require(t)
	code, _, stderr := run(t, "run", "--image", "loadcheck/no-such:1", "--configs", "event-stock", "-c", "10")
	if code != exitSetup || !strings.Contains(stderr, "not in the local Docker engine") || !strings.Contains(stderr, "make image") {
		t.Errorf("got exit %d stderr %q, want 2 and how to build it", code, stderr)
	}
}

func TestBadHTTPDConfig(t *testing.T) {
	dockertest.Require(t)
	code, _, stderr := run(t, "run", "--configs", "event-stock", "-c", "10", "--set", "MaxRequestWokers=400")
	if code != exitSetup || !strings.Contains(stderr, "httpd rejected config \"event-stock\"") || !strings.Contains(stderr, "Invalid command 'MaxRequestWokers'") {
		t.Errorf("got exit %d stderr %q, want 2 and Apache's error line", code, stderr)
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

// TestHonestyPreforkStock is the case the harness exists for: 150 workers,
// 4000 keep-alive clients. Everything beyond the workers waits in the
// listen queue, and the result must say so.
func TestHonestyPreforkStock(t *testing.T) {
	dockertest.Require(t)
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := run(t, "run", "--configs", "prefork-stock", "-c", "4000", "-d", "6s", "--json", out)
	t.Logf("stdout:\n%s", stdout)
	if code != exitFail {
		t.Fatalf("got exit %d, want 1 (fail); stderr:\n%s", code, stderr)
	}
	r := readResult(t, out).Runs[0]
	c, q := r.Connections, r.Requests
	if r.Verdict != "fail" {
		t.Errorf("got verdict %q, want fail", r.Verdict)
	}
	if c.Served > 150 {
		t.Errorf("got %d served, but prefork-stock has only 150 workers", c.Served)
	}
	if c.Starved < 3500 {
		t.Errorf("got %d starved (%d partly served), want at least 3500 that never got a byte", c.Starved, c.PartlyServed)
	}
	if c.Served+c.PartlyServed+c.Starved != c.Target || q.Sent != q.OK+q.Dropped+q.InFlight {
		t.Errorf("accounting does not add up: %+v %+v", c, q)
	}
	if r.Server == nil || r.Server.PeakBusyWorkers != 150 {
		t.Fatalf("got server %+v, want peak busy workers 150", r.Server)
	}
	// What the server saw: busy workers stuck at 150 through the measured
	// window, the listen queue overflowing, and httpd saying why.
	// The window begins where the auto warm-up ended it (after the 4 s
	// ramp) and lasts 6 s; the sampler's last reading comes after the load.
	measureFrom := r.MeasureStartS
	measureTo := measureFrom + 6
	if r.WarmUpEnded == "fixed" || measureFrom < 4 {
		t.Errorf("window from %.1f s, warm-up %q: want an auto warm-up after the 4 s ramp", measureFrom, r.WarmUpEnded)
	}
	inWindow := 0
	for _, pt := range r.Server.Series {
		if pt.T >= measureFrom && pt.T < measureTo {
			inWindow++
			if pt.BusyWorkers != 150 {
				t.Errorf("busy workers %d at %.0fs, want stuck at 150", pt.BusyWorkers, pt.T)
			}
		}
	}
	if inWindow < 4 {
		t.Errorf("only %d mod_status readings in the measured window", inWindow)
	}
	if q := r.Server.PeakAcceptQueue; q < 100 {
		t.Errorf("accept queue peaked at %d, want it full (ListenBacklog 511)", q)
	}
	if k := r.Server.Kernel; k == nil || k.Overflows <= 0 {
		t.Errorf("kernel counters %+v, want listen overflows above 0", k)
	}
	var quoted bool
	for _, c := range r.Server.ErrorLog {
		quoted = quoted || (c.Code == "AH00161" && strings.Contains(c.First, "MaxRequestWorkers"))
	}
	if !quoted || !strings.Contains(stdout, "AH00161") {
		t.Errorf("error log %+v, table:\n%s\nwant AH00161 counted and quoted", r.Server.ErrorLog, stdout)
	}
	if r.TimeToCapacityS != -1 || !strings.Contains(stdout, "never held every connection") {
		t.Errorf("time to capacity %g, want never (-1)", r.TimeToCapacityS)
	}
	if s := r.Server; s.MemoryStartMB <= 0 || s.MemoryEndMB <= s.MemoryStartMB || s.CPUSeconds <= 0 || s.OOMKills != 0 {
		t.Errorf("container memory %g -> %g MB, CPU %gs, OOM kills %d: want growth, CPU and no OOM",
			s.MemoryStartMB, s.MemoryEndMB, s.CPUSeconds, s.OOMKills)
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

// TestTunedHold4000: the article's values hold 4000 keep-alive
// connections. Tuned worker must pass outright. Tuned event must answer
// every one of the 4000 (stock event starves about 3500); whether it also
// keeps every connection open through the window varies from run to run on
// this 2-core shared machine: in some runs it closes hundreds of kept-alive
// connections all along (closed_by_server), in others none after 20-35 s.
// The cause is event's per-process cap: a process that gets a connection
// while full shuts down all its kept-alive connections (see the README's
// capacity section). In the worst run seen (18402 shut down, CPU doubled)
// 4 of the 4000 got no answer before the window closed, so the test allows
// 1 %: stock event starves about 3500. The test checks what holds in every
// run, that lost connections come with the shutdowns that explain them,
// and logs the rest.
func TestTunedHold4000(t *testing.T) {
	dockertest.Require(t)
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := run(t, "run", "--configs", "worker-tuned,event-tuned", "-c", "4000", "--warmup", "60s", "-d", "5s", "--json", out)
	t.Logf("exit %d, stdout:\n%s", code, stdout)
	if code != exitPass && code != exitFail {
		t.Fatalf("got exit %d, want 0 or 1\nstderr:\n%s", code, stderr)
	}
	for _, r := range readResult(t, out).Runs {
		if r.Server == nil || float64(len(r.Server.Series)) < r.MeasureStartS+4 {
			t.Errorf("%s: want a mod_status reading every second", r.Config)
		}
		t.Logf("%s: warm-up %gs: %s", r.Config, r.WarmUpS, r.WarmUpEnded)
		if r.WarmUpS <= 0 || r.WarmUpEnded == "" {
			t.Errorf("%s: warm-up %gs, ended: %q; want both recorded", r.Config, r.WarmUpS, r.WarmUpEnded)
		}
		switch r.Config {
		case "worker-tuned":
			if r.Connections.Served != 4000 || r.Requests.OK != 20000 || r.Verdict != "pass" {
				t.Errorf("%s: got served %d, ok %d, verdict %s %v; want 4000, 20000, pass",
					r.Config, r.Connections.Served, r.Requests.OK, r.Verdict, r.Reasons)
			}
			// Held before the measured window began: the auto warm-up
			// waits for every connection answered.
			if r.TimeToCapacityS < 4 || r.TimeToCapacityS > r.MeasureStartS {
				t.Errorf("%s: time to capacity %gs, want within the ramp and warm-up (%gs)", r.Config, r.TimeToCapacityS, r.MeasureStartS)
			}
			if r.WarmUpEnded != "fixed" || r.WarmUpS != 60 {
				t.Errorf("%s: warm-up %gs ended: %q, want the fixed 60 s", r.Config, r.WarmUpS, r.WarmUpEnded)
			}
		case "event-tuned":
			c := r.Connections
			if c.Established != 4000 || c.Starved > 40 {
				t.Errorf("%s: established %d, starved %d; want 4000 and at most 40", r.Config, c.Established, c.Starved)
			}
			if r.Requests.Errors["closed_by_server"] > 0 && r.Server != nil && r.Server.BusyClosed == 0 {
				t.Errorf("%s: %d requests met a connection httpd had closed, but no event shutdown was counted", r.Config, r.Requests.Errors["closed_by_server"])
			}
			// Either it holds 4000, or it fails saying what httpd did.
			if r.Verdict != "pass" && !strings.Contains(strings.Join(r.Reasons, " "), "partly served") {
				t.Errorf("%s: failed without saying which connections: %v", r.Config, r.Reasons)
			}
			if r.Verdict != "pass" && (r.Diagnosis == "" || !strings.Contains(stdout, "why: ")) {
				t.Errorf("%s: failed with no diagnosis of what httpd did (diagnosis %q)", r.Config, r.Diagnosis)
			}
			if r.Verdict != "pass" && r.Server != nil && r.Server.BusyClosed > 0 && !strings.Contains(r.Diagnosis, "event shut down") {
				t.Errorf("%s: httpd shut down %d kept-alive connections, but the diagnosis does not say so: %q", r.Config, r.Server.BusyClosed, r.Diagnosis)
			}
		}
	}
}

// TestUserConfigFile runs the user's own httpd.conf beside a preset, and
// stops with Apache's own message, exit 2 and before any load, when the
// file has a syntax error.
func TestUserConfigFile(t *testing.T) {
	dockertest.Require(t)
	out := filepath.Join(t.TempDir(), "r.json")
	code, _, stderr := run(t, "run", "--config-file", "broken=testdata/user-broken.conf", "-c", "50", "--json", out)
	if code != exitSetup || !strings.Contains(stderr, "testdata/user-broken.conf") ||
		!strings.Contains(stderr, "line 16") || !strings.Contains(stderr, "Invalid command 'ThisIsNotADirective'") {
		t.Errorf("broken file: got exit %d, stderr:\n%s\nwant 2 with Apache's message, the file and line 16", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a result was written for a config that never ran")
	}
	code, stdout, stderr := run(t, "run", "--config-file", "mine=testdata/user-event.conf", "-c", "200",
		"--ramp", "2s", "--warmup", "8s", "-d", "3s", "--json", out)
	t.Logf("stdout:\n%s", stdout)
	if code != exitPass {
		t.Fatalf("user file: got exit %d; stderr:\n%s", code, stderr)
	}
	r := readResult(t, out).Runs[0]
	if r.Config != "mine" || r.MPM != "event" || r.Connections.Served != 200 || !strings.Contains(r.HTTPDConf, "# loadcheck replaced: Listen 80") {
		t.Errorf("got config %q mpm %q served %d, conf replaced Listen: %v", r.Config, r.MPM, r.Connections.Served,
			strings.Contains(r.HTTPDConf, "# loadcheck replaced: Listen 80"))
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

// TestOOMKilled: a prefork config whose processes do not fit its memory
// limit fails as "killed: out of memory", not as a pile of resets.
func TestOOMKilled(t *testing.T) {
	dockertest.Require(t)
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := run(t, "run", "--configs", "prefork-tuned", "--memory", "128m", "-c", "1000",
		"--ramp", "1s", "--warmup", "3s", "-d", "3s", "--json", out)
	t.Logf("stdout:\n%s", stdout)
	if code != exitFail {
		t.Fatalf("got exit %d, want 1; stderr:\n%s", code, stderr)
	}
	r := readResult(t, out).Runs[0]
	if r.Verdict != "fail" || len(r.Reasons) == 0 || !strings.HasPrefix(r.Reasons[0], "killed: out of memory") {
		t.Errorf("verdict %s reasons %v, want fail with killed: out of memory first", r.Verdict, r.Reasons)
	}
	if r.Server == nil || r.Server.OOMKills < 1 || r.Server.MemoryLimitMB != 128 || !strings.Contains(stdout, "FAIL (OOM)") {
		t.Errorf("server %+v, want OOM kills and the 128 MB limit recorded, and FAIL (OOM) in the table", r.Server)
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

// TestInterruptCleansUp sends SIGINT to a real loadcheck process mid-run.
func TestInterruptCleansUp(t *testing.T) {
	dockertest.Require(t)
	bin := binary
	out := filepath.Join(t.TempDir(), "r.json")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "--configs", "event-stock,worker-stock", "-c", "200", "-d", "30s", "--json", out)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the first container is serving, then interrupt.
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(stderr.String(), "ready at") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	if code != exitInterrupted {
		t.Errorf("got exit %d (%v), want 130; stderr:\n%s", code, err, stderr.String())
	}
	f := readResult(t, out)
	if f.Complete || len(f.Runs) != 1 || f.Runs[0].Complete {
		t.Errorf("got complete %v with %d runs, want an incomplete result with the one interrupted run", f.Complete, len(f.Runs))
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind after SIGINT: %v\nstderr:\n%s", left, stderr.String())
	}
}

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// engineProxy forwards a unix socket to the Docker engine's, and cuts
// itself off for good once the first container has been removed: the
// engine becomes unreachable between two configs.
type engineProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	cut   bool
}

func newEngineProxy(t *testing.T) (host string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	p := &engineProxy{ln: ln}
	t.Cleanup(p.cutOff)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e, err := net.Dial("unix", "/var/run/docker.sock")
			if err != nil {
				c.Close()
				continue
			}
			if !p.track(c, e) {
				return
			}
			var removing atomic.Bool
			go p.pipe(e, c, func(b []byte) { // requests: watch for the removal
				if bytes.HasPrefix(b, []byte("DELETE /")) && bytes.Contains(b, []byte("/containers/")) {
					removing.Store(true)
				}
			})
			go p.pipe(c, e, func([]byte) { // answers: cut once the removal's is through
				if removing.Load() {
					p.cutOff()
				}
			})
		}
	}()
	return "unix://" + sock
}

func (p *engineProxy) track(c ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		for _, x := range c {
			x.Close()
		}
		return false
	}
	p.conns = append(p.conns, c...)
	return true
}

// pipe copies src to dst, calling seen after each chunk it forwarded.
func (p *engineProxy) pipe(dst, src net.Conn, seen func([]byte)) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			seen(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

func (p *engineProxy) cutOff() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return
	}
	p.cut = true
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

// TestDockerVanishes: the engine becomes unreachable after the first
// config: the run stops with exit 2 and a clear message, and the config
// already measured is kept in the JSON, marked incomplete.
func TestDockerVanishes(t *testing.T) {
	dockertest.Require(t)
	out := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command(binary, "run", "--configs", "event-stock,worker-stock,prefork-stock", "-c", "20", "--ramp", "500ms", "--warmup", "1s", "-d", "2s", "--json", out)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+newEngineProxy(t), "TESTCONTAINERS_RYUK_DISABLED=true")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	_ = cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if code != exitSetup || !strings.Contains(stderr.String(), "Docker engine unreachable") {
		t.Errorf("exit %d, want 2 and a clear Docker message; stderr:\n%s", code, stderr.String())
	}
	f := readResult(t, out)
	if f.Complete || len(f.Runs) != 1 || f.Runs[0].Config != "event-stock" || f.Runs[0].Verdict != results.Pass {
		t.Errorf("complete %v, %d runs: want the one measured config kept, incomplete", f.Complete, len(f.Runs))
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

// TestConfigTreeRun runs the shipped Debian tree with its shop vhost
// under load: every connection served by the vhost asked for, and the
// changes made to run it in result.json. A syntax error in an included
// file, and a module the image lacks, stop before any load with exit 2,
// naming the tree's own file and line.
func TestConfigTreeRun(t *testing.T) {
	dockertest.Require(t)
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := run(t, "run", "--config-dir", "shop=../../scenarios/trees/debian-shop", "--set", "MaxRequestWorkers=300",
		"-c", "200", "--ramp", "2s", "--warmup", "5s", "-d", "3s", "--json", out)
	t.Logf("stdout:\n%s", stdout)
	if code != exitPass {
		t.Fatalf("got exit %d; stderr:\n%s", code, stderr)
	}
	r := readResult(t, out).Runs[0]
	adj := strings.Join(r.Adjustments, "\n")
	if r.Config != "shop" || r.MPM != "event" || r.Host != "shop.example" || r.Connections.Served != 200 ||
		!strings.Contains(adj, "sites-enabled/shop.conf:6: <VirtualHost *:80> → <VirtualHost *:") ||
		!strings.Contains(adj, "DocumentRoot /srv/shop/public did not exist") {
		t.Errorf("config %q MPM %q host %q served %d, adjustments:\n%s", r.Config, r.MPM, r.Host, r.Connections.Served, adj)
	}
	if !strings.Contains(stderr, "adjusted: ports.conf:") || !strings.Contains(r.HTTPDConf, "MaxRequestWorkers 300") {
		t.Errorf("want the adjustments logged and --set after the tree; stderr:\n%s", stderr)
	}
	// The shop's own access log has every answer the window counted: the
	// shop vhost answered them, not the default one.
	if n := r.Server.AccessLogLines["shop-access.log"]; n < r.Requests.OK || r.Requests.OK == 0 {
		t.Errorf("shop-access.log has %d lines for %d answers (access logs %v)", n, r.Requests.OK, r.Server.AccessLogLines)
	}

	// The official-layout tree over TLS, on its own SSL vhost.
	code, stdout, stderr = run(t, "run", "--config-dir", "shop=../../scenarios/trees/official-shop", "--tls",
		"-c", "200", "--ramp", "2s", "--warmup", "5s", "-d", "3s", "--json", out+".tls")
	t.Logf("stdout:\n%s", stdout)
	if code != exitPass {
		t.Fatalf("official tree over TLS: exit %d; stderr:\n%s", code, stderr)
	}
	r = readResult(t, out+".tls").Runs[0]
	if r.TLS == nil || r.TLS.Handshakes < 200 || r.TLS.Failed != 0 || r.Connections.Served != 200 || r.Host != "shop.example" ||
		r.Server.AccessLogLines["ssl_request_log"] < r.Requests.OK || !strings.Contains(stdout, "shop TLS: TLS 1.3") ||
		!strings.Contains(stderr, "adjusted: warning: certificate /loadcheck/tree/conf/server.crt for shop.example") {
		t.Errorf("official tree over TLS: served %d host %q TLS %+v access logs %v; stderr:\n%s", r.Connections.Served, r.Host, r.TLS, r.Server.AccessLogLines, stderr)
	}

	tree := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tree, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("apache2.conf", "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n"+
		"LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so\nUser daemon\nListen 80\nIncludeOptional sites/*.conf\n")
	write("sites/bad.conf", "<VirtualHost *:80>\n  ServerName bad.example\n  ThisIsNotADirective on\n</VirtualHost>\n")
	code, _, stderr = run(t, "run", "--config-dir", "bad="+tree, "-c", "50", "--json", out+".bad")
	if code != exitSetup || !strings.Contains(stderr, "line 3 of "+tree+"/sites/bad.conf") || !strings.Contains(stderr, "Invalid command 'ThisIsNotADirective'") {
		t.Errorf("syntax error: exit %d, stderr:\n%s\nwant 2 naming %s/sites/bad.conf, line 3", code, stderr, tree)
	}
	write("sites/bad.conf", "LoadModule nope_module /usr/lib/apache2/modules/mod_nope.so\n")
	code, _, stderr = run(t, "run", "--config-dir", "bad="+tree, "-c", "50", "--json", out+".bad")
	if code != exitSetup || !strings.Contains(stderr, "line 1 of "+tree+"/sites/bad.conf") || !strings.Contains(stderr, "mod_nope.so") {
		t.Errorf("missing module: exit %d, stderr:\n%s\nwant 2 naming %s/sites/bad.conf and mod_nope.so", code, stderr, tree)
	}
	if _, err := os.Stat(out + ".bad"); err == nil {
		t.Error("a result was written for a tree that never ran")
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

// TestOwnImage runs a team-style image, loadcheck's plus Debian's
// mod_xsendfile and no loadcheck label (containers/image/build-extra.sh):
// its layout is found by its binary, and a tree that loads the module and
// uses its directive runs there; on the base image the same tree stops
// with exit 2, naming the tree's LoadModule line.
func TestOwnImage(t *testing.T) {
	dockertest.Require(t)
	const image = "loadcheck/apache2-xsendfile:bookworm"
	if out, err := exec.Command("bash", "../../containers/image/build-extra.sh", image).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", image, err, out)
	}
	out := filepath.Join(t.TempDir(), "r.json")
	args := []string{"run", "--config-dir", "files=testdata/xsendfile-tree", "-c", "50", "--ramp", "1s", "--warmup", "3s", "-d", "2s"}
	code, stdout, stderr := run(t, append(args, "--image", image, "--json", out)...)
	if code != exitPass {
		t.Fatalf("own image: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if r := readResult(t, out).Runs[0]; r.Image != image || r.Connections.Served != 50 || !strings.Contains(stderr, "debian layout") {
		t.Errorf("image %q served %d; stderr:\n%s", r.Image, r.Connections.Served, stderr)
	}
	code, _, stderr = run(t, append(args, "--image", dockertest.Image, "--json", out+".base")...)
	if code != exitSetup || !strings.Contains(stderr, "line 1 of testdata/xsendfile-tree/mods-enabled/xsendfile.load") || !strings.Contains(stderr, "mod_xsendfile.so") {
		t.Errorf("base image: exit %d, stderr:\n%s\nwant 2 naming mods-enabled/xsendfile.load line 1", code, stderr)
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

// TestServedFiles: a 100 KB file beside the test page, requested in turn
// with it; every body byte is counted, and requests to the big file are
// answered by httpd (it exists in the container's served tmpfs).
func TestServedFiles(t *testing.T) {
	dockertest.Require(t)
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := run(t, "run", "--configs", "event-stock", "-c", "20", "--file", "/page-100k.html=100k",
		"--path", "/", "--path", "/page-100k.html", "--ramp", "1s", "--warmup", "2s", "-d", "3s", "--json", out)
	if code != exitPass {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	r := readResult(t, out).Runs[0]
	// Each connection sends / and /page-100k.html in turn: about half the
	// answers are 102400 bytes, the rest 3.
	ok := r.Requests.OK
	if lo, hi := (ok/2-20)*102400, (ok/2+20)*102403; r.Requests.BytesRead < lo || r.Requests.BytesRead > hi || r.ReadMBps <= 0 {
		t.Errorf("%d OK, %d bytes read (%g MB/s): want about half of them 100 KB", ok, r.Requests.BytesRead, r.ReadMBps)
	}
	if !strings.Contains(stdout, "of bodies in the window") {
		t.Errorf("no bytes line:\n%s", stdout)
	}
}

// TestSlowClientsHTTPD: a fifth of 140 connections read at 64 KB/s from
// real httpd, asking for a 100 KB page in turn with the test page: their
// 100 KB answers take about 1.6 s, the fast clients' stay fast, and the
// run reports both groups apart, judging p99 on the fast ones. worker-stock
// holds the 140 (150 threads); event-stock at 200 shut down kept-alive
// connections now and then when one of its three processes filled up.
func TestSlowClientsHTTPD(t *testing.T) {
	dockertest.Require(t)
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := run(t, "run", "--configs", "worker-stock", "-c", "140", "--slow-clients", "20%", "--slow-read", "64k",
		"--file", "/page-100k.html=100k", "--path", "/", "--path", "/page-100k.html", "--ramp", "1s", "--warmup", "2s", "-d", "6s", "--json", out)
	if code != exitPass {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	r := readResult(t, out).Runs[0]
	if len(r.ClientGroups) != 2 {
		t.Fatalf("client groups %+v, want fast and slow", r.ClientGroups)
	}
	fast, slow := r.ClientGroups[0], r.ClientGroups[1]
	if fast.Connections.Target != 112 || slow.Connections.Target != 28 || slow.Connections.Served != 28 ||
		slow.Requests.OK+fast.Requests.OK != r.Requests.OK || slow.Requests.BytesRead+fast.Requests.BytesRead != r.Requests.BytesRead {
		t.Errorf("groups fast %+v and slow %+v do not add up to %+v", fast, slow, r.Requests)
	}
	if slow.LatencyMS.P99 < 1300 || slow.LatencyMS.P99 > 2500 || fast.LatencyMS.P99 > 500 {
		t.Errorf("p99: slow %g ms (want about 1560, 100 KB at 64 KB/s), fast %g ms (want well below)", slow.LatencyMS.P99, fast.LatencyMS.P99)
	}
	if !strings.Contains(stderr, "slow clients: 28 of 140 connections (20%) read at 64KiB/s") || !strings.Contains(stdout, "worker-stock slow: 28 of 28 served") {
		t.Errorf("no slow-client lines; stderr:\n%s\nstdout:\n%s", stderr, stdout)
	}
}

// TestPHPPresets runs the PHP migration's two presets on real httpd at a
// small scale: both serve the PHP page (its 20 ms wait shows in the
// latency); event-phpfpm reports php-fpm's pool from its status page.
// With the pool cut to 2 children, 10 PHP requests wanted at once show up
// there as "max children reached" and a listen queue.
func TestPHPPresets(t *testing.T) {
	dockertest.Require(t)
	out := filepath.Join(t.TempDir(), "r.json")
	// testdata/php-small.yaml: 100 connections, 2 requests/s each, all to
	// the PHP page (20 ms), tuned event's MaxSpareThreads raised.
	code, stdout, stderr := run(t, "run", "testdata/php-small.yaml", "--json", out)
	if code != exitPass {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	f := readResult(t, out)
	for _, r := range f.Runs {
		if r.LatencyMS.P50 < 20 || r.PHP == nil {
			t.Errorf("%s: p50 %g ms (the page waits 20 ms), php %+v", r.Config, r.LatencyMS.P50, r.PHP)
		}
	}
	modphp, fpm := f.Runs[0], f.Runs[1]
	if modphp.Server.PHPFPM != nil || modphp.PHP.Mode != "mod_php" {
		t.Errorf("prefork-modphp: php %+v, php-fpm %+v; want mod_php and no pool", modphp.PHP, modphp.Server.PHPFPM)
	}
	p := fpm.Server.PHPFPM
	if p == nil || p.Samples < 3 || p.Accepted < fpm.Requests.OK || p.PeakActive < 1 || p.PeakTotal < 20 ||
		!strings.Contains(stdout, "php-fpm: at most") {
		t.Fatalf("event-phpfpm: php-fpm %+v for %d OK; stdout:\n%s", p, fpm.Requests.OK, stdout)
	}

	code, stdout, stderr = run(t, "run", "--configs", "event-phpfpm", "--fpm", "pm.max_children=2", "-c", "50", "--rate", "2",
		"--path", "/app.php?wait_ms=100", "--ramp", "1s", "--warmup", "2s", "-d", "3s", "--json", out)
	if code == exitSetup {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	r := readResult(t, out).Runs[0]
	if m, _ := r.FPMPool("pm.max_children"); m != "2" {
		t.Errorf("pool %+v, want pm.max_children 2", r.PHP)
	}
	if p := r.Server.PHPFPM; p == nil || p.MaxChildrenReached < 1 || p.PeakActive > 2 || p.MaxListenQueue < 2 {
		t.Errorf("2 children for 10 PHP requests at once: php-fpm %+v; want max children reached and a queue", p)
	}
}

// TestAccessLogMix sends an access log's request mix to real httpd: every
// request answered, and latency and counts per path class that add up to
// the run's.
func TestAccessLogMix(t *testing.T) {
	dockertest.Require(t)
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := run(t, "run", "--configs", "event-stock", "-c", "30", "--rate", "5", "--paths-from", "testdata/access.log",
		"--file", "/page-1k.html=1k", "--ramp", "1s", "--warmup", "2s", "-d", "3s", "--json", out)
	if code != exitPass {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	r := readResult(t, out).Runs[0]
	var ok int64
	classes := map[string]int64{}
	for _, c := range r.PathClasses {
		ok += c.OK
		classes[c.Class] = c.OK
	}
	// 60 % /, 30 % /page-1k.html, 10 % /index.html?v=2 (class /index.html)
	if ok != r.Requests.OK || len(classes) != 3 || classes["/"] < classes["/page-1k.html"] || classes["/page-1k.html"] < classes["/index.html"] ||
		!strings.Contains(stderr, "request mix from testdata/access.log: 100 requests of 3 kinds") || !strings.Contains(stdout, "per path class") {
		t.Errorf("classes %v add to %d OK of %d; stderr:\n%s\nstdout:\n%s", classes, ok, r.Requests.OK, stderr, stdout)
	}
}

// TestBackend proxies /app to a 50 ms backend: every answer of /app comes
// through httpd's mod_proxy_http after the backend's wait, and the backend
// counts every request.
func TestBackend(t *testing.T) {
	dockertest.Require(t)
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := run(t, "run", "--configs", "event-stock", "-c", "40", "--backend", "/app=50ms", "--backend-size", "2k",
		"--path", "/app", "--ramp", "1s", "--warmup", "2s", "-d", "3s", "--json", out)
	if code != exitPass {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	r := readResult(t, out).Runs[0]
	b := r.Server.Backend
	if b == nil || b.Requests < r.Requests.OK || b.PeakConcurrency < 1 || b.WaitMS.P50 != 50 || r.LatencyMS.P50 < 50 ||
		r.Requests.BytesRead != r.Requests.OK*2048 || !strings.Contains(stdout, "backend /app (50ms):") {
		t.Errorf("backend %+v, %d OK, p50 %g ms, %d bytes read; stdout:\n%s", b, r.Requests.OK, r.LatencyMS.P50, r.Requests.BytesRead, stdout)
	}
}

// TestIdleKeepAlive: connections whose requests come further apart than
// httpd's KeepAliveTimeout (1 s here, a request every 2 s) are closed by
// httpd while idle; loadcheck opens each again for its next request, and
// that is no failure: PASS, with the reopens counted and said.
func TestIdleKeepAlive(t *testing.T) {
	dockertest.Require(t)
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := run(t, "run", "--configs", "event-stock", "--set", "KeepAliveTimeout=1", "-c", "50", "--rate", "0.5",
		"--ramp", "1s", "--warmup", "3s", "-d", "4s", "--json", out)
	t.Logf("stdout:\n%s", stdout)
	if code != exitPass {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	r := readResult(t, out).Runs[0]
	if r.Connections.Served != 50 || r.Connections.IdleReopens < 50 || r.Requests.Dropped != 0 ||
		!strings.Contains(stdout, "idle connections at its keep-alive timeout") || !strings.Contains(stderr, "not sooner than its KeepAliveTimeout (1s)") {
		t.Errorf("served %d, idle reopens %d, dropped %d; stderr:\n%s", r.Connections.Served, r.Connections.IdleReopens, r.Requests.Dropped, stderr)
	}
}

// TestTLSRun serves HTTPS from two presets with mod_ssl and loads them
// over TLS: every connection's handshake timed and counted, the version
// and cipher recorded, in the JSON and the table. At 120 connections tuned
// event's 10 start processes are far more than MaxSpareThreads 250 allows
// idle, and httpd stops the extra ones, closing their kept-alive
// connections (CI once saw 18 of 120 closed in the window): that is a
// finding of other tests, so here MaxSpareThreads is raised above the
// threads started.
func TestTLSRun(t *testing.T) {
	dockertest.Require(t)
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := run(t, "run", "--configs", "event-tuned,worker-stock", "--tls", "-c", "120", "--set", "MaxSpareThreads=400",
		"--ramp", "2s", "--warmup", "5s", "-d", "3s", "--json", out)
	t.Logf("stdout:\n%s", stdout)
	if code != exitPass {
		t.Fatalf("got exit %d; stderr:\n%s", code, stderr)
	}
	for _, r := range readResult(t, out).Runs {
		tl := r.TLS
		if tl == nil || tl.Handshakes < 120 || tl.Failed != 0 || tl.Version != "TLS 1.3" || tl.HandshakeMS.P50 <= 0 || r.Connections.Served != 120 {
			t.Errorf("%s: served %d, TLS %+v: want 120 served over TLS 1.3, each with a timed handshake", r.Config, r.Connections.Served, tl)
		}
		if !strings.Contains(r.HTTPDConf, "SSLEngine on") {
			t.Errorf("%s: the httpd.conf does not serve TLS", r.Config)
		}
		if !strings.Contains(stdout, r.Config+" TLS: TLS 1.3 ") {
			t.Errorf("%s: no TLS line in the table", r.Config)
		}
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

// TestPromRemoteWrite pushes a short run's live metrics to Debian's
// Prometheus, started here on loopback with its remote-write receiver, and
// reads them back through its HTTP API: the last OK count pushed is the
// run's own (every second of its series). In CI a missing Prometheus is a
// failure: make test installs it.
func TestPromRemoteWrite(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prometheus is not installed; make test installs Debian's prometheus package")
		}
		t.Skip("prometheus is not installed (make prometheus); CI=true makes this a failure")
	}
	addr := startPrometheus(t, bin, "--enable-feature=native-histograms")
	out := filepath.Join(t.TempDir(), "r.json")
	code, _, stderr := run(t, "run", "--target", okServer(t), "-c", "20", "--rate", "5", "--ramp", "200ms", "--warmup", "1s", "-d", "2s",
		"--prom-remote-write", "http://"+addr+"/api/v1/write", "--json", out)
	if code != exitPass || !strings.Contains(stderr, "pushed live metrics") || strings.Contains(stderr, "refused native histograms") {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	f := readResult(t, out)
	var want int64
	for _, p := range f.Runs[0].Series {
		want += p.OK
	}
	sel := fmt.Sprintf(`{run_id=%q, config="target"}`, f.RunID)
	// Every OK response is counted: as requests, in the classic latency
	// buckets, and in the native histogram.
	for _, q := range []string{"loadcheck_requests_ok_total" + sel, "loadcheck_latency_seconds_count" + sel,
		"loadcheck_latency_seconds_bucket" + strings.TrimSuffix(sel, "}") + `, le="+Inf"}`} {
		if got := waitQuery(addr, "max(max_over_time("+q+"[5m]))", want); got != float64(want) || want == 0 {
			t.Errorf("Prometheus has %s = %g for run %s, the run counted %d OK", q, got, f.RunID, want)
		}
	}
	if n := nativeCount(addr, "loadcheck_latency_seconds"+sel); n != want {
		t.Errorf("the native histogram counts %d answers, the run %d", n, want)
	}
	if v, ok := promQuery(addr, "max(max_over_time(loadcheck_connections_open"+sel+"[5m]))"); !ok || v != 20 {
		t.Errorf("connections open: %g (%v), want 20", v, ok)
	}
	// A receiver without native histograms gets the classic buckets, and
	// the run says so.
	plain := startPrometheus(t, bin)
	code, _, stderr = run(t, "run", "--target", okServer(t), "-c", "5", "--rate", "5", "--ramp", "200ms", "--warmup", "500ms", "-d", "1s",
		"--prom-remote-write", "http://"+plain+"/api/v1/write", "--json", out)
	f = readResult(t, out)
	want = 0
	for _, p := range f.Runs[0].Series {
		want += p.OK
	}
	sel = fmt.Sprintf(`{run_id=%q, config="target"}`, f.RunID)
	if got := waitQuery(plain, "max(max_over_time(loadcheck_latency_seconds_count"+sel+"[5m]))", want); code != exitPass ||
		!strings.Contains(stderr, "refused native histograms") || got != float64(want) {
		t.Errorf("no native histograms: exit %d, latency count %g of %d; stderr:\n%s", code, got, want, stderr)
	}
	// A receiver that is not there costs the live metrics, not the run.
	code, _, stderr = run(t, "run", "--target", okServer(t), "-c", "5", "--rate", "5", "--ramp", "200ms", "--warmup", "500ms", "-d", "1s",
		"--prom-remote-write", "http://127.0.0.1:1/api/v1/write")
	if code != exitPass || !strings.Contains(stderr, "live-metric pushes to http://127.0.0.1:1/api/v1/write failed") {
		t.Errorf("an absent receiver: exit %d, stderr:\n%s", code, stderr)
	}
}

// startPrometheus starts Debian's prometheus on a free loopback port with
// its remote-write receiver, and returns its address.
func startPrometheus(t *testing.T, bin string, flags ...string) string {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, []byte("global:\n  scrape_interval: 1m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	prom := exec.Command(bin, append([]string{"--config.file=" + conf, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr, "--web.enable-remote-write-receiver"}, flags...)...)
	var promLog bytes.Buffer
	prom.Stdout, prom.Stderr = &promLog, &promLog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prom.Process.Kill(); prom.Wait() })
	for i := 0; ; i++ {
		if resp, err := http.Get("http://" + addr + "/-/ready"); err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			return addr
		}
		if i > 100 {
			t.Fatalf("prometheus did not get ready:\n%s", promLog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// promQuery runs an instant query and returns its first value.
func promQuery(addr, q string) (float64, bool) {
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Result) == 0 || len(r.Data.Result[0].Value) < 2 {
		return 0, false
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// waitQuery asks q until it gives want, for up to 5 s (the last push may
// still be on its way), and returns the last answer.
func waitQuery(addr, q string, want int64) float64 {
	var got float64
	for i := 0; i < 50; i++ {
		if v, ok := promQuery(addr, q); ok {
			if got = v; int64(v) == want {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return got
}

// nativeCount is the largest count of the native histograms an instant
// query returns (one series per phase: the last phase's counts them all),
// or -1.
func nativeCount(addr, q string) int64 {
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct {
				Histogram []json.RawMessage `json:"histogram"`
			} `json:"result"`
		} `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil {
		return -1
	}
	most := int64(-1)
	for _, res := range r.Data.Result {
		var h struct {
			Count string `json:"count"`
		}
		if len(res.Histogram) < 2 || json.Unmarshal(res.Histogram[1], &h) != nil {
			continue
		}
		if n, err := strconv.ParseInt(h.Count, 10, 64); err == nil {
			most = max(most, n)
		}
	}
	return most
}

// TestRunHelpGroups: run's help shows every flag under the heading of
// what it sets, none left under "Other flags", each with its default.
func TestRunHelpGroups(t *testing.T) {
	code, _, stderr := run(t, "run", "-c", "10", "-h")
	if code != exitPass && code != exitSetup {
		t.Fatalf("run -h: exit %d", code)
	}
	for _, want := range []string{"errors.\n\nLoad: what each connection sends, and when:\n", "  -c connections\n", "\nServer: the configs", "\nGenerator: where the load comes from:",
		"\nVerdict:\n", "\nOutput:\n", "(default 4000)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("run -h lacks %q", want)
		}
	}
	if strings.Contains(stderr, "Other flags") {
		t.Errorf("run -h has flags in no group:\n%s", stderr[strings.Index(stderr, "Other flags"):])
	}
}
