package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

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
		{[]string{"run", "--server-cpus", "4096"}, "--server-cpus 4096: CPU 4096 is not one this host lets loadcheck use"},
		{[]string{"run", "--server-cpus", "0", "--generator-cpus", "0"}, "share a CPU: give them apart, or --share-cpus"},
		{[]string{"run", "--generator-cpus", "0-"}, `--generator-cpus "0-": want a CPU list`},
		{[]string{"run", "--target", "http://127.0.0.1:1/", "--server-cpus", "0"}, "a --target server runs where it runs"},
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
		{[]string{"run", "--target", "https://127.0.0.1:1/", "--h2c"}, "--h2c is HTTP/2 over plain TCP: it needs an http:// target; over TLS use --http2"},
		{[]string{"run", "--target", "http://127.0.0.1:1/", "--http2"}, "--http2 is HTTP/2 over TLS: it needs an https:// target (--tls for the httpd loadcheck starts); over plain TCP use --h2c"},
		{[]string{"run", "--target", "http://127.0.0.1:1/", "--streams", "4"}, "4 streams need protocol h2 or h2c"},
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
		{[]string{"capacity", "../../scenarios/capacity.yaml", "--repeat", "3"}, "--repeat, --flaky-ok and --arrival-check apply to loadcheck run"},
		{[]string{"rollout", "--to", "event-stock"}, "loadcheck rollout needs --from CONFIG and --to CONFIG"},
		{[]string{"rollout", "--from", "event-stock", "--to", "worker-stock", "--how", "graceful"}, "--how: event-stock runs event and worker-stock worker: httpd cannot change its MPM on a graceful signal"},
		{[]string{"rollout", "--from", "event-stock", "--to", "event-stock"}, "--to: event-stock is both the running config and the one switched to"},
		{[]string{"rollout", "--from", "event-stock", "--to", "event-tuned", "--requests-per-connection", "0"}, "--requests-per-connection must be at least 1"},
		{[]string{"rollout", "--from", "event-stock", "--to", "event-tuned", "--switch-at", "20s"}, "--switch-at: the switch at 20s must fall inside the measured window (15s)"},
		{[]string{"rollout", "../../scenarios/rollout-article.yaml", "--from", "event-stock"}, "has a rollout: section: its configs and rollout.to are the configs; drop --from and --to"},
		{[]string{"rollout", "../../scenarios/rollout-article.yaml", "--how", "restart"}, "--how: prefork-stock runs prefork and event-tuned event"},
		{[]string{"rollout", "--from", "event-stock", "--to", "event-tuned", "--how", "reboot"}, `unknown switch "reboot"`},
		{[]string{"rollout", "--from", "event-stock", "--to", "event-tuned", "-d", "6s"}, "--switch-at: the switch at 5s leaves 1s of the 6s window after it"},
		{[]string{"rollout", "--from", "event-stock", "--to", "no-such-preset"}, "--to no-such-preset"},
		{[]string{"capacity", "../../scenarios/capacity.yaml", "--arrival-check"}, "--repeat, --flaky-ok and --arrival-check apply to loadcheck run"},
		{[]string{"run", "--docroot", "/nonexistent-site"}, "--docroot: /nonexistent-site: no such file or directory"},
		{[]string{"run", "--target", "http://127.0.0.1:1/", "--docroot", "/tmp"}, "--docroot serves a folder from the httpd loadcheck starts and cannot be used with --target"},
		{[]string{"capacity", "../../scenarios/capacity.yaml", "--search", "binary"}, `capacity: search: must be stepped or bisect, got "binary"`},
		{[]string{"capacity", "../../scenarios/capacity.yaml", "--step-factor", "1"}, "capacity: step_factor: must be within 2..16 (each step multiplies the last), got 1"},
		{[]string{"capacity", "../../scenarios/capacity.yaml", "--arrival", "near"}, `capacity: arrival: must be always, near_target or never, got "near"`},
	}
	for _, tc := range tests {
		code, _, stderr := run(t, tc.args...)
		if code != exitSetup || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: got exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.want)
		}
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

// TestRunHelpGroups: run's help shows every flag under the heading of
// what it sets, none left under "Other flags", each with its default.
func TestRunHelpGroups(t *testing.T) {
	code, _, stderr := run(t, "run", "-c", "10", "-h")
	if code != exitPass && code != exitSetup {
		t.Fatalf("run -h: exit %d", code)
	}
	for _, want := range []string{"at its limit).\n\nLoad: what each connection sends, and when:\n", "  -c connections\n", "\nServer: the configs", "\nGenerator: where the load comes from:",
		"\nVerdict:\n", "\nOutput:\n", "(default 4000)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("run -h lacks %q", want)
		}
	}
	if strings.Contains(stderr, "Other flags") {
		t.Errorf("run -h has flags in no group:\n%s", stderr[strings.Index(stderr, "Other flags"):])
	}
}

// TestDoctor: the host's limits against a load this host holds (exit 0,
// every check ok) and one it cannot (exit 1, each shortfall with its fix),
// as text and as JSON.
func TestDoctor(t *testing.T) {
	code, stdout, stderr := run(t, "doctor", "-c", "100")
	if code != exitPass || strings.Contains(stdout, "FAIL") || !strings.Contains(stdout, "net.core.somaxconn") {
		t.Errorf("doctor -c 100: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = run(t, "doctor", "-c", "300000", "--no-shard", "--remote", "--json")
	var checks []struct {
		Name string
		OK   bool
		Fix  string
	}
	if err := json.Unmarshal([]byte(stdout), &checks); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, stdout)
	}
	failed := map[string]string{}
	for _, c := range checks {
		if !c.OK {
			failed[c.Name] = c.Fix
		}
	}
	if code != exitFail || !strings.Contains(failed["generator nofile"], "drop --no-shard") || !strings.Contains(failed["net.ipv4.ip_local_port_range"], "ip_local_port_range") {
		t.Errorf("doctor for 300000 from one process and address: exit %d, failed %v", code, failed)
	}
	if code, _, _ := run(t, "doctor", "-c", "0"); code != exitSetup {
		t.Errorf("doctor -c 0: exit %d, want %d", code, exitSetup)
	}
}
