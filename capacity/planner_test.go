package capacity

import (
	"strings"
	"testing"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

// TestAnswer: for a 4000-connection target, the configs that hold it come
// first, most headroom first; one short of it whose suggestion passed its
// confirming run is named as held with the change; each card says in
// words what limited it: the directives, event's per-process cap, the
// generator, memory, or this host. One that held 8000 but failed at the
// target on a fresh server is short of it.
func TestAnswer(t *testing.T) {
	cfg := func(name string) apache.Config {
		c, err := apache.Preset(name, 4000)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	failed := func(n int, srv *results.Server) Probe {
		return Probe{Connections: n, Outcome: ProbeFail, Run: results.Run{Server: srv}}
	}
	f := &File{Configs: []ConfigResult{
		{Config: cfg("worker-tuned"), MaxPass: 4400, FirstFail: 4600, DirectiveLimit: 8000, DirectiveHow: "MaxRequestWorkers", Probes: []Probe{failed(4600, &results.Server{})}},
		{Config: cfg("event-tuned"), MaxPass: 5200, FirstFail: 0, ClientLimitedAt: 5400},
		{Config: cfg("event-stock"), MaxPass: 437, FirstFail: 468, DirectiveLimit: 450, DirectiveHow: "MaxRequestWorkers x (AsyncRequestWorkerFactor 2 + 1)",
			Suggestion: &Suggestion{Target: 4000, Verdict: "pass", Directives: []apache.Directive{{Name: "MaxRequestWorkers", Value: "1475"}}}},
		{Config: cfg("prefork-tuned"), MaxPass: 1200, FirstFail: 1300, DirectiveLimit: 8000, Probes: []Probe{failed(1300, &results.Server{OOMKills: 3})}},
		{Config: cfg("worker-stock"), MaxPass: 900, FirstFail: 1000, DirectiveLimit: 8000, Repeat: "the limit held again when the probe at 900 was repeated",
			Probes: []Probe{failed(1000, &results.Server{SpareStops: 2})}, ArrivalSkipped: "capacity.arrival: never"},
		// Held 8000, then failed at the target on a fresh server.
		{Config: apache.Config{Name: "event-odd", MPM: "event"}, MaxPass: 8000, FirstFail: 0, DirectiveLimit: 24000,
			AtTarget: &Probe{Connections: 4000, Outcome: ProbeFail, Reason: "event shut down kept-alive connections"}},
	}}
	f.Scenario = scenarios.Scenario{Load: scenarios.DefaultLoad(), Thresholds: scenarios.DefaultThresholds()}
	f.Scenario.Load.Connections = 4000
	a := f.Answer()
	if strings.Join(a.Holding, ",") != "event-tuned,worker-tuned" || len(a.Short) != 4 {
		t.Errorf("holding %v, short %v: want event-tuned (+30 %%) before worker-tuned (+10 %%), three short", a.Holding, a.Short)
	}
	want := "For 4000 connections on this host: holds it: event-tuned (+30 %), worker-tuned (+10 %) (headroom above the target); held with its suggested change, confirmed: event-stock; 3 short of it."
	if a.Line != want {
		t.Errorf("line\n  %s\nwant\n  %s", a.Line, want)
	}
	limited := map[string]string{}
	for _, k := range a.Cards {
		limited[k.Config] = k.LimitedBy
	}
	for name, words := range map[string]string{
		"worker-tuned":  "this host, below the directives",
		"event-tuned":   "the generator on this host",
		"event-stock":   "its directives: MaxRequestWorkers x",
		"prefork-tuned": "memory",
		"worker-stock":  "this host, below the directives",
	} {
		if !strings.HasPrefix(limited[name], words) {
			t.Errorf("%s: limited by %q, want it to begin %q", name, limited[name], words)
		}
	}
	// worker-stock's failed probe saw spare processes stopped, but it is
	// not event: its cap is not event's.
	ev := a.Cards[2]
	if ev.HeadroomPct != -89.1 || ev.MeetsTarget || ev.Suggestion != "PASS at 4000 with MaxRequestWorkers 1475" || ev.Sure != "one probe at the limit" {
		t.Errorf("event-stock card %+v", ev)
	}
	if h := a.Cards[2].Headroom(); h != "-89.1 % against the target" {
		t.Errorf("event-stock headroom %q", h)
	}
	if ws := a.Cards[4]; ws.Sure != "the limit held twice; not probed arriving faster: capacity.arrival: never" {
		t.Errorf("worker-stock: sure %q", ws.Sure)
	}
	if et := a.Cards[5]; et.MeetsTarget || !strings.HasSuffix(et.Sure, "; fail at the target (4000) on a fresh server: not one knee") || et.Headroom() != "no headroom: failed at the target itself" {
		t.Errorf("a config that held 8000 and failed at the target: %+v", et)
	}
	if et := a.Cards[1]; !et.AtLeast || !et.MeetsTarget {
		t.Errorf("event-tuned, client-limited above the target: %+v", et)
	}
}
