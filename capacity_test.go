package loadcheck_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck"
	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/capacity"
	"github.com/loadcheck/loadcheck/provider"
	"github.com/loadcheck/loadcheck/scenarios"
)

// capacityScenario is a short scenario aiming at target connections, at
// 5 req/s each, for configs, and the URL of a server that answers
// everything, closed when the test ends.
func capacityScenario(t *testing.T, target int, configs ...apache.Config) (string, scenarios.Scenario) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	t.Cleanup(srv.Close)
	load := scenarios.DefaultLoad()
	load.Connections, load.Ramp, load.WarmUp, load.Duration, load.RatePerConn = target, 200*time.Millisecond, 300*time.Millisecond, time.Second, 5
	return srv.URL + "/", scenarios.Scenario{Name: "cap", Load: load, Configs: configs, Thresholds: scenarios.DefaultThresholds()}
}

// Capacity through the library against a running server that holds
// everything: the stepped run goes through the run's generator (in this
// process) and holds every step, the probes confirm the maximum, and the
// run folder ends with capacity.json and capacity.html, as Run's ends
// with result.json and report.html.
func TestCapacityLibrary(t *testing.T) {
	url, sc := capacityScenario(t, 8, apache.Config{Name: "target", MPM: "unknown"})
	bounds := scenarios.DefaultCapacity()
	bounds.Start, bounds.Max, bounds.Budget = 4, 8, 2*time.Minute
	dir := t.TempDir()
	var logs []string
	out, err := loadcheck.Capacity(context.Background(), sc, bounds, loadcheck.WithProvider(provider.Target{URL: url}),
		loadcheck.WithStore(dir), loadcheck.WithRunID("cap-1"), loadcheck.WithoutConfirm(),
		loadcheck.WithLog(func(format string, a ...any) { logs = append(logs, fmt.Sprintf(format, a...)) }))
	if err != nil {
		t.Fatal(err)
	}
	cc := out.Configs[0]
	if !out.Complete || out.Schema != capacity.Schema || out.RunID != "cap-1" || cc.MaxPass != 8 {
		t.Fatalf("complete %v, schema %q, run %q, max pass %d: want a complete search holding all 8\nlog:\n%s", out.Complete, out.Schema, out.RunID, cc.MaxPass, strings.Join(logs, "\n"))
	}
	// The limit held again with connections arriving twice as fast.
	if cc.ArrivalPerS != 40 || cc.Arrival == nil || cc.Arrival.PerS != 80 || cc.Arrival.Probe.Outcome != capacity.ProbePass {
		t.Errorf("arrival %g/s, check %+v: want 8 over 200 ms (40/s), then 80/s held", cc.ArrivalPerS, cc.Arrival)
	}
	if st := cc.Stepped; st == nil || st.Error != "" || st.Held != 8 {
		t.Errorf("stepped run %+v: want every step held, through the generator", st)
	}
	for _, name := range []string{capacity.ResultFile, "capacity.html"} {
		if b, err := os.ReadFile(filepath.Join(dir, "cap-1", name)); err != nil || !strings.Contains(string(b), "target") {
			t.Errorf("%s: %v (%d bytes)", name, err, len(b))
		}
	}
}

