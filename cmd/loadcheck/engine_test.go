package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/internal/dockertest"
	"github.com/loadcheck/loadcheck/results"
)

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
