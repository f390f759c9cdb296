package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/loadcheck/loadcheck/apache"
)

// How a rollout switches (Rollout.How); the providers take the same words.
const (
	RolloutGraceful  = "graceful"   // apachectl -k graceful (SIGUSR1)
	RolloutRestart   = "restart"    // apachectl -k restart (SIGHUP)
	RolloutStopStart = "stop-start" // -k graceful-stop (SIGWINCH), then a start
)

// RolloutHows are the ways a rollout switches.
var RolloutHows = []string{RolloutGraceful, RolloutRestart, RolloutStopStart}

// DefaultRolloutAt is when in the measured window a rollout switches
// unless told.
const DefaultRolloutAt = 5 * time.Second

// rolloutDrain is the least of the window a switch must leave after it,
// for the old generation to drain.
const rolloutDrain = 3 * time.Second

// RolloutSection is a scenario file's rollout: section:
//
//	configs:
//	  - preset: prefork-stock      # the running config: exactly one
//	rollout:
//	  to: {preset: event-tuned}    # a config entry, as in configs
//	  how: stop-start              # graceful, restart or stop-start (default:
//	                               # graceful, stop-start when the MPM changes)
//	  at: 5s                       # into the measured window (default 5s)
type RolloutSection struct {
	To  ConfigSpec    `yaml:"to"`
	How string        `yaml:"how"`
	At  time.Duration `yaml:"at"`
}

// DefaultRolloutHow is how a rollout from one config to another switches
// unless told: graceful, or stop-start when the MPM changes (httpd
// changes it no other way).
func DefaultRolloutHow(from, to apache.Config) string {
	if from.MPM != to.MPM {
		return RolloutStopStart
	}
	return RolloutGraceful
}

// CheckRollout refuses what s's rollout cannot rehearse, naming the
// field (configs, rollout.to, rollout.how, rollout.at, load.duration,
// repeat, arrival_check); nil when s has no rollout.
func (s Scenario) CheckRollout() error {
	r := s.Rollout
	if r == nil {
		return nil
	}
	bad := func(field, format string, a ...any) error {
		return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	if len(s.Configs) != 1 {
		return bad("configs", "a rollout runs one config (the running one) and switches it: got %d configs", len(s.Configs))
	}
	from, window := s.Configs[0], s.Load.Duration
	switch {
	case s.Repeats() > 1:
		return bad("repeat", "a rollout runs once: run it again to repeat it")
	case s.ArrivalCheck:
		return bad("arrival_check", "applies to a run of configs, not to a rollout")
	case !slices.Contains(RolloutHows, r.How):
		return bad("rollout.how", "unknown switch %q: use %s", r.How, strings.Join(RolloutHows, ", "))
	case sameConfig(from, r.To):
		return bad("rollout.to", "%s is both the running config and the one switched to: a rollout switches to another config", from.Name)
	case from.Tree != nil || r.To.Tree != nil:
		return bad("rollout.to", "switching config trees is not built yet: a rollout runs presets and config files")
	case from.MPM != r.To.MPM && r.How != RolloutStopStart:
		return bad("rollout.how", "%s runs %s and %s %s: httpd cannot change its MPM on a %s signal (it exits: AH00534 \"The MPM cannot be changed during restart\"); use %s (graceful-stop, then a start)",
			from.Name, from.MPM, r.To.Name, r.To.MPM, r.How, RolloutStopStart)
	case r.At <= 0 || r.At >= window:
		return bad("rollout.at", "the switch at %s must fall inside the measured window (%s): switch earlier, or make the window longer", r.At, window)
	case window-r.At < rolloutDrain:
		return bad("rollout.at", "the switch at %s leaves %s of the %s window after it: leave %s or more for the old generation to drain (switch earlier, or make the window longer)", r.At, window-r.At, window, rolloutDrain)
	}
	return nil
}

// sameConfig reports whether a and b are the same config: the same
// file, or the same preset with the same directives.
func sameConfig(a, b apache.Config) bool {
	if a.File != "" || b.File != "" {
		return a.File == b.File && slices.Equal(a.Directives, b.Directives)
	}
	return a.Name == b.Name && a.MPM == b.MPM && slices.Equal(a.Directives, b.Directives)
}