// A search whose stepped run multiplies each step by 4, and whose limit
// is far above the target, with arrival near_target: the steps are 2 and
// 8, the limit is not probed again arriving faster (the note says why),
// and the target itself is probed on a fresh server instead.
func TestCapacityLibraryStepFactorArrival(t *testing.T) {
	url, sc := capacityScenario(t, 2, apache.Config{Name: "target", MPM: "unknown"})
	bounds := scenarios.DefaultCapacity()
	bounds.Start, bounds.Max, bounds.Budget, bounds.StepFactor, bounds.Arrival = 2, 8, 2*time.Minute, 4, scenarios.ArrivalNearTarget
	var logs []string
	out, err := loadcheck.Capacity(context.Background(), sc, bounds, loadcheck.WithProvider(provider.Target{URL: url}), loadcheck.WithoutConfirm(),
		loadcheck.WithLog(func(format string, a ...any) { logs = append(logs, fmt.Sprintf(format, a...)) }))
	if err != nil {
		t.Fatal(err)
	}
	cc := out.Configs[0]
	var steps []int
	if cc.Stepped != nil {
		for _, s := range cc.Stepped.Steps {
			steps = append(steps, s.Connections)
		}
	}
	if !slices.Equal(steps, []int{2, 8}) || cc.MaxPass != 8 {
		t.Errorf("steps %v, holds %d: want steps of 2 and 8, holding 8", steps, cc.MaxPass)
	}
	if cc.Arrival != nil || !strings.Contains(cc.ArrivalSkipped, "near_target") || !strings.Contains(cc.ArrivalNote(), "arriving at 40/s; not probed faster") {
		t.Errorf("arrival check %+v, note %q: want none, 8 being far from the target of 2", cc.Arrival, cc.ArrivalNote())
	}
	if p := cc.AtTarget; p == nil || p.Connections != 2 || p.Outcome != capacity.ProbePass || !strings.Contains(cc.TargetNote(), "held the target (2) too") {
		t.Errorf("probe at the target %+v, note %q: want 2 connections held on a fresh server", p, cc.TargetNote())
	}
	if k := out.Answer().Cards[0]; !k.MeetsTarget || !strings.Contains(k.Sure, "held the target (2) on a fresh server too") {
		t.Errorf("card %+v: want the target met, and said how", k)
	}
	if !strings.Contains(strings.Join(logs, "\n"), "not probed faster") {
		t.Errorf("log does not say the limit was not probed faster:\n%s", strings.Join(logs, "\n"))
	}
}

// Two configs capped by their directives far below the host are searched
// side by side through the library (run with -race: the searches share
// the run), each up to twice its directive limit: against a server that
// holds everything, each search says it stopped there, and names the
// other.
func TestCapacityLibrarySideBySide(t *testing.T) {
	small := func(name string) apache.Config { // event: 2 workers x (AsyncRequestWorkerFactor 2 + 1) = 6 connections
		return apache.Config{Name: name, MPM: "event", Directives: []apache.Directive{{Name: "ServerLimit", Value: "1"}, {Name: "ThreadsPerChild", Value: "2"}, {Name: "MaxRequestWorkers", Value: "2"}}}
	}
	url, sc := capacityScenario(t, 8, small("a"), small("b"))
	bounds := scenarios.DefaultCapacity()
	bounds.Start, bounds.Max, bounds.Budget = 4, 16, 2*time.Minute
	var mu sync.Mutex
	var logs []string
	out, err := loadcheck.Capacity(context.Background(), sc, bounds, loadcheck.WithProvider(provider.Target{URL: url}), loadcheck.WithoutConfirm(),
		loadcheck.WithLog(func(format string, a ...any) {
			mu.Lock()
			defer mu.Unlock()
			logs = append(logs, fmt.Sprintf(format, a...))
		}))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Configs) != 2 || out.Complete {
		t.Fatalf("%d configs, complete %v: want a and b, each stopped at twice its limit", len(out.Configs), out.Complete)
	}
	for i, other := range []string{"b", "a"} {
		cc := out.Configs[i]
		if cc.Config.Name != []string{"a", "b"}[i] || cc.MaxPass != 12 || len(cc.SideBySide) != 1 || cc.SideBySide[0] != other ||
			!strings.Contains(cc.Unfinished, "held 12 connections, twice its directive limit (6)") {
			t.Errorf("%s: holds %d, side by side with %v, unfinished %q", cc.Config.Name, cc.MaxPass, cc.SideBySide, cc.Unfinished)
		}
	}
	if !strings.Contains(strings.Join(logs, "\n"), "searching a, b side by side: their directives cap them at 12 connections together") {
		t.Errorf("log does not say the two were searched side by side:\n%s", strings.Join(logs, "\n"))
	}
}
