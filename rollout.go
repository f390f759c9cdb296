package loadcheck

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/provider"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

// RolloutSpec is the switch a rollout rehearses (scenarios.Rollout): to
// config To, How (provider.SwitchGraceful, SwitchRestart or
// SwitchStopStart, the only one that can change the MPM), At into the
// measured window.
type RolloutSpec = scenarios.Rollout

// Rollout rehearses a deploy under load: sc's one config (the running
// one) takes sc's load and, At into the measured window, the same server
// switches to spec.To the way production does (apachectl -k graceful,
// -k restart, or -k graceful-stop and a start). It is Run with
// sc.Rollout set to spec; a scenario whose Rollout is set runs the same
// through Run. The result's config has Rollout: per phase (before,
// switching, after) the answers, drops by class and reconnects, when the
// old generation drained, when the load recovered, httpd's scoreboard-full
// lines, and whether it was zero-loss. The verdict is the rollout's:
// every request due in the window answered in time (connections the
// switch closed may reconnect), and the p99 and drop thresholds. To is
// checked with httpd -t before any load; a switch httpd cannot make (another
// MPM by signal) is refused.
func Rollout(ctx context.Context, sc scenarios.Scenario, spec RolloutSpec, opts ...Option) (*results.File, error) {
	sc.Rollout = &spec
	return Run(ctx, sc, opts...)
}

// ValidateRollout refuses what a rollout cannot rehearse, before anything
// starts (scenarios.Scenario.CheckRollout with spec as sc's rollout): the
// error names the scenario field (rollout.how, rollout.at, ...).
func ValidateRollout(sc scenarios.Scenario, spec RolloutSpec) error {
	sc.Rollout = &spec
	return sc.CheckRollout()
}

// switcher prepares the running server's switch and signals it At into
// the measured window.
type switcher struct {
	spec  RolloutSpec
	sw    provider.Switcher
	once  sync.Once
	mu    sync.Mutex
	timer *time.Timer
	at    time.Time // when the signal went; zero: not yet
	err   error
}

// newSwitcher prepares spec.To on srv before any load; proxy are the
// running config's routes to the workload's backend, which the new config
// keeps (the same backend serves both).
func (s *settings) newSwitcher(ctx context.Context, srv provider.Server, label string, proxy []apache.Proxy) (*switcher, error) {
	sw, ok := srv.(provider.Switcher)
	if !ok {
		return nil, fmt.Errorf("the %s provider cannot switch a running server's config: use the docker or the local provider", s.desc.Name)
	}
	to := s.rollout.To
	to.Proxy = append(slices.Clone(to.Proxy), proxy...)
	if err := sw.Prepare(ctx, to); err != nil {
		return nil, err
	}
	s.logf("%s %s checked (httpd -t); the switch (%s) comes %s into the measured window", label, s.rollout.To.Name, s.rollout.How, s.rollout.At)
	return &switcher{spec: *s.rollout, sw: sw}, nil
}

// progress wraps p: the first second of the measured window starts the
// clock of the switch.
func (w *switcher) progress(ctx context.Context, p func(bench.Progress), logf func(string, ...any), label string) func(bench.Progress) {
	return func(pr bench.Progress) {
		if p != nil {
			p(pr)
		}
		if pr.Phase != bench.PhaseMeasure {
			return
		}
		w.once.Do(func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.timer = time.AfterFunc(w.spec.At, func() {
				w.mu.Lock()
				defer w.mu.Unlock()
				w.at = time.Now()
				w.err = w.sw.Switch(ctx, w.spec.How)
				logf("%s signalled httpd: %s to %s", label, w.spec.How, w.spec.To.Name)
			})
		})
	}
}

// done stops a switch that has not come, and says when it came.
func (w *switcher) done() (time.Time, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
	if w.at.IsZero() && w.err == nil {
		return w.at, errors.New("the switch did not happen inside the measured window")
	}
	return w.at, w.err
}

// judgeRollout makes a rollout's verdict: zero-loss, besides the
// thresholds Judge applied.
func judgeRollout(run *results.Run) {
	r := run.Rollout
	if r == nil || r.ZeroLoss || run.Verdict == results.Error || run.Verdict == results.Inconclusive {
		return
	}
	run.Verdict = results.Fail
	run.Reasons = append(run.Reasons, "rollout not zero-loss: "+r.Why)
}
