package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/loadcheck/loadcheck/results"
)

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
	// --http2 against a server that offers only HTTP/1.1 by ALPN: refused
	// before the load, naming what it chose; one that offers h2 is loaded.
	code, _, stderr = run(t, append(args, "--insecure", "--http2", "--json", out)...)
	if code != exitSetup || !strings.Contains(stderr, `did not negotiate h2 by ALPN (it chose "http/1.1")`) {
		t.Errorf("--http2 against HTTP/1.1 only: exit %d, stderr:\n%s", code, stderr)
	}
	h2 := httptest.NewUnstartedServer(srv.Config.Handler)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)
	args[2] = h2.URL + "/"
	code, _, stderr = run(t, append(args, "--insecure", "--http2", "--json", out)...)
	if r := readResult(t, out).Runs[0]; code != exitPass || r.Protocol != "h2" || r.Connections.Served != 10 {
		t.Errorf("--http2 against h2: exit %d, protocol %q, served %d\nstderr:\n%s", code, r.Protocol, r.Connections.Served, stderr)
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

// cpuQuota makes a cgroup that holds its processes to pct % of one CPU
// (cgroup v2's cpu.max, or v1's CFS quota) and returns the cgroup.procs
// file a process joins it by; the cgroup goes when the test ends. In CI a
// host that cannot make one fails the test.
func cpuQuota(t *testing.T, pct int) string {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		fail("read /proc/self/cgroup: %v", err)
	}
	var dir, quotaFile, quota string
	for _, line := range strings.Split(string(self), "\n") {
		parts := strings.SplitN(line, ":", 3)
		switch {
		case len(parts) != 3:
		case parts[0] == "0" && parts[1] == "" && dir == "": // v2, unless v1 has a cpu controller
			dir, quotaFile, quota = filepath.Join("/sys/fs/cgroup", parts[2]), "cpu.max", fmt.Sprintf("%d 100000", pct*1000)
		case slices.Contains(strings.Split(parts[1], ","), "cpu"):
			dir, quotaFile, quota = filepath.Join("/sys/fs/cgroup/cpu", parts[2]), "cpu.cfs_quota_us", strconv.Itoa(pct*1000)
		}
	}
	if dir == "" {
		fail("no cpu cgroup controller in /proc/self/cgroup:\n%s", self)
	}
	if quotaFile == "cpu.max" {
		_ = os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+cpu"), 0o644)
	}
	dir = filepath.Join(dir, fmt.Sprintf("loadcheck-quota-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		fail("make a cgroup: %v", err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	if quotaFile == "cpu.cfs_quota_us" {
		_ = os.WriteFile(filepath.Join(dir, "cpu.cfs_period_us"), []byte("100000"), 0o644)
	}
	if err := os.WriteFile(filepath.Join(dir, quotaFile), []byte(quota), 0o644); err != nil {
		fail("set the CPU quota: %v", err)
	}
	return filepath.Join(dir, "cgroup.procs")
}

// TestGeneratorLimitedInconclusive makes the generator the bottleneck on
// purpose: loadcheck runs in a cgroup held to 10 % of one CPU, against an
// in-process server that is not, at 8000 requests a second. The server
// answers everything it is sent; the generator uses all the CPU it may,
// falls behind its schedule and reads the answers late (which of its
// limits shows first varies: its CPU busy, or late sends): the verdict is
// INCONCLUSIVE (exit 2), saying so and what to do, never FAIL.
func TestGeneratorLimitedInconclusive(t *testing.T) {
	url := okServer(t)
	procs := cpuQuota(t, 10)
	out := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command("sh", "-c", `echo $$ > "$0" && shift && exec "$@"`, procs, "sh", binary, "run", "--target", url, "-c", "400", "--rate", "20",
		"--ramp", "1s", "--warmup", "2s", "-d", "3s", "--no-shard", "--results", t.TempDir(), "--json", out)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitSetup {
		t.Fatalf("exit: %v, want %d\nstdout:\n%s\nstderr:\n%s", err, exitSetup, stdout.String(), stderr.String())
	}
	r := readResult(t, out).Runs[0]
	g := r.Generator
	if r.Verdict != results.Inconclusive || g == nil || (g.BusyPct < results.GeneratorBusyLimitPct && g.LateSends == 0) || !strings.Contains(strings.Join(r.Reasons, "\n"), "generator-limited") ||
		!strings.Contains(stdout.String(), "target INCONCLUSIVE") || !strings.Contains(stdout.String(), "target generator:") {
		t.Errorf("verdict %s, generator %+v, reasons %q\nstdout:\n%s", r.Verdict, g, r.Reasons, stdout.String())
	}
}
