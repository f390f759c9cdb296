package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/scenarios"
	"gopkg.in/yaml.v3"
)

// TestPlanShardMerge splits a load on a loopback server over three shards
// with plan, runs each with shard as separate jobs would, and merges their
// outputs: one run whose counts are the shards' sums and whose schedule is
// exactly the whole load's.
func TestPlanShardMerge(t *testing.T) {
	url := okServer(t)
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan")
	code, stdout, stderr := run(t, "plan", "--target", url, "--shards", "3", "-c", "30", "--rate", "5", "--ramp", "300ms",
		"--warmup", "500ms", "-d", "2s", "--start-in", "6s", "-o", plan, "--max-p99", "900ms", "--max-dropped-pct", "0.5", "--min-served-pct", "99")
	if code != exitPass || !strings.Contains(stdout, "wrote 3 shard requests") {
		t.Fatalf("plan: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var outputs []string
	var wg sync.WaitGroup
	var mu sync.Mutex
	for j := range 3 {
		out := filepath.Join(dir, "shard-"+string(rune('0'+j))+".jsonl")
		outputs = append(outputs, out)
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, stdout, stderr := run(t, "shard", filepath.Join(plan, "shard-"+string(rune('0'+j))+".json"))
			mu.Lock()
			defer mu.Unlock()
			if code != exitPass {
				t.Errorf("shard %d: exit %d: %s", j, code, stderr)
			}
			if err := os.WriteFile(out, []byte(stdout), 0o644); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var sumOK, sumSent int64
	for _, p := range outputs {
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		o, err := bench.ReadShardOutput(p, fh)
		fh.Close()
		if err != nil || o.Result == nil {
			t.Fatalf("%s: %v, %+v", p, err, o)
		}
		sumOK, sumSent = sumOK+o.Result.OK, sumSent+o.Result.Sent
	}
	res := filepath.Join(dir, "r.json")
	code, stdout, stderr = run(t, "merge", outputs[2], outputs[0], outputs[1], "--results", filepath.Join(dir, "runs"), "--run-id", "merged", "--json", res)
	if code != exitPass {
		t.Fatalf("merge: exit %d\n%s\n%s", code, stdout, stderr)
	}
	r := readResult(t, res).Runs[0]
	// 30 connections at 5 requests/s over a 2 s window: 300 slots.
	if r.Connections.Target != 30 || r.Connections.Served != 30 || r.Requests.OK != sumOK || r.Requests.Sent != sumSent ||
		r.Requests.Sent != 300 || len(r.GeneratorShards) != 3 || r.Verdict != "pass" || r.Hist == nil && r.LatencyMS.P99 == 0 {
		t.Errorf("merged: %+v %+v, %d shards, verdict %s; the shards sent %d, ok %d", r.Connections, r.Requests, len(r.GeneratorShards), r.Verdict, sumSent, sumOK)
	}
	if _, err := os.Stat(filepath.Join(dir, "runs", "merged", "target.hlog")); err != nil || !strings.Contains(stdout, "generator: 3 processes") {
		t.Errorf("run folder: %v; table:\n%s", err, stdout)
	}
	// Judged by the plan's thresholds, unless merge is given its own.
	want := scenarios.Thresholds{MinServedPct: 99, MaxDroppedPct: 0.5, MaxP99: 900 * time.Millisecond}
	if got := readResult(t, res).Scenario.Thresholds; got != want {
		t.Errorf("merged under thresholds %+v, want the plan's %+v", got, want)
	}
	if code, stdout, _ := run(t, "merge", outputs[0], outputs[1], outputs[2], "--results", filepath.Join(dir, "runs"), "--max-p99", "1us"); code != exitFail || !strings.Contains(stdout, "FAIL") {
		t.Errorf("merge --max-p99 1us: exit %d, want 1 (FAIL)\n%s", code, stdout)
	}

	// Bad input stops with exit 2 and says what is wrong.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"merge", outputs[0], outputs[1]}, "shard(s) [2] missing"},
		{[]string{"merge", outputs[0], outputs[0], outputs[2]}, "are both shard 0"},
		{[]string{"merge", filepath.Join(plan, "shard-0.json")}, "not a loadcheck.shard/v1 line"},
		{[]string{"shard", filepath.Join(plan, "shard-1.json")}, "passed"},
		{[]string{"plan", "--shards", "2", "-o", dir}, "give --target URL"},
		{[]string{"plan", "--target", url, "-o", dir}, "give --shards N"},
		{[]string{"plan", "--target", url, "--shards", "2", "-o", dir, "--warmup", "auto"}, "give a fixed warm-up"},
		{[]string{"plan", "--target", url, "--shards", "2", "-o", dir, "--start-in", "1s"}, "at least 5 s"},
	} {
		if code, _, stderr := run(t, c.args...); code != exitSetup || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// TestKubernetesDryRun writes the Kubernetes manifests for a load on a
// loopback server, then does what the Indexed Job's pods would: each runs
// `loadcheck shard /plan` (the ConfigMap's files) with its
// JOB_COMPLETION_INDEX, and their outputs merge into the whole load. No
// cluster is reached (the live path's flow is tested in package fleet).
func TestKubernetesDryRun(t *testing.T) {
	url := okServer(t)
	dir := t.TempDir()
	job := filepath.Join(dir, "job.yaml")
	code, stdout, stderr := run(t, "run", "--target", url, "--generator", "kubernetes", "--dry-run", "-o", job, "--shards", "3",
		"-c", "30", "--rate", "5", "--ramp", "300ms", "--warmup", "500ms", "-d", "2s", "--start-in", "6s", "--generator-image", "loadcheck/generator:test", "--max-p99", "800ms")
	if code != exitPass || !strings.Contains(stdout, "kubectl apply -f "+job) {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	data, err := os.ReadFile(job)
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Kind string            `yaml:"kind"`
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal([]byte(strings.Split(string(data), "---\n")[0]), &cm); err != nil || cm.Kind != "ConfigMap" || len(cm.Data) != 3 {
		t.Fatalf("configmap: %v %+v", err, cm)
	}
	plan := filepath.Join(dir, "plan")
	if err := os.MkdirAll(plan, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range cm.Data {
		if err := os.WriteFile(filepath.Join(plan, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var outputs []string
	var cmds []*exec.Cmd
	for j := range 3 {
		out := filepath.Join(dir, fmt.Sprintf("shard-%d.jsonl", j))
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		c := exec.Command(binary, "shard", plan)
		c.Env = append(os.Environ(), fmt.Sprintf("JOB_COMPLETION_INDEX=%d", j))
		c.Stdout = f
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		outputs, cmds = append(outputs, out), append(cmds, c)
	}
	for j, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("pod %d: %v", j, err)
		}
	}
	res := filepath.Join(dir, "r.json")
	if code, stdout, stderr := run(t, append(append([]string{"merge"}, outputs...), "--results", filepath.Join(dir, "runs"), "--json", res)...); code != exitPass {
		t.Fatalf("merge: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if th := readResult(t, res).Scenario.Thresholds; th.MaxP99 != 800*time.Millisecond {
		t.Errorf("merged under thresholds %+v, want the dry run's --max-p99 800ms", th)
	}
	if r := readResult(t, res).Runs[0]; r.Requests.Sent != 300 || r.Connections.Served != 30 || len(r.GeneratorShards) != 3 {
		t.Errorf("merged: %+v %+v", r.Connections, r.Requests)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--target", url, "--generator", "kubernetes", "--shards", "3"}, "give --generator-image IMAGE"},
		{[]string{"run", "--generator", "kubernetes", "--shards", "3", "--generator-image", "x"}, "give --target URL"},
		{[]string{"run", "--target", url, "--generator", "kubernetes", "--generator-image", "x"}, "--generator kubernetes: give --shards N"},
		{[]string{"run", "--target", url, "--generator", "kubernetes", "--shards", "3", "--generator-image", "x", "--warmup", "auto"}, "needs a fixed --warmup"},
		{[]string{"run", "--target", url, "--generator", "kubernetes", "--dry-run", "--shards", "3", "-o", job}, "give the generator image"},
		{[]string{"shard", plan}, "its shard comes from JOB_COMPLETION_INDEX"},
		{[]string{"generator-image", "extra"}, "want no argument"},
	} {
		if code, _, stderr := run(t, c.args...); code != exitSetup || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// The live Kubernetes path stops before any load, exit 2, when the
// cluster KUBECONFIG names does not answer (a closed loopback port here:
// no cluster can be reached from these tests), or none is configured.
func TestKubernetesNoCluster(t *testing.T) {
	url := okServer(t)
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "config")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: perf}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--target", url, "--generator", "kubernetes", "--shards", "2", "-c", "10", "--generator-image", "loadcheck/generator:test"}
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"KUBECONFIG=" + kubeconfig}, "the cluster at https://127.0.0.1:1 (from " + kubeconfig + ") does not answer"},
		{[]string{"KUBECONFIG=" + filepath.Join(dir, "none"), "HOME=" + dir, "KUBERNETES_SERVICE_HOST="}, "no cluster to reach"},
	} {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), c.env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitSetup || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: %v, %q; want exit 2 and %q", c.env, err, stderr.String(), c.want)
		}
	}
}

// A shard refuses a request planned by another loadcheck version.
func TestShardRefusesOtherVersion(t *testing.T) {
	url := okServer(t)
	dir := t.TempDir()
	if code, _, stderr := run(t, "plan", "--target", url, "--shards", "2", "-c", "4", "--warmup", "1s", "-d", "2s", "--start-in", "6s", "-o", dir); code != exitPass {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	path := filepath.Join(dir, "shard-0.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var req map[string]any
	if err := json.Unmarshal(data, &req); err != nil || req["version"] == "" || req["version"] == nil {
		t.Fatalf("the plan carries no version: %v %s", err, data)
	}
	req["version"] = "v0.0.1-other"
	data, _ = json.Marshal(req)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "shard", path)
	if code != exitSetup || !strings.Contains(stderr, "planned by loadcheck v0.0.1-other, and this is loadcheck") || stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// A scenario's generator section reaches run as --generator and --shards
// would: its swarm fleet asks for more job services than connections
// here, which run refuses before any container or service starts; the
// flags win over it.
func TestScenarioGenerator(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sw.yaml")
	if err := os.WriteFile(path, []byte("name: sw\ngenerator: {fleet: swarm, shards: 3}\nload: {connections: 2, warmup: 10s}\nconfigs: [{preset: worker-stock}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "run", path); code != exitSetup || !strings.Contains(stderr, "--shards 3 is more than the 2 connections") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if code, _, stderr := run(t, "run", path, "--generator", "kubernetes", "--shards", "1"); code != exitSetup || !strings.Contains(stderr, "give --target URL") {
		t.Errorf("--generator on top of the scenario's: exit %d: %s", code, stderr)
	}
}
