package loadcheck

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/provider"
	"github.com/loadcheck/loadcheck/scenarios"
)

// TestRunRefusesContradictions: a library caller of Run gets the same
// refusal the CLI gives, before any server starts: a config whose
// MaxRequestWorkers is above ServerLimit x ThreadsPerChild would run with
// other values than the ones written.
func TestRunRefusesContradictions(t *testing.T) {
	sc := scenarios.Scenario{Name: "lib", Load: scenarios.DefaultLoad(), Thresholds: scenarios.DefaultThresholds(),
		Configs: []apache.Config{{Name: "mine", MPM: "event", Directives: []apache.Directive{{Name: "ServerLimit", Value: "10"}, {Name: "ThreadsPerChild", Value: "25"}, {Name: "MaxRequestWorkers", Value: "4000"}}}}}
	_, err := Run(context.Background(), sc, WithProvider(panicProvider{}))
	if err == nil || !strings.Contains(err.Error(), "config contradicts itself") || !strings.Contains(err.Error(), "above ServerLimit x ThreadsPerChild = 10 x 25 = 250") {
		t.Errorf("Run: %v, want the contradiction named", err)
	}
}

// panicProvider fails a test that reaches it: nothing may start.
type panicProvider struct{ provider.Provider }

func (panicProvider) Describe() provider.Description { panic("the provider was reached") }

// TestRunRefusesProtocol: an HTTP/2 load is refused, before any server
// starts, against a preset that does not speak it, h2 against plain
// HTTP and h2c against HTTPS; a config's own load entry is checked as
// the scenario's is.
func TestRunRefusesProtocol(t *testing.T) {
	preset := func(name, tls string, l apache.ConfigLoad) apache.Config {
		c, err := apache.Preset(name, 100)
		if err != nil {
			t.Fatal(err)
		}
		c.TLS, c.Load = tls, l
		return c
	}
	h2 := apache.ConfigLoad{Protocol: "h2"}
	for _, tc := range []struct {
		cfg  apache.Config
		want string
	}{
		{preset("event-tuned", apache.TLSKeyECDSA, h2), "config event-tuned does not speak HTTP/2 (no h2 or h2c in its Protocols): run event-tuned-h2"},
		{preset("event-tuned-h2", "", h2), "config event-tuned-h2: protocol h2 is HTTP/2 over TLS: it needs an https:// target (--tls for the httpd loadcheck starts)"},
		{preset("event-tuned-h2", apache.TLSKeyECDSA, apache.ConfigLoad{Protocol: "h2c"}), "config event-tuned-h2: protocol h2c is HTTP/2 over plain TCP: it needs an http:// target"},
		{preset("event-tuned-h2", "", apache.ConfigLoad{Streams: 6}), "config event-tuned-h2's load: streams: HTTP/1.1 sends one request at a time"},
	} {
		sc := scenarios.Scenario{Name: "lib", Load: scenarios.DefaultLoad(), Thresholds: scenarios.DefaultThresholds(), Configs: []apache.Config{tc.cfg}}
		if _, err := Run(context.Background(), sc, WithProvider(panicProvider{})); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run: %v, want %q", err, tc.want)
		}
	}
	ok := preset("event-tuned-h2", apache.TLSKeyECDSA, h2)
	if err := Validate(scenarios.Scenario{Name: "lib", Load: scenarios.DefaultLoad(), Thresholds: scenarios.DefaultThresholds(), Configs: []apache.Config{ok}}); err != nil {
		t.Errorf("event-tuned-h2 over TLS, spoken h2: %v", err)
	}
}

// TestRolloutHowsAreSwitches pins the scenario's words for a switch to
// the provider's, which Rollout hands them to as they are (scenarios
// imports no provider).
func TestRolloutHowsAreSwitches(t *testing.T) {
	want := []string{provider.SwitchGraceful, provider.SwitchRestart, provider.SwitchStopStart}
	if !slices.Equal(scenarios.RolloutHows, want) {
		t.Errorf("scenarios.RolloutHows %v, provider's switches %v", scenarios.RolloutHows, want)
	}
}

// The configs a capacity search runs side by side: those whose
// directives cap them at scenarios.SideBySideConns connections and
// requests per second together, in the scenario's order; none in closed
// loop, with one_at_a_time, or when only one qualifies.
func TestCapacitySideBySide(t *testing.T) {
	var six []apache.Config
	for _, name := range []string{"prefork-stock", "worker-stock", "event-stock", "prefork-tuned", "worker-tuned", "event-tuned"} {
		c, err := apache.Preset(name, 4000)
		if err != nil {
			t.Fatal(err)
		}
		six = append(six, c)
	}
	for _, tc := range []struct {
		name       string
		rate       float64
		max        int
		oneAtATime bool
		want       []string
	}{
		{"the six presets, 1 req/s", 1, 8000, false, []string{"prefork-stock", "worker-stock", "event-stock"}}, // 150 + 150 + 450
		{"2 req/s: 1500 req/s with event-stock", 2, 8000, false, []string{"prefork-stock", "worker-stock"}},
		{"closed loop", 0, 8000, false, nil},
		{"one at a time", 1, 8000, true, nil},
		{"a max below event-stock's 450: not capped by it", 1, 400, false, []string{"prefork-stock", "worker-stock"}},
		{"5 req/s: one alone is no group", 5, 8000, false, nil},
	} {
		sc := scenarios.Scenario{Configs: six, Load: scenarios.DefaultLoad()}
		sc.Load.RatePerConn = tc.rate
		b := scenarios.DefaultCapacity()
		b.Max, b.OneAtATime = tc.max, tc.oneAtATime
		c := &capacityRun{sc: sc, bounds: b}
		_, names, _ := c.sideBySide()
		if !slices.Equal(names, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, names, tc.want)
		}
	}
}
