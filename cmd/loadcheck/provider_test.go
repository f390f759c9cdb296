package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/containers"
	"github.com/loadcheck/loadcheck/internal/dockertest"
	"github.com/loadcheck/loadcheck/provider"
	"github.com/loadcheck/loadcheck/results"
)

// loadFlags is a short load for the provider tests.
var loadFlags = []string{"--ramp", "1s", "--warmup", "2s", "-d", "3s", "--rate", "2"}

// TestProviderLocal is the check: `run --provider local` prints
// the table and the server-side line (peak busy, memory, CPU) with no
// container started.
func TestProviderLocal(t *testing.T) {
	dockertest.RequireHTTPD(t)
	before := len(dockertest.Leftovers(t))
	out := filepath.Join(t.TempDir(), "r.json")
	// A served file too: the native provider writes it into its folder.
	args := append([]string{"run", "--provider", "local", "--configs", "worker-stock,event-stock", "-c", "140", "--json", out,
		"--file", "/big.bin=4k", "--path", "/", "--path", "/big.bin"}, loadFlags...)
	code, stdout, stderr := run(t, args...)
	if code != exitPass {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"worker-stock", "event-stock", "server side", "memory ", "CPU "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	f := readResult(t, out)
	for _, r := range f.Runs {
		if r.Server == nil || r.Server.PeakBusyWorkers < 1 || r.Server.MemoryPeakMB <= 0 || r.Image != "" {
			t.Errorf("%s: server %+v, image %q: want busy workers and memory, no image", r.Config, r.Server, r.Image)
		}
		if q := r.Requests; q.Dropped != 0 || q.BytesRead < q.OK/2*4096 {
			t.Errorf("%s: %d ok, %d dropped, %d bytes read: want the 4 KB file in about half the answers", r.Config, q.OK, q.Dropped, q.BytesRead)
		}
	}
	if after := len(dockertest.Leftovers(t)); after != before {
		t.Errorf("a container was started: %d labelled before, %d after", before, after)
	}
}

// TestTargetStatusURL loads an httpd started outside loadcheck's run (here
// through the local provider) with --target and --status-url, and gets
// its peak busy workers.
func TestTargetStatusURL(t *testing.T) {
	dockertest.RequireHTTPD(t)
	cfg, err := apache.Preset("worker-stock", 100)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := provider.Local{}.Start(context.Background(), cfg, provider.StartOptions{RunID: "target-test", Connections: 100})
	if srv != nil {
		t.Cleanup(func() { srv.Stop() })
	}
	if err != nil {
		t.Fatal(err)
	}
	ep := srv.Endpoint()
	out := filepath.Join(t.TempDir(), "r.json")
	args := append([]string{"run", "--target", ep.URL, "--status-url", ep.Sources.StatusURL, "-c", "100", "--json", out}, loadFlags...)
	code, stdout, stderr := run(t, args...)
	if code != exitPass {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	r := readResult(t, out).Runs[0]
	// worker-stock holds one thread per connection: about 100 busy.
	if r.Server == nil || r.Server.PeakBusyWorkers < 90 || r.Server.StatusSamples < 3 || r.Server.AccessesDuringRun < r.Requests.OK {
		t.Fatalf("server side %+v: want about 100 busy workers, samples and httpd's request count", r.Server)
	}
	if r.HTTPDVersion == "" || !strings.Contains(stdout, "server side") {
		t.Errorf("version %q; output:\n%s", r.HTTPDVersion, stdout)
	}
	// Without --target, --status-url is refused; a URL that is not mod_status too.
	if code, _, stderr := run(t, "run", "--status-url", ep.Sources.StatusURL); code != exitSetup || !strings.Contains(stderr, "use it with --target") {
		t.Errorf("--status-url alone: exit %d, %s", code, stderr)
	}
	if code, _, stderr := run(t, "run", "--target", ep.URL, "--status-url", ep.URL); code != exitSetup || !strings.Contains(stderr, "--status-url") {
		t.Errorf("--status-url at a page: exit %d, %s", code, stderr)
	}
}

// With no Docker engine at the default socket, run falls back on a native
// httpd and says so; with no httpd either, the error says how to get one.
func TestFallBack(t *testing.T) {
	noDocker := &containers.DockerError{Err: errors.New("dial unix /var/run/docker.sock: no such file")}
	local := provider.Local{}
	var stderr strings.Builder
	got, err := fallBack(nil, noDocker, func() (provider.Provider, error) { return local, nil }, &stderr)
	if _, isLocal := got.(provider.Local); err != nil || !isLocal || !strings.Contains(stderr.String(), "using the httpd installed on this host") {
		t.Errorf("got %v, %v, %q: want the local provider and a note", got, err, stderr.String())
	}
	_, err = fallBack(nil, noDocker, func() (provider.Provider, error) { return nil, errors.New("no httpd on this host") }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "Docker engine unreachable") || !strings.Contains(err.Error(), "apt-get") && !strings.Contains(err.Error(), "install Debian's apache2") {
		t.Errorf("got %v: want both ways named", err)
	}
	// Any other error (a missing image) is not a reason to fall back.
	other := errors.New("image missing")
	if _, err := fallBack(nil, other, func() (provider.Provider, error) { t.Error("fell back"); return local, nil }, io.Discard); err != other {
		t.Errorf("got %v, want the image error", err)
	}
}

// A config that could not be started makes run exit 2, whatever the others
// did; a failed config 1.
func TestRunExit(t *testing.T) {
	r := func(v string) results.Run { return results.Run{Verdict: v} }
	for _, tc := range []struct {
		runs []results.Run
		want int
	}{
		{[]results.Run{r(results.Pass), r(results.Pass)}, exitPass},
		{[]results.Run{r(results.Pass), r(results.Fail)}, exitFail},
		{[]results.Run{r(results.Fail), r(results.Error)}, exitSetup},
		{[]results.Run{r(results.Error), r(results.Pass)}, exitSetup},
		{[]results.Run{r(results.Pass), r(results.Flaky)}, exitFail},
	} {
		if got := runExit(&results.File{Runs: tc.runs}, false); got != tc.want {
			t.Errorf("%v: exit %d, want %d", tc.runs, got, tc.want)
		}
	}
	// --flaky-ok accepts flaky, and nothing else.
	for _, tc := range []struct {
		runs []results.Run
		want int
	}{
		{[]results.Run{r(results.Pass), r(results.Flaky)}, exitPass},
		{[]results.Run{r(results.Flaky), r(results.Fail)}, exitFail},
	} {
		if got := runExit(&results.File{Runs: tc.runs}, true); got != tc.want {
			t.Errorf("--flaky-ok %v: exit %d, want %d", tc.runs, got, tc.want)
		}
	}
}

// TestDiskFull stores the run on an 8 KB tmpfs: the run cannot be stored
// whole, yet the table is printed, --json (elsewhere) is written, no
// half-written file is left in the run folder, and the exit is 2 with the
// path and the OS error.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: the disk-full test mounts a tmpfs and needs root")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	small := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", small).CombinedOutput(); err != nil {
		t.Fatalf("mount a small tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", small).Run() })
	url := okServer(t)
	jsonPath := filepath.Join(t.TempDir(), "r.json")
	// 400 connections: the result with its series is more than 8 KB.
	code, stdout, stderr := run(t, "run", "--target", url, "-c", "400", "--ramp", "200ms", "--warmup", "300ms", "-d", "2s", "--rate", "2",
		"--results", small, "--run-id", "full", "--json", jsonPath)
	if code != exitSetup || !strings.Contains(stderr, small) || !strings.Contains(stderr, "no space left on device") {
		t.Errorf("exit %d, stderr %q: want 2 naming the path and the OS error", code, stderr)
	}
	if !strings.Contains(stdout, "target") || !strings.Contains(stdout, "400") {
		t.Errorf("no table printed:\n%s", stdout)
	}
	if f := readResult(t, jsonPath); len(f.Runs) != 1 || f.Runs[0].Connections.Served != 400 {
		t.Errorf("--json holds %+v, want the measured run", f.Runs)
	}
	entries, _ := os.ReadDir(filepath.Join(small, "full"))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("half-written file left: %s", e.Name())
		}
	}
	if f, err := results.ReadJSON(filepath.Join(small, "full", "result.json")); err == nil && f.Complete {
		t.Error("the stored result.json claims to be complete")
	}
}
