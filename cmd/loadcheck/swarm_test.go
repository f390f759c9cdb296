package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/internal/dockertest"
)

// withSwarm makes this engine a one-node swarm on loopback for the test,
// unless it is one already, and leaves it as it found it.
func withSwarm(t *testing.T) {
	t.Helper()
	dockertest.Require(t)
	state, err := exec.Command("docker", "info", "--format", "{{.Swarm.LocalNodeState}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(state)) == "active" {
		return
	}
	if out, err := exec.Command("docker", "swarm", "init", "--advertise-addr", "127.0.0.1").CombinedOutput(); err != nil {
		t.Fatalf("docker swarm init: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "swarm", "leave", "--force").CombinedOutput(); err != nil {
			t.Errorf("docker swarm leave: %v: %s", err, out)
		}
		// leave keeps the bridge the swarm made; the engine had none.
		_ = exec.Command("docker", "network", "rm", "docker_gwbridge").Run()
	})
}

// services lists the swarm services loadcheck labelled.
func services(t *testing.T) []string {
	out, _ := exec.Command("docker", "service", "ls", "-q", "--filter", "label=org.loadcheck.managed=true").Output()
	return strings.Fields(string(out))
}

// TestSwarmGenerator runs the load from three swarm job services (host
// networking, this binary in the generator image) against a loopback
// server: one table, exact counts (the schedule's every slot), each
// shard's share kept, no service left. A shard killed mid-run fails the
// run with exit 2, named.
func TestSwarmGenerator(t *testing.T) {
	withSwarm(t)
	url := okServer(t)
	out := filepath.Join(t.TempDir(), "r.json")
	// The shards' progress, followed live from their logs, is pushed to
	// Prometheus like a local run's: its open connections are all three
	// shards'. In CI a missing Prometheus is a failure: make test installs it.
	bin, err := exec.LookPath("prometheus")
	if err != nil && os.Getenv("CI") == "true" {
		t.Fatal("prometheus is not installed; make test installs Debian's prometheus package")
	}
	args := []string{"run", "--target", url, "--generator", "swarm", "--shards", "3", "-c", "300", "--rate", "5",
		"--ramp", "500ms", "--warmup", "1s", "-d", "2s", "--json", out}
	var prom string
	if err == nil {
		prom = startPrometheus(t, bin)
		args = append(args, "--prom-remote-write", "http://"+prom+"/api/v1/write")
	} else {
		t.Log("prometheus is not installed (make prometheus): the live progress is not checked; CI=true makes this a failure")
	}
	cmd := exec.Command(binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	r := readResult(t, out).Runs[0]
	// 300 connections at 5 requests/s over a 2 s window: 3000 slots.
	if r.Connections.Target != 300 || r.Connections.Served != 300 || r.Requests.Sent != 3000 || r.Requests.OK != 3000 ||
		len(r.GeneratorShards) != 3 || r.Fleet != "swarm" || !strings.Contains(stderr.String(), "from 3 swarm shards") ||
		!strings.Contains(stdout.String(), "target generator: swarm, 3 shards: #0 100 of 100 served") || r.GeneratorShards[2].Node == "" {
		t.Errorf("%+v %+v, %d shards; stdout:\n%s\nstderr:\n%s", r.Connections, r.Requests, len(r.GeneratorShards), stdout.String(), stderr.String())
	}
	for j, s := range r.GeneratorShards {
		if s.ClockOffsetMS == nil || *s.ClockOffsetMS > 50 || *s.ClockOffsetMS < -50 {
			t.Errorf("shard %d did not read the coordinator's clock: %v", j, s.ClockOffsetMS)
		}
	}
	if prom != "" {
		sel := fmt.Sprintf(`{run_id=%q, config="target"}`, readResult(t, out).RunID)
		if v := waitQuery(prom, "max(max_over_time(loadcheck_connections_open"+sel+"[5m]))", 300); v != 300 {
			t.Errorf("the live progress pushed %g open connections, want the 3 shards' 300; stderr:\n%s", v, stderr.String())
		}
	}
	if left := services(t); len(left) > 0 {
		t.Errorf("services left behind: %v", left)
	}

	// One shard killed mid-run.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd = exec.CommandContext(ctx, binary, "run", "--target", url, "--generator", "swarm", "--shards", "3", "-c", "30", "--rate", "2",
		"--ramp", "500ms", "--warmup", "1s", "-d", "20s")
	stderr.Reset()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var killed string
	for i := 0; i < 100 && killed == ""; i++ {
		time.Sleep(300 * time.Millisecond)
		ids, _ := exec.Command("docker", "ps", "-q", "--filter", "label=com.docker.swarm.service.name", "--filter", "status=running").Output()
		for _, id := range strings.Fields(string(ids)) {
			name, _ := exec.Command("docker", "inspect", "--format", `{{index .Config.Labels "com.docker.swarm.service.name"}}`, id).Output()
			if strings.HasSuffix(strings.TrimSpace(string(name)), "-shard-1") {
				time.Sleep(13 * time.Second) // past the 10 s lead, into the run
				if exec.Command("docker", "kill", id).Run() == nil {
					killed = id
				}
				break
			}
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if killed == "" || err == nil || !errors.As(err, &ee) || ee.ExitCode() != exitSetup || !strings.Contains(stderr.String(), "swarm shard 1") ||
		!strings.Contains(stderr.String(), "never reported a result (it died or was cut off; its last progress:") {
		t.Errorf("killed %q: %v; stderr:\n%s", killed, err, stderr.String())
	}
	if left := services(t); len(left) > 0 {
		t.Errorf("services left behind after the failed run: %v", left)
	}
	t.Logf("the killed run said:\n%s", stderr.String())
}
