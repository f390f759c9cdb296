package loadcheck

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/provider"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

// RolloutSpec is the switch a rollout rehearses: to config To, How
// (provider.SwitchGraceful, SwitchRestart or SwitchStopStart, the only
// one that can change the MPM), At into the measured window.
type RolloutSpec struct {
	To  apache.Config
	How string
	At  time.Duration
}

// Rollout rehearses a deploy under load: sc's one config (the running
// one) takes sc's load and, At into the measured window, the same server
// switches to spec.To the way production does (apachectl -k graceful, or
// -k restart). The result's config has Rollout: per phase (before,
// switching, after) the answers, drops by class and reconnects, when the
// old generation drained, httpd's scoreboard-full lines, and whether it
// was zero-loss. The verdict is the rollout's: every request due in the
// window answered in time (connections the switch closed may reconnect),
// and the p99 and drop thresholds. To is checked with httpd -t before any
// load; a switch httpd cannot make by signal (another MPM, unless stop-start)
// is refused.
func Rollout(ctx context.Context, sc scenarios.Scenario, spec RolloutSpec, opts ...Option) (*results.File, error) {
	if err := ValidateRollout(sc, spec); err != nil {
		return nil, err
	}
	sc.Thresholds.MinServedPct = 0 // a connection the switch closed may reconnect; zero-loss judges the requests
	return Run(ctx, sc, append(opts, func(s *settings) { s.rollout = &spec })...)
}

// ValidateRollout refuses what a rollout cannot rehearse, before anything
// starts.
func ValidateRollout(sc scenarios.Scenario, spec RolloutSpec) error {
	if len(sc.Configs) != 1 {
		return fmt.Errorf("a rollout runs one config and switches it: got %d configs", len(sc.Configs))
	}
	from := sc.Configs[0]
	if _, err := provider.SwitchSignal(spec.How); err != nil {
		return err
	}
	switch {
	case from.MPM != spec.To.MPM && spec.How != provider.SwitchStopStart:
		return fmt.Errorf("%s runs %s and %s %s: httpd cannot change its MPM on a %s (it exits: AH00534 \"The MPM cannot be changed during restart\"); rehearse it with --how %s (graceful-stop, then a start)", from.Name, from.MPM, spec.To.Name, spec.To.MPM, spec.How, provider.SwitchStopStart)
	case from.Tree != nil || spec.To.Tree != nil:
		return errors.New("switching config trees is not built yet: a rollout runs presets and config files")
	case spec.At <= 0 || spec.At >= sc.Load.Duration:
		return fmt.Errorf("the switch at %s must fall inside the measured window (%s): give a longer --duration or an earlier --switch-at", spec.At, sc.Load.Duration)
	case sc.Load.Duration-spec.At < 3*time.Second:
		return fmt.Errorf("the switch at %s leaves %s of the window after it: leave 3 s or more, for the old generation to drain (a longer --duration)", spec.At, sc.Load.Duration-spec.At)
	}
	return nil
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

// newSwitcher prepares spec.To on srv before any load.
func (s *settings) newSwitcher(ctx context.Context, srv provider.Server, label string) (*switcher, error) {
	sw, ok := srv.(provider.Switcher)
	if !ok {
		return nil, fmt.Errorf("the %s provider cannot switch a running server's config: use the docker or the local provider", s.desc.Name)
	}
	if err := sw.Prepare(ctx, s.rollout.To); err != nil {
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
