package loadcheck_test

// The workload's features on real httpd, through the library as a caller
// of Run gets them: scenarios.Overrides as the CLI's flags become, then
// Run; the CLI's own tests keep what only the CLI does (flags, exit
// codes, what it prints).

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck"
	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/internal/dockertest"
	"github.com/loadcheck/loadcheck/provider"
	"github.com/loadcheck/loadcheck/report"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

// runOne runs sc (one config) with o applied, on the test image, and
// returns its result and the table run prints for it.
func runOne(t *testing.T, sc scenarios.Scenario, o scenarios.Overrides) (results.Run, string) {
	t.Helper()
	dockertest.Require(t)
	sc, err := o.Apply(sc)
	if err != nil {
		t.Fatal(err)
	}
	sc.Image = dockertest.Image
	out, err := loadcheck.Run(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
	var table bytes.Buffer
	if err := report.WriteTable(&table, out); err != nil {
		t.Fatal(err)
	}
	if len(out.Runs) != 1 || out.Runs[0].Verdict != results.Pass {
		t.Fatalf("want one passing config:\n%s", table.String())
	}
	return out.Runs[0], table.String()
}

// TestServedFiles: a 100 KB file beside the test page, requested in turn
// with it; every body byte is counted, and requests to the big file are
// answered by httpd (it exists in the container's served tmpfs).
func TestServedFiles(t *testing.T) {
	sc := smallScenario(t, 20, "event-stock")
	sc.Load.Paths = []string{"/", "/page-100k.html"}
	r, table := runOne(t, sc, scenarios.Overrides{Serve: []scenarios.File{{Path: "/page-100k.html", Size: 100 << 10}}})
	// Each connection sends / and /page-100k.html in turn: about half the
	// answers are 102400 bytes, the rest 3.
	ok := r.Requests.OK
	if lo, hi := (ok/2-20)*102400, (ok/2+20)*102403; r.Requests.BytesRead < lo || r.Requests.BytesRead > hi || r.ReadMBps <= 0 {
		t.Errorf("%d OK, %d bytes read (%g MB/s): want about half of them 100 KB", ok, r.Requests.BytesRead, r.ReadMBps)
	}
	if !strings.Contains(table, "of bodies in the window") {
		t.Errorf("no bytes line:\n%s", table)
	}
}

// TestBackend proxies /app to a 50 ms backend: every answer of /app comes
// through httpd's mod_proxy_http after the backend's wait, and the backend
// counts every request.
func TestBackend(t *testing.T) {
	sc := smallScenario(t, 40, "event-stock")
	sc.Load.Paths = []string{"/app"}
	r, table := runOne(t, sc, scenarios.Overrides{Backend: &scenarios.Backend{Path: "/app", Latency: "50ms", Size: 2 << 10}})
	b := r.Server.Backend
	if b == nil || b.Requests < r.Requests.OK || b.PeakConcurrency < 1 || b.WaitMS.P50 != 50 || r.LatencyMS.P50 < 50 ||
		r.Requests.BytesRead != r.Requests.OK*2048 || !strings.Contains(table, "backend /app (50ms):") {
		t.Errorf("backend %+v, %d OK, p50 %g ms, %d bytes read; table:\n%s", b, r.Requests.OK, r.LatencyMS.P50, r.Requests.BytesRead, table)
	}
}

// TestIdleKeepAlive: connections whose requests come further apart than
// httpd's KeepAliveTimeout (1 s here, a request every 2 s) are closed by
// httpd while idle; loadcheck opens each again for its next request, and
// that is no failure: PASS, with the reopens counted and said.
func TestIdleKeepAlive(t *testing.T) {
	sc := smallScenario(t, 50, "event-stock")
	sc.Load.RatePerConn, sc.Load.WarmUp, sc.Load.Duration = 0.5, 3*time.Second, 4*time.Second
	r, table := runOne(t, sc, scenarios.Overrides{Set: []apache.Directive{{Name: "KeepAliveTimeout", Value: "1"}}})
	if r.Connections.Served != 50 || r.Connections.IdleReopens < 50 || r.Requests.Dropped != 0 ||
		!strings.Contains(table, "idle connections at its keep-alive timeout") {
		t.Errorf("served %d, idle reopens %d, dropped %d; table:\n%s", r.Connections.Served, r.Connections.IdleReopens, r.Requests.Dropped, table)
	}
}

// TestAccessLogMix sends an access log's request mix to real httpd: every
// request answered, and latency and counts per path class that add up to
// the run's.
func TestAccessLogMix(t *testing.T) {
	sc := smallScenario(t, 30, "event-stock")
	mix, note, err := scenarios.LoadMix("cmd/loadcheck/testdata/access.log")
	if err != nil {
		t.Fatal(err)
	}
	sc.Load.Mix, sc.Load.RatePerConn = mix, 5
	r, table := runOne(t, sc, scenarios.Overrides{Serve: []scenarios.File{{Path: "/page-1k.html", Size: 1 << 10}}})
	var ok int64
	classes := map[string]int64{}
	for _, c := range r.PathClasses {
		ok += c.OK
		classes[c.Class] = c.OK
	}
	// 60 % /, 30 % /page-1k.html, 10 % /index.html?v=2 (class /index.html)
	if ok != r.Requests.OK || len(classes) != 3 || classes["/"] < classes["/page-1k.html"] || classes["/page-1k.html"] < classes["/index.html"] ||
		!strings.Contains(note, "100 requests of 3 kinds") || !strings.Contains(table, "per path class") {
		t.Errorf("classes %v add to %d OK of %d; note %q; table:\n%s", classes, ok, r.Requests.OK, note, table)
	}
}

// TestArrivalCheck: each config that failed runs once more with its
// connections arriving 4x more slowly. Prefork starting from one process
// spawns at most twice as many each second: connections arriving at 50/s
// outrun it (FAIL), arriving at 12.5/s they do not (PASS), so its verdict
// depends on the arrival. Worker with 50 workers fails 100 connections
// however they arrive.
func TestArrivalCheck(t *testing.T) {
	dockertest.Require(t)
	sc := smallScenario(t, 100, "prefork-stock", "worker-stock")
	sc.Image, sc.ArrivalCheck = dockertest.Image, true
	sc.Load.Ramp, sc.Load.WarmUp = 2*time.Second, time.Second
	for _, d := range []string{"StartServers=1", "MinSpareServers=100", "MaxSpareServers=200", "ServerLimit=200", "MaxRequestWorkers=200"} {
		name, value, _ := strings.Cut(d, "=")
		sc.Configs[0].Set(apache.Directive{Name: name, Value: value})
	}
	sc.Configs[1].Set(apache.Directive{Name: "MaxRequestWorkers", Value: "50"})
	out, err := loadcheck.Run(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	_ = report.WriteTable(&table, out)
	pre, wrk := out.Runs[0], out.Runs[1]
	if pre.Verdict != results.Fail || pre.ArrivalPerS != 50 || pre.Arrival == nil || pre.Arrival.PerS != 12.5 || pre.Arrival.RampS != 8 ||
		pre.Arrival.Verdict != results.Pass || pre.Arrival.Served != 100 {
		t.Errorf("prefork from one process: %s at %g/s, arrival check %+v; want FAIL at 50/s and PASS at 12.5/s\n%s", pre.Verdict, pre.ArrivalPerS, pre.Arrival, table.String())
	}
	if wrk.Verdict != results.Fail || wrk.Arrival == nil || wrk.Arrival.Verdict != results.Fail || wrk.Arrival.Served >= 100 || wrk.Arrival.Why == "" {
		t.Errorf("worker with 50 workers: %s, arrival check %+v; want FAIL both times\n%s", wrk.Verdict, wrk.Arrival, table.String())
	}
	for _, want := range []string{"arrival: arriving at 12/s instead of 50/s, every connection was served (100 of 100, PASS): this verdict depends on how fast connections arrive",
		"arrival: arriving at 12/s instead of 50/s, it failed too"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, table.String())
		}
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

// TestDocRoot serves a site's own folder (--docroot) instead of the test
// page: read-only where a preset's DocumentRoot is, in a container and
// natively, and where each DocumentRoot of a config tree is (the shop
// tree's /srv/shop/public); every body byte the load reads is the site's.
// A --file beside it, or a PHP preset, is refused before anything starts.
func TestDocRoot(t *testing.T) {
	dockertest.Require(t)
	dockertest.RequireHTTPD(t)
	// Natively, httpd's workers run as daemon: the folder and those above
	// it must let others in (t.TempDir's do not).
	site, err := os.MkdirTemp("", "loadcheck-site-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(site) })
	if err := os.Chmod(site, 0o755); err != nil {
		t.Fatal(err)
	}
	page := "hello from the site\n"
	if err := os.WriteFile(filepath.Join(site, "index.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	tree, err := apache.LoadTree("shop", "scenarios/trees/debian-shop")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  func(sc *scenarios.Scenario)
		opts []loadcheck.Option
	}{
		{"docker preset", func(*scenarios.Scenario) {}, nil},
		{"docker tree", func(sc *scenarios.Scenario) { sc.Configs = []apache.Config{tree} }, nil},
		{"local preset", func(*scenarios.Scenario) {}, []loadcheck.Option{loadcheck.WithProvider(provider.Local{})}},
	} {
		sc := smallScenario(t, 10, "event-stock")
		sc.Image = dockertest.Image
		tc.cfg(&sc)
		sc, err := scenarios.Overrides{DocRoot: site}.Apply(sc)
		if err != nil {
			t.Fatal(err)
		}
		out, err := loadcheck.Run(context.Background(), sc, tc.opts...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		r := out.Runs[0]
		if r.Verdict != results.Pass || r.Requests.OK == 0 || r.Requests.BytesRead != int64(r.Requests.OK)*int64(len(page)) {
			t.Errorf("%s: %s, %d answers, %d body bytes: want every answer the site's %d-byte page (%v)", tc.name, r.Verdict, r.Requests.OK, r.Requests.BytesRead, len(page), r.Reasons)
		}
		if _, err := os.Stat(filepath.Join(site, "ok")); err == nil || len(mustReadDir(t, site)) != 1 {
			t.Errorf("%s: the site's folder was written into: %v", tc.name, mustReadDir(t, site))
		}
	}
	sc := smallScenario(t, 10, "event-stock")
	if _, err := (scenarios.Overrides{DocRoot: site, Serve: []scenarios.File{{Path: "/x.bin", Size: 10}}}).Apply(sc); err == nil || !strings.Contains(err.Error(), "docroot") {
		t.Errorf("--docroot with --file: %v, want a refusal naming docroot", err)
	}
	php := smallScenario(t, 10, "prefork-modphp")
	if _, err := (scenarios.Overrides{DocRoot: site}).Apply(php); err == nil || !strings.Contains(err.Error(), "serves loadcheck's PHP page") {
		t.Errorf("--docroot with a PHP preset: %v", err)
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

func mustReadDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// bothProviders are the providers a test runs its case through: httpd
// in a container, and on this host.
var bothProviders = []struct {
	name string
	opts []loadcheck.Option
}{{"docker", nil}, {"local", []loadcheck.Option{loadcheck.WithProvider(provider.Local{})}}}

// TestRollout switches a running httpd under load, in a container and
// natively: worker-stock to worker-tuned, gracefully, 3 s into an 8 s
// window, at 300 connections. httpd logs the signal, the window splits at
// it into before, switching and after, every request due in it is
// accounted to one of them, the new generation serves all 300 (the load
// recovered: every connection open, no drop, to the window's end), and
// the verdict is the rollout's. A switch to another MPM by signal is
// refused before anything starts, with the reason.
func TestRollout(t *testing.T) {
	dockertest.Require(t)
	dockertest.RequireHTTPD(t)
	for _, tc := range bothProviders {
		sc := smallScenario(t, 300, "worker-stock")
		sc.Image, sc.Load.Duration = dockertest.Image, 8*time.Second
		to, _ := apache.Preset("worker-tuned", 300)
		out, err := loadcheck.Rollout(context.Background(), sc, loadcheck.RolloutSpec{To: to, How: "graceful", At: 3 * time.Second}, tc.opts...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		r := out.Runs[0]
		ro := r.Rollout
		var table bytes.Buffer
		_ = report.WriteTable(&table, out)
		if ro == nil || !ro.Acknowledged || ro.From != "worker-stock" || ro.To != "worker-tuned" || len(ro.Phases) != 3 {
			t.Fatalf("%s: rollout %+v\n%s", tc.name, ro, table.String())
		}
		if start := r.MeasureStartS; ro.SignalS < start+2.5 || ro.SignalS > start+4.5 {
			t.Errorf("%s: signal at %.1f s, window from %.1f s: want about 3 s into it", tc.name, ro.SignalS, start)
		}
		var ok, dropped int64
		for _, p := range ro.Phases {
			ok += p.OK
			dropped += p.DroppedTotal()
		}
		// The phases count answers and drops by the second they happened
		// (a timeout when it fired), the window by when the request was
		// due: they agree within a second's requests and a timeout's.
		perSecond := float64(sc.Load.Connections) * sc.Load.RatePerConn
		slack := int64(perSecond * (1 + sc.Load.Timeout.Seconds()))
		if d := ok + dropped - r.Requests.OK - r.Requests.Dropped; d > slack || d < -slack || ok == 0 {
			t.Errorf("%s: phases hold %d ok and %d dropped, the window %d and %d", tc.name, ok, dropped, r.Requests.OK, r.Requests.Dropped)
		}
		if ro.RecoveredS < 0 {
			t.Errorf("%s: the load never recovered after the switch: the new generation did not serve all 300\n%s", tc.name, table.String())
		}
		if (r.Verdict == results.Pass) != ro.ZeroLoss || !strings.Contains(table.String(), "rollout worker-stock -> worker-tuned (graceful)") {
			t.Errorf("%s: verdict %s, zero-loss %v (%s)\n%s", tc.name, r.Verdict, ro.ZeroLoss, ro.Why, table.String())
		}
		t.Logf("%s:\n%s", tc.name, strings.Join(ro.Lines(), "\n"))
	}
	sc := smallScenario(t, 10, "event-stock")
	worker, _ := apache.Preset("worker-stock", 10)
	if _, err := loadcheck.Rollout(context.Background(), sc, loadcheck.RolloutSpec{To: worker, How: "graceful", At: time.Second}); err == nil || !strings.Contains(err.Error(), "cannot change its MPM") || !strings.Contains(err.Error(), "use stop-start") {
		t.Errorf("event to worker: %v, want a refusal naming the MPM and stop-start", err)
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

// TestRecycling churns connections (10 requests each, then the client
// opens a new one) against worker with MaxConnectionsPerChild 50, in a
// container and natively: children reach their limit inside the window
// and are replaced, the processes that ended are counted from the
// cgroup, the client's own reopens apart from the server's closes, every
// request is accounted for, and the diagnosis names the recycling when
// the server closed connections at it.
func TestRecycling(t *testing.T) {
	dockertest.Require(t)
	dockertest.RequireHTTPD(t)
	for _, tc := range bothProviders {
		sc := smallScenario(t, 100, "worker-stock")
		sc.Image, sc.Load.RatePerConn, sc.Load.Duration, sc.Load.RequestsPerConnection = dockertest.Image, 5, 6*time.Second, 10
		sc.Configs[0].Directives = slices.Clone(sc.Configs[0].Directives)
		sc.Configs[0].Set(apache.Directive{Name: "MaxConnectionsPerChild", Value: "50"})
		out, err := loadcheck.Run(context.Background(), sc, tc.opts...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		r := out.Runs[0]
		var table bytes.Buffer
		_ = report.WriteTable(&table, out)
		q, c := r.Requests, r.Connections
		// Every request of every connection, 10 to a socket: the client
		// opened a new socket about once every 10 answers.
		answered := q.OK + q.Dropped
		if q.Sent != q.OK+q.Dropped+q.InFlight || c.ClientReopens < answered/10-int64(c.Target) || c.ClientReopens > answered/10+int64(c.Target) {
			t.Errorf("%s: requests %+v, client reopens %d: want sent = ok + dropped + in flight and about one reopen per 10 answers\n%s", tc.name, q, c.ClientReopens, table.String())
		}
		if r.Server == nil || r.Server.ProcessesEnded < 3 {
			t.Fatalf("%s: server %+v: want at least 3 httpd processes ended (50 connections a child, 50 new connections a second)\n%s", tc.name, r.Server, table.String())
		}
		if !strings.Contains(table.String(), "httpd processes ended during the load") || !strings.Contains(table.String(), "after 10 requests each") {
			t.Errorf("%s: the table does not say what churned and what ended:\n%s", tc.name, table.String())
		}
		if why := results.Diagnose(r, sc.Configs[0], sc.Thresholds); c.Reconnects > 0 && !strings.Contains(why, "recycled at MaxConnectionsPerChild 50") {
			t.Errorf("%s: httpd closed %d connections, and the diagnosis does not name the recycling: %s", tc.name, c.Reconnects, why)
		}
		t.Logf("%s: %d processes ended, %d client reopens, %d server closes, %v dropped", tc.name, r.Server.ProcessesEnded, c.ClientReopens, c.Reconnects, q.Errors)
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

// TestRolloutStopStart changes the MPM under load, as the article does
// (prefork to event), the only way httpd can: a graceful stop, then a
// start with the new config, in the same container and natively. Both
// httpds logged their start (prefork AH00163, event AH00489) and the stop
// (AH00170); connections refused in the gap are counted as such, the
// load recovered on the new server (every connection open, no drop) within
// 4 s, and httpd's request count runs on over the restart.
func TestRolloutStopStart(t *testing.T) {
	dockertest.Require(t)
	dockertest.RequireHTTPD(t)
	for _, tc := range bothProviders {
		sc := smallScenario(t, 40, "prefork-stock")
		sc.Image, sc.Load.Duration = dockertest.Image, 7*time.Second
		to, _ := apache.Preset("event-stock", 40)
		out, err := loadcheck.Rollout(context.Background(), sc, loadcheck.RolloutSpec{To: to, How: provider.SwitchStopStart, At: 2 * time.Second}, tc.opts...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		r := out.Runs[0]
		ro := r.Rollout
		codes := map[string]bool{}
		if r.Server != nil {
			for _, c := range r.Server.ErrorLog {
				codes[c.Code] = true
			}
		}
		var table bytes.Buffer
		_ = report.WriteTable(&table, out)
		if ro == nil || !ro.Acknowledged || ro.How != "stop-start" || !codes["AH00163"] || !codes["AH00489"] || !codes["AH00170"] {
			t.Fatalf("%s: rollout %+v, httpd logged %v: want prefork's start and graceful stop, then event's start\n%s", tc.name, ro, codes, table.String())
		}
		if ro.RecoveredS < 0 || ro.RecoveredS > 4 {
			t.Errorf("%s: recovered %.1f s after the signal, want within 4 s\n%s", tc.name, ro.RecoveredS, table.String())
		}
		// httpd counted every answer the client got, over both servers.
		if s := r.Server; s.AccessesDuringRun < r.Requests.OK {
			t.Errorf("%s: httpd counted %d requests, the client got %d answers in the window alone", tc.name, s.AccessesDuringRun, r.Requests.OK)
		}
		t.Logf("%s:\n%s", tc.name, strings.Join(ro.Lines(), "\n"))
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}
