package main

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/capacity"
	"github.com/loadcheck/loadcheck/internal/dockertest"
	"github.com/loadcheck/loadcheck/report"
	"github.com/loadcheck/loadcheck/results"
)

// storedTargetRun makes a real run folder by loading an in-process
// loopback server.
func storedTargetRun(t *testing.T, dir, id string) string {
	t.Helper()
	url := okServer(t)
	code, stdout, stderr := run(t, "run", "--target", url, "-c", "20", "--ramp", "100ms", "--warmup", "200ms",
		"-d", "1s", "--rate", "5", "--results", dir, "--run-id", id, "--quiet")
	if code != exitPass {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	return filepath.Join(dir, id)
}

func TestRunFolderReportCompare(t *testing.T) {
	dir := t.TempDir()
	a := storedTargetRun(t, dir, "a")
	for _, name := range []string{"result.json", "target.hlog", "target.series.csv"} {
		if _, err := os.Stat(filepath.Join(a, name)); err != nil {
			t.Errorf("run folder lacks %s: %v", name, err)
		}
	}
	f, err := results.ReadRun(a)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Complete || f.RunID != "a" || f.Runs[0].Hist == nil || f.Runs[0].Hist.TotalCount() != f.Runs[0].Requests.OK {
		t.Fatalf("stored run: complete %v id %q, histogram of %d for %d OK", f.Complete, f.RunID, f.Runs[0].Hist.TotalCount(), f.Runs[0].Requests.OK)
	}
	// The same id again is refused before any load.
	if code, _, stderr := run(t, "run", "--target", "http://127.0.0.1:1/", "-c", "1", "--results", dir, "--run-id", "a"); code != exitSetup || !strings.Contains(stderr, "never overwritten") {
		t.Errorf("reused run id: exit %d %q", code, stderr)
	}

	for _, format := range report.Formats {
		code, stdout, stderr := run(t, "report", a, "--format", format)
		if code != exitPass || len(stdout) == 0 {
			t.Errorf("report --format %s: exit %d, %d bytes, %s", format, code, len(stdout), stderr)
		}
		switch format {
		case "json":
			var back results.File
			if err := json.Unmarshal([]byte(stdout), &back); err != nil || back.RunID != "a" {
				t.Errorf("json report: %v", err)
			}
		case "junit":
			var v struct {
				Tests int `xml:"tests,attr"`
			}
			if err := xml.Unmarshal([]byte(stdout), &v); err != nil || v.Tests != 6 {
				t.Errorf("junit report: %v, %d tests", err, v.Tests)
			}
		case "markdown":
			if !strings.Contains(stdout, "| target | 20 | 20 | 0 |") {
				t.Errorf("markdown report:\n%s", stdout)
			}
		}
	}
	page := filepath.Join(dir, "a.html")
	if code, _, stderr := run(t, "report", "--format", "html", a, "-o", page); code != exitPass {
		t.Fatalf("report -o: %d %s", code, stderr)
	}
	if b, _ := os.ReadFile(page); !strings.Contains(string(b), `<figure id="plot-latency">`) {
		t.Error("html report has no latency plot")
	}

	b := storedTargetRun(t, dir, "b")
	if code, stdout, stderr := run(t, "compare", a, b, "--noise", "1000", "--served-noise", "0"); code != exitPass || !strings.Contains(stdout, "0 of 1 configs regressed") {
		t.Errorf("compare of two good runs: exit %d\n%s%s", code, stdout, stderr)
	}
	// Doctor a copy of b into a clear regression: half the connections starved.
	worse := filepath.Join(dir, "worse")
	if err := os.Mkdir(worse, 0o755); err != nil {
		t.Fatal(err)
	}
	fb, _ := results.ReadRun(b)
	fb.RunID = "worse"
	fb.Runs[0].Connections.Served, fb.Runs[0].Connections.Starved = 10, 10
	results.Judge(&fb.Runs[0], fb.Scenario.Thresholds)
	if err := fb.WriteJSON(filepath.Join(worse, results.ResultFile)); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := run(t, "compare", a, worse, "--format", "markdown")
	if code != exitFail || !strings.Contains(stdout, "**target regressed:** verdict pass -> fail; served 20 -> 10") {
		t.Errorf("compare with a regression: exit %d\n%s", code, stdout)
	}
	// The same run on another generator engine: a warning, and with
	// --strict-env a refusal that names the difference.
	other := filepath.Join(dir, "other-engine")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	fo, _ := results.ReadRun(b)
	fo.RunID, fo.Runs[0].Engine = "other", map[string]string{"epoll": "goroutine", "goroutine": "epoll"}[fo.Runs[0].Engine]
	if err := fo.WriteJSON(filepath.Join(other, results.ResultFile)); err != nil {
		t.Fatal(err)
	}
	if code, stdout, _ := run(t, "compare", b, other, "--noise", "1000", "--served-noise", "0"); code != exitPass || !strings.Contains(stdout, "warning: the runs ran on different environments (target: generator engine") {
		t.Errorf("compare across engines: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := run(t, "compare", b, other, "--strict-env"); code != exitSetup || !strings.Contains(stderr, "--strict-env: the runs ran on different environments: target: generator engine") {
		t.Errorf("compare --strict-env across engines: exit %d %s", code, stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report"}, "want one run folder, got 0"},
		{[]string{"report", a, "--format", "pdf"}, `--format "pdf": choose from table, markdown, json, junit, html`},
		{[]string{"report", filepath.Join(dir, "nope")}, "no such file"},
		{[]string{"compare", a}, "want BASE and NEW, got 1"},
		{[]string{"compare", a, b, "--noise", "-1"}, "must not be negative"},
		{[]string{"validate"}, "want one scenario file"},
		{[]string{"validate", "testdata/bad-scenario.yaml"}, "testdata/bad-scenario.yaml:6:3: load.warm_up: unknown key in load; did you mean \"warmup\"?"},
		{[]string{"run", "testdata/bad-scenario.yaml"}, "testdata/bad-scenario.yaml:6:3: load.warm_up"},
		{[]string{"run", "../../scenarios/smoke.yaml", "--configs", "event-fast"}, `--configs: config "event-fast" is neither in ../../scenarios/smoke.yaml (event-stock, worker-stock) nor a preset`},
		{[]string{"run", "../../scenarios/smoke.yaml", "--target", "http://127.0.0.1:1/"}, "a scenario file starts httpd containers"},
		{[]string{"run", "../../scenarios/smoke.yaml", "extra.yaml"}, `unexpected argument "extra.yaml"`},
		{[]string{"run", "--run-id", "../x"}, "want a folder name"},
	} {
		code, _, stderr := run(t, tc.args...)
		if code != exitSetup || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
	// A damaged result is reported with its place and left as it was.
	damaged := filepath.Join(a, results.ResultFile)
	data, _ := os.ReadFile(damaged)
	if err := os.WriteFile(damaged, data[:100], 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "report", a); code != exitSetup || !strings.Contains(stderr, "result.json: not a loadcheck result (damaged or cut short?)") {
		t.Errorf("damaged result: exit %d %q", code, stderr)
	}
	if after, _ := os.ReadFile(damaged); len(after) != 100 {
		t.Error("report rewrote the damaged file")
	}
}

func TestValidate(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := run(t, "validate", "../../scenarios/compare-4000.yaml", "--out", out, "--layout", "debian")
	if code != exitPass {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{`scenario "compare-4000" is valid`, "about: stock and tuned prefork, worker and event at 4000 connections", "load: 4000 connections, 1 req/s per connection",
		"config event-stock: event MPM", "warning: event-stock: with MaxRequestWorkers 150 it can hold about 450 connections"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("validate output lacks %q:\n%s", want, stdout)
		}
	}
	conf, err := os.ReadFile(filepath.Join(out, "event-tuned.httpd.conf"))
	if err != nil || !strings.Contains(string(conf), "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so") ||
		!strings.Contains(string(conf), "MaxRequestWorkers 8000") {
		t.Errorf("rendered event-tuned httpd.conf: %v\n%s", err, conf)
	}
	// The shipped workload scenarios validate, and say what they serve.
	for file, wants := range map[string][]string{
		"workloads.yaml":     {"workload: file /page-100k.html (100KiB); slow clients: 800 of 4000 connections (20%) read at 16KiB/s"},
		"php-migration.yaml": {"config prefork-modphp: prefork MPM, memory 8192 MB, PHP in every process (mod_php)", "config event-phpfpm: event MPM, PHP in php-fpm (pm dynamic", "pm.max_children 100)"},
	} {
		code, stdout, stderr := run(t, "validate", "../../scenarios/"+file, "--layout", "debian")
		if code != exitPass {
			t.Fatalf("%s: exit %d: %s", file, code, stderr)
		}
		for _, want := range wants {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s: validate output lacks %q:\n%s", file, want, stdout)
			}
		}
	}
}

// TestScenarioRun runs a scenario file against real httpd with flags that
// override it, and checks the stored run folder.
func TestScenarioRun(t *testing.T) {
	dockertest.Require(t)
	dir := t.TempDir()
	code, stdout, stderr := run(t, "run", "../../scenarios/smoke.yaml", "-c", "30", "--warmup", "1s", "-d", "2s",
		"--configs", "worker-stock", "--results", dir, "--run-id", "smoke", "--quiet")
	if code != exitPass {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	f, err := results.ReadRun(filepath.Join(dir, "smoke"))
	if err != nil {
		t.Fatal(err)
	}
	sc := f.Scenario
	if sc.Name != "smoke" || sc.Load.Connections != 30 || sc.Load.RatePerConn != 2 || sc.Load.Duration.Seconds() != 2 || len(sc.Configs) != 1 || sc.Configs[0].Name != "worker-stock" {
		t.Errorf("stored effective scenario: %+v", sc)
	}
	if f.ScenarioFile != "../../scenarios/smoke.yaml" || !f.Complete {
		t.Errorf("scenario file %q complete %v", f.ScenarioFile, f.Complete)
	}
	r := f.Runs[0]
	if r.Connections.Served != 30 || r.Requests.OK != 120 || r.ImageID == "" {
		t.Errorf("served %d ok %d image id %q, want 30, 120 and an id", r.Connections.Served, r.Requests.OK, r.ImageID)
	}
	conf, err := os.ReadFile(filepath.Join(dir, "smoke", "worker-stock.httpd.conf"))
	if err != nil || !strings.Contains(string(conf), "LoadModule mpm_worker_module") {
		t.Errorf("stored httpd.conf: %v", err)
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

// TestNightlyScript runs the nightly workflow's steps (.github/nightly.sh)
// three nights against real httpd with one persisted history folder: the
// first without a baseline, then promoted to baseline (as CI does), the
// second like it, the third with a 50 ms slower backend behind httpd,
// which turns the night red under FAIL_ON=regression; then the baseline's
// image digest changed: compare names it, and --strict-env refuses.
func TestNightlyScript(t *testing.T) {
	dockertest.Require(t)
	dir := t.TempDir()
	history := filepath.Join(dir, "runs")
	summary := filepath.Join(dir, "summary.md")
	baseline := filepath.Join(dir, "baseline")
	nightly := func(id, backend, compareFlags string) (int, string) {
		_ = os.Remove(summary)
		cmd := exec.Command("bash", "../../.github/nightly.sh", "--keep", "3")
		cmd.Env = append(os.Environ(), "CI=true", "LOADCHECK="+binary, "SCENARIO=../../scenarios/smoke.yaml", "FAIL_ON=regression",
			"REPEAT=2", "RUN_FLAGS=-c 20 --warmup 1s -d 2s --configs worker-stock --quiet --backend /app="+backend+" --path /app",
			"RESULTS="+history, "RUN_ID="+id, "BASELINE="+baseline, "SUMMARY="+summary, "COMPARE_FLAGS="+compareFlags)
		code, out := runScript(t, cmd)
		s, _ := os.ReadFile(summary)
		return code, out + "\nsummary:\n" + string(s)
	}
	code, out := nightly("n1", "5ms", "")
	if code != 0 || !strings.Contains(out, "## loadcheck smoke: run n1") || !strings.Contains(out, "No baseline at") {
		t.Fatalf("first night: exit %d\n%s", code, out)
	}
	for _, name := range []string{"result.json", "junit.xml", "report.html", "worker-stock.hlog"} {
		if _, err := os.Stat(filepath.Join(history, "n1", name)); err != nil {
			t.Errorf("the artifact lacks %s", name)
		}
	}
	if c, stdout, stderr := run(t, "baseline", "promote", filepath.Join(history, "n1"), "--to", baseline); c != exitPass {
		t.Fatalf("promote: exit %d\n%s%s", c, stdout, stderr)
	}
	// Two real runs differ by noise; memory per connection over 20
	// connections jitters most, so its floor is wide; latency's is not.
	code, out = nightly("n2", "5ms", "--memory-floor 100000")
	if code != 0 || !strings.Contains(out, "## loadcheck compare: n1 -> n2") || !strings.Contains(out, "0 of 1 configs regressed") || !strings.Contains(out, "PASS 2/2") {
		t.Errorf("second night: exit %d\n%s", code, out)
	}
	code, out = nightly("n3", "55ms", "--memory-floor 100000")
	if code != 1 || !strings.Contains(out, "1 of 1 configs regressed") || !regexp.MustCompile(`\*\*worker-stock regressed:\*\* [^\n]*p99 ms`).MatchString(out) || !strings.Contains(out, "nightly: red (FAIL_ON=regression): a config regressed against the baseline") {
		t.Errorf("third night, 50 ms slower: exit %d, want 1\n%s", code, out)
	}
	// The trend over the three nights kept (the baseline is n1 again: once).
	if _, err := os.Stat(filepath.Join(history, "trend.html")); err != nil || !strings.Contains(out, "## loadcheck trend: 3 runs") || !strings.Contains(out, "| n3 |") {
		t.Errorf("no trend of the three nights (%v):\n%s", err, out)
	}
	if f, err := results.ReadRun(filepath.Join(history, "n3")); err != nil || f.Environment.CI != "CI" {
		t.Errorf("the night's environment.ci: %v", err)
	}
	// Another image under the baseline: named, and refused with --strict-env.
	base, err := results.ReadRun(baseline)
	if err != nil {
		t.Fatal(err)
	}
	base.Runs[0].ImageID = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	if err := base.WriteJSON(filepath.Join(baseline, results.ResultFile)); err != nil {
		t.Fatal(err)
	}
	c, stdout, stderr := run(t, "compare", baseline, filepath.Join(history, "n2"), "--memory-floor", "100000")
	if c != exitPass || !strings.Contains(stdout+stderr, "worker-stock: image sha256:000000") {
		t.Errorf("a changed image: exit %d\n%s%s", c, stdout, stderr)
	}
	c, _, stderr = run(t, "compare", baseline, filepath.Join(history, "n2"), "--strict-env")
	if c != exitSetup || !strings.Contains(stderr, "--strict-env: the runs ran on different environments: worker-stock: image sha256:000000") {
		t.Errorf("--strict-env: exit %d\n%s", c, stderr)
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

// TestNightlyGating: what turns a night red under each FAIL_ON, from the
// exits of run and compare (a stand-in loadcheck that exits as told and
// stores a result, so that the script's own logic is what is tested).
func TestNightlyGating(t *testing.T) {
	dir := t.TempDir()
	stub := filepath.Join(dir, "loadcheck")
	script := `#!/bin/sh
case "$1" in
run) mkdir -p "$RESULTS/$RUN_ID" && echo '{}' > "$RESULTS/$RUN_ID/result.json"; exit "$RUN_RC" ;;
compare) exit "$CMP_RC" ;;
esac
exit 0
`
	if err := os.WriteFile(stub, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "base")
	_ = os.MkdirAll(base, 0o755)
	_ = os.WriteFile(filepath.Join(base, "result.json"), []byte("{}"), 0o644)
	for _, tc := range []struct {
		failOn         string
		run, cmp, want int
	}{
		{"regression", 0, 0, 0}, {"regression", 1, 0, 0}, {"regression", 0, 1, 1}, {"regression", 1, 1, 1},
		{"verdict", 0, 0, 0}, {"verdict", 1, 0, 1}, {"verdict", 0, 1, 0},
		{"both", 1, 0, 1}, {"both", 0, 1, 1}, {"both", 0, 0, 0},
		{"none", 1, 1, 0}, {"none", 2, 0, 2}, {"regression", 0, 2, 2}, {"verdict", 2, 1, 2},
	} {
		cmd := exec.Command("bash", "../../.github/nightly.sh", "--fail-on", tc.failOn)
		cmd.Env = append(os.Environ(), "LOADCHECK="+stub, "RESULTS="+filepath.Join(dir, "runs"), "RUN_ID=n", "BASELINE="+base,
			"SUMMARY="+filepath.Join(dir, "summary.md"), fmt.Sprintf("RUN_RC=%d", tc.run), fmt.Sprintf("CMP_RC=%d", tc.cmp), "GITHUB_ACTIONS=")
		code, out := runScript(t, cmd)
		if code != tc.want {
			t.Errorf("FAIL_ON=%s, run exit %d, compare exit %d: night exit %d, want %d\n%s", tc.failOn, tc.run, tc.cmp, code, tc.want, out)
		}
	}
	if code, out := runScript(t, exec.Command("bash", "../../.github/nightly.sh", "--fail-on", "always")); code != 2 || !strings.Contains(out, `"always"; choose regression, verdict, both or none`) {
		t.Errorf("--fail-on always: exit %d %s", code, out)
	}
}

// runScript runs cmd and returns its exit code and combined output.
func runScript(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestCapacitySmall runs a real capacity search: event with 50 workers,
// whose directives allow about 150 connections, probed from 50 to 400.
func TestCapacitySmall(t *testing.T) {
	dockertest.Require(t)
	dir := t.TempDir()
	code, stdout, stderr := run(t, "capacity", "testdata/capacity-small.yaml", "--results", dir, "--run-id", "cap", "--quiet")
	if code != exitPass {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	f, err := capacity.Read(filepath.Join(dir, "cap", capacity.ResultFile))
	if err != nil {
		t.Fatal(err)
	}
	c := f.Configs[0]
	var probes []string
	for _, p := range c.Probes {
		probes = append(probes, fmt.Sprintf("%d %s (%s)", p.Connections, p.Outcome, p.Reason))
	}
	t.Logf("probes: %s", strings.Join(probes, "; "))
	// The stepped run (50, 100, 200, 400) held up to 100 and found the
	// knee near 150; then a few probes, not a whole bisection.
	if st := c.Stepped; st == nil || st.Error != "" || len(st.Steps) < 2 || !st.Steps[0].Held || st.Steps[len(st.Steps)-1].Held || st.Knee < 100 || st.Knee > 200 {
		t.Errorf("stepped run: %+v", st)
	} else if len(c.Probes) > 5 {
		t.Errorf("%d probes after a knee at %d", len(c.Probes), st.Knee)
	}
	if c.MaxPass < 100 || c.FirstFail > 200 || c.FirstFail <= c.MaxPass {
		t.Errorf("event with 50 workers holds %d, fails at %d; want 100..150 and a failure by 200", c.MaxPass, c.FirstFail)
	}
	if !strings.Contains(c.FailReason, "starved") && !strings.Contains(c.FailReason, "partly served") {
		t.Errorf("fail reason %q names no starved connections", c.FailReason)
	}
	// event's limit is connections (50 x 3), not busy workers.
	if !strings.Contains(c.FailReason, "server at its connection limit") || !strings.Contains(c.FailReason, "= 150)") {
		t.Errorf("fail reason %q does not name event's connection limit of 150", c.FailReason)
	}
	if c.ArrivalPerS <= 0 || c.Arrival == nil || math.Abs(c.Arrival.PerS-2*c.ArrivalPerS) > 0.5 || !strings.Contains(stdout, "arriving at") {
		t.Errorf("arrival %g/s, check %+v: want the limit probed again twice as fast, and said", c.ArrivalPerS, c.Arrival)
	}
	if c.MemPerConnKB <= 0 || c.CPUPerReqUS <= 0 || c.DirectiveLimit != 150 || !strings.Contains(c.LimitedBy, "MaxRequestWorkers") {
		t.Errorf("costs: %g KB/conn, %g µs/req, directive limit %d, limited by %q", c.MemPerConnKB, c.CPUPerReqUS, c.DirectiveLimit, c.LimitedBy)
	}
	s := c.Suggestion
	if s == nil || s.Confirm == nil || s.Verdict != results.Pass || s.Confirm.Connections.Served != 300 {
		t.Fatalf("suggestion for 300 connections: %+v", s)
	}
	// event-25 was searched at the same time as event-50, each against
	// its own server: each search began before the other's last run. A
	// search is its stepped run, then its probes, arrival and confirming
	// runs; the stepped run ended when the first of those began. (Probes
	// alone need not overlap: event-50's stepped run has more steps.)
	if len(f.Configs) != 2 || f.Configs[1].Config.Name != "event-25" {
		t.Fatalf("configs %d, want event-50 then event-25", len(f.Configs))
	}
	c25 := f.Configs[1]
	span := func(cc capacity.ConfigResult) (first, last time.Time) {
		runs := []results.Run{}
		for _, p := range cc.Probes {
			runs = append(runs, p.Run)
		}
		if cc.Arrival != nil {
			runs = append(runs, cc.Arrival.Probe.Run)
		}
		for s := cc.Suggestion; s != nil; s = s.Fallback {
			if s.Confirm != nil {
				runs = append(runs, *s.Confirm)
			}
		}
		for _, r := range runs {
			at := r.LoadStartedAt
			if at.IsZero() {
				continue
			}
			if first.IsZero() || at.Before(first) {
				first = at
			}
			if at.After(last) {
				last = at
			}
		}
		if cc.Stepped != nil {
			first = first.Add(-time.Duration(cc.Stepped.ElapsedS * float64(time.Second)))
		}
		return first, last
	}
	f50, l50 := span(c)
	f25, l25 := span(c25)
	if !slices.Equal(c.SideBySide, []string{"event-25"}) || !slices.Equal(c25.SideBySide, []string{"event-50"}) ||
		!f50.Before(l25) || !f25.Before(l50) {
		t.Errorf("side by side %v and %v; searches %s..%s and %s..%s: want the two searches at once", c.SideBySide, c25.SideBySide, f50.Format(time.TimeOnly), l50.Format(time.TimeOnly), f25.Format(time.TimeOnly), l25.Format(time.TimeOnly))
	}
	if c25.MaxPass < 50 || c25.FirstFail > 100 || c25.FirstFail <= c25.MaxPass {
		t.Errorf("event with 25 workers holds %d, fails at %d; want 50..75 and a failure by 100", c25.MaxPass, c25.FirstFail)
	}
	for _, name := range []string{"capacity.json", "capacity.html"} {
		if _, err := os.Stat(filepath.Join(dir, "cap", name)); err != nil {
			t.Errorf("run folder lacks %s", name)
		}
	}
	if code, md, _ := run(t, "report", filepath.Join(dir, "cap"), "--format", "markdown"); code != exitPass || !strings.Contains(md, "| event-50 |") {
		t.Errorf("report of a capacity run: exit %d\n%s", code, md)
	}
	// A single run 5 % below the limit found passes; one at twice the
	// first failing count fails. Not at the limit itself: the search's
	// probes held it twice, but a stepped knee is the edge to the
	// connection (148 where httpd caps event-50 at 149 with the status
	// reader), and CI once saw a third run there serve 147 of 148.
	below := c.MaxPass * 95 / 100
	for _, tc := range []struct {
		n    int
		want int
	}{{below, exitPass}, {2 * c.FirstFail, exitFail}} {
		code, out, errs := run(t, "run", "testdata/capacity-small.yaml", "--configs", "event-50", "-c", fmt.Sprint(tc.n), "--results", dir, "--quiet")
		if code != tc.want {
			t.Errorf("run at %d: exit %d, want %d\n%s%s", tc.n, code, tc.want, out, errs)
		}
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

// TestValidateTree: validate names a config tree's layout and files, not
// the layout presets are rendered for.
func TestValidateTree(t *testing.T) {
	tree, err := filepath.Abs("../../scenarios/trees/debian-shop")
	if err != nil {
		t.Fatal(err)
	}
	sc := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(sc, []byte("name: t\nconfigs:\n  - name: shop\n    dir: "+tree+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "validate", sc)
	if code != 0 || !strings.Contains(stdout, "config shop: event MPM, config tree "+tree+" (debian layout, ") {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// TestTrend follows ten stored nights: every config gets a row per night,
// the night where event-tuned's p99 doubled is marked as a regression, and
// with that night the newest the command exits 1. The exports for CI
// tools hold the newest night's values.
// TestTrend follows ten stored nights, real short runs of event-stock and
// worker-stock (testdata/nights, made by testdata/make-nights.sh), with a
// regression injected into the last: event-stock's p99 50 ms higher (its
// p99 is 2-4 ms; compare's floor for latency is 10 ms).
func TestTrend(t *testing.T) {
	dir := t.TempDir()
	var prev, regressed float64
	for i := range 10 {
		name := fmt.Sprintf("night-%02d", i)
		f, err := results.ReadJSON(filepath.Join("testdata", "nights", fmt.Sprintf("night-%d", i), "result.json"))
		if err != nil {
			t.Fatal(err)
		}
		if f.Runs[0].Config != "event-stock" || len(f.Runs) != 2 {
			t.Fatalf("%s: configs %v, want event-stock and worker-stock", name, f.Runs)
		}
		f.RunID = name
		switch i {
		case 8:
			prev = f.Runs[0].LatencyMS.P99
		case 9:
			f.Runs[0].LatencyMS.P99 += 50 // the regression
			regressed = f.Runs[0].LatencyMS.P99
		}
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := f.WriteJSON(filepath.Join(dir, name, results.ResultFile)); err != nil {
			t.Fatal(err)
		}
	}
	code, md, stderr := run(t, "trend", dir)
	if code != exitFail {
		t.Fatalf("exit %d, want 1 (the newest night regressed); stderr:\n%s", code, stderr)
	}
	if n := strings.Count(md, "| night-"); n != 20 { // two configs, 10 nights each
		t.Errorf("%d rows, want 20:\n%s", n, md)
	}
	if mark := fmt.Sprintf("**p99 ms %.3g -> %.3g", prev, regressed); !strings.Contains(md, mark) {
		t.Errorf("the regression of night-09 is not marked (%s):\n%s", mark, md)
	}
	code, gab, _ := run(t, "trend", dir, "--format", "gab-smaller")
	var entries []struct {
		Name  string
		Unit  string
		Value float64
	}
	if err := json.Unmarshal([]byte(gab), &entries); err != nil || code != exitFail {
		t.Fatalf("gab-smaller: exit %d, %v:\n%s", code, err, gab)
	}
	found := false
	for _, e := range entries {
		found = found || (e.Name == "event-stock p99 ms" && e.Unit == "ms" && e.Value == regressed)
	}
	if !found {
		t.Errorf("gab-smaller lacks event-stock's p99 of %g ms: %v", regressed, entries)
	}
	_, bmf, _ := run(t, "trend", dir, "--format", "bencher")
	var b map[string]map[string]map[string]float64
	if err := json.Unmarshal([]byte(bmf), &b); err != nil || b["event-stock"]["p99-ms"]["value"] != regressed {
		t.Errorf("bencher: %v %v", err, b)
	}
	_, page, _ := run(t, "trend", dir, "--format", "html")
	if strings.Count(page, "<svg") < 5 || !strings.Contains(page, `class="reg"`) {
		t.Errorf("the trend page lacks its plots or the marked regression")
	}
	if code, _, stderr := run(t, "trend", t.TempDir()); code != exitSetup || !strings.Contains(stderr, "no stored run in it") {
		t.Errorf("an empty folder: exit %d, %s", code, stderr)
	}
	// A night whose result.json is broken is left out, and said so.
	if err := os.WriteFile(filepath.Join(dir, "night-05", "result.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, md, stderr := run(t, "trend", dir); !strings.Contains(stderr, "left out of the trend") || strings.Contains(md, "night-05") || !strings.Contains(md, "night-06") {
		t.Errorf("a broken night: stderr %q", stderr)
	}
}
