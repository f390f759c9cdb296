package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/internal/testfix"
	"github.com/loadcheck/loadcheck/results"
)

// storeRun writes a stored run folder dir/id started at, made in CI when
// ci is not empty.
func storeRun(t *testing.T, dir, id string, at time.Time, ci string) string {
	t.Helper()
	f := testfix.Fixture()
	f.RunID, f.StartedAt, f.Environment.CI = id, at, ci
	run := filepath.Join(dir, id)
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteJSON(filepath.Join(run, results.ResultFile)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "report.html"), []byte("<html>"+id), 0o644); err != nil {
		t.Fatal(err)
	}
	return run
}

// TestBaselinePromote: a CI run becomes the baseline whole, replacing the
// one before; a run from outside CI or an unfinished one is refused.
func TestBaselinePromote(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 12, 1, 3, 17, 0, 0, time.UTC)
	ci1 := storeRun(t, dir, "nightly-1", at, "GitHub Actions run 1 of o/r, attempt 1")
	ci2 := storeRun(t, dir, "nightly-2", at.Add(24*time.Hour), "GitHub Actions run 2 of o/r, attempt 1")
	laptop := storeRun(t, dir, "laptop", at, "")
	base := filepath.Join(dir, ".loadcheck", "baseline")

	code, stdout, stderr := run(t, "baseline", "promote", laptop, "--to", base)
	if code != exitSetup || !strings.Contains(stderr, "not in CI (its environment.ci is empty)") || !strings.Contains(stderr, "--allow-local") {
		t.Errorf("a laptop's run: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(base); err == nil {
		t.Error("a refused promotion left a baseline")
	}
	for _, ci := range []string{ci1, ci2} {
		code, stdout, stderr = run(t, "baseline", "promote", ci, "--to", base)
		if code != exitPass || !strings.Contains(stdout, "is now run "+filepath.Base(ci)+" (GitHub Actions run") {
			t.Fatalf("promote %s: exit %d\n%s%s", ci, code, stdout, stderr)
		}
	}
	if f, err := results.ReadRun(base); err != nil || f.RunID != "nightly-2" {
		t.Errorf("the baseline is %v (%v), want nightly-2", f, err)
	}
	if b, err := os.ReadFile(filepath.Join(base, "report.html")); err != nil || string(b) != "<html>nightly-2" {
		t.Errorf("the baseline's report: %q %v", b, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".loadcheck", ".baseline*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	if code, _, stderr = run(t, "baseline", "promote", laptop, "--to", base, "--allow-local"); code != exitPass {
		t.Errorf("--allow-local: exit %d %s", code, stderr)
	}

	f := testfix.Fixture()
	f.Complete, f.Environment.CI = false, "CI"
	broken := filepath.Join(dir, "broken")
	_ = os.MkdirAll(broken, 0o755)
	if err := f.WriteJSON(filepath.Join(broken, results.ResultFile)); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr = run(t, "baseline", "promote", broken, "--to", base); code != exitSetup || !strings.Contains(stderr, "did not finish") {
		t.Errorf("an incomplete run: exit %d %s", code, stderr)
	}
	if code, _, stderr = run(t, "baseline", "promote", filepath.Join(dir, "nope"), "--to", base); code != exitSetup || !strings.Contains(stderr, "nope: not a run folder") {
		t.Errorf("a missing folder: exit %d %s", code, stderr)
	}
	if code, _, stderr = run(t, "baseline", "show"); code != exitSetup || !strings.Contains(stderr, `want "loadcheck baseline promote RUN"`) {
		t.Errorf("an unknown subcommand: exit %d %s", code, stderr)
	}
}

// TestPrune keeps the newest runs by their recorded start, whatever
// their folders are called, and leaves other folders alone.
func TestPrune(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 12, 1, 3, 17, 0, 0, time.UTC)
	// Names sort the other way round from the starts.
	for i, name := range []string{"z", "y", "x", "w"} {
		storeRun(t, dir, name, at.Add(time.Duration(i)*24*time.Hour), "")
	}
	_ = os.MkdirAll(filepath.Join(dir, "notes"), 0o755)
	code, stdout, stderr := run(t, "prune", dir, "--keep", "2", "--dry-run")
	if code != exitPass || strings.Count(stdout, "would remove") != 2 {
		t.Fatalf("dry run: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "z")); err != nil {
		t.Error("a dry run removed z")
	}
	code, stdout, _ = run(t, "prune", dir, "--keep", "2")
	if code != exitPass || !strings.Contains(stdout, "removed "+filepath.Join(dir, "z")) || !strings.Contains(stdout, "removed "+filepath.Join(dir, "y")) {
		t.Errorf("prune: exit %d\n%s", code, stdout)
	}
	for name, kept := range map[string]bool{"z": false, "y": false, "x": true, "w": true, "notes": true} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != kept {
			t.Errorf("%s kept %v, want %v", name, err == nil, kept)
		}
	}
	if code, _, stderr = run(t, "prune", dir, "--keep", "0"); code != exitSetup || !strings.Contains(stderr, "--keep 0: keep at least 1 run") {
		t.Errorf("--keep 0: exit %d %s", code, stderr)
	}
}

// TestVersionText: the version, the commit, the build date (or the
// commit's time in a plain go build) and Go.
func TestVersionText(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "3f2a9c1b7e44aa00bb11cc22dd33ee44ff556677"}, {Key: "vcs.time", Value: "2026-11-27T03:40:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	got := versionText(bi, "v1.2.0", "")
	for _, want := range []string{"loadcheck v1.2.0\n", "commit  3f2a9c1b7e44 (with uncommitted changes)\n", "built   not recorded (commit time 2026-11-27T03:40:00Z)\n", "go      go1.26.8 "} {
		if !strings.Contains(got, want) {
			t.Errorf("version text lacks %q:\n%s", want, got)
		}
	}
	if got := versionText(nil, "v1.2.0", "2026-12-05T01:00:00Z"); !strings.Contains(got, "built   2026-12-05T01:00:00Z") || !strings.Contains(got, "commit  unknown") {
		t.Errorf("a release build:\n%s", got)
	}
	// A plain go build in this checkout names the commit (go needs
	// -buildvcs, which `make build` passes: GOFLAGS may turn it off).
	dir := t.TempDir()
	exe := filepath.Join(dir, "lc")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", exe, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	head, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		t.Fatalf("git: %v", err)
	}
	out, err := exec.Command(exe, "version").Output()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("commit  %s", strings.TrimSpace(string(head)))) || !strings.HasPrefix(string(out), "loadcheck v") {
		t.Errorf("loadcheck version from a plain go build: %v\n%s", err, out)
	}
}
