package loadcheck

import (
	"context"
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
