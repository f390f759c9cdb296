// Package scenarios holds what a run is asked to do: the load shape, the
// httpd configs to compare and the thresholds that decide pass or fail, plus
// the built-in MPM presets.
package scenarios

import (
	"fmt"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/bench"
)

// Scenario is one complete request: which image, which configs, what load
// and what counts as a pass.
type Scenario struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"` // the scenario file's description
	Image       string          `json:"image,omitempty"`
	Layout      string          `json:"layout,omitempty"` // "official", "debian" or "" (detect from the image)
	Load        Load            `json:"load"`
	Configs     []apache.Config `json:"configs"`
	Thresholds  Thresholds      `json:"thresholds"`
	// Repeat runs every config this many times against a fresh server,
	// all configs once, then all again (0 or 1: once).
	Repeat int `json:"repeat,omitempty"`
	// ArrivalCheck runs each config that did not pass once more, with its
	// connections arriving four times more slowly, and says whether the
	// verdict depends on the arrival rate.
	ArrivalCheck bool `json:"arrival_check,omitempty"`
	// Workload is what the servers serve beyond the test page.
	Workload Workload `json:"workload,omitzero"`
	// Rollout, when set, rehearses a deploy: the scenario's one config
	// runs, and the same server switches to another config inside the
	// measured window (loadcheck rollout, or a rollout: section).
	Rollout *Rollout `json:"rollout,omitempty"`
}

// Rollout is the switch a rollout rehearses: to config To, How
// (graceful, restart or stop-start: the only one that can change the MPM),
// At into the measured window.
type Rollout struct {
	To  apache.Config `json:"to"`
	How string        `json:"how"`
	At  time.Duration `json:"at_ns"`
}

// MaxRepeat bounds Repeat: each repeat is a whole run of every config.
const MaxRepeat = 100

// Repeats is how many times each config runs: Repeat, at least once.
func (s Scenario) Repeats() int { return max(s.Repeat, 1) }

// Load is the shape of the traffic the generator offers to each config:
// one model, shared with the generator and its shards.
type Load = bench.Load

// LoadFor is l as it runs against c: with the protocol, streams and rate
// per connection c's own load entry changes (apache.Config.Load).
func LoadFor(l Load, c apache.Config) Load {
	o := c.Load
	if o.Protocol != "" {
		l.Protocol = o.Protocol
		if o.Protocol == bench.ProtoHTTP1 {
			l.Streams = 0
		}
	}
	if o.Streams != 0 {
		l.Streams = o.Streams
	}
	if o.RatePerConn != 0 {
		l.RatePerConn = o.RatePerConn
	}
	return l
}

// FieldError is a bad value of one field, named as in a scenario file.
type FieldError = bench.FieldError

// Thresholds decide a config's verdict.
type Thresholds struct {
	// MinServedPct is the share of target connections that must be served.
	MinServedPct float64 `json:"min_served_pct" yaml:"min_served_pct"`
	// MaxDroppedPct is the largest share of sent requests that may be dropped.
	MaxDroppedPct float64 `json:"max_dropped_pct" yaml:"max_dropped_pct"`
	// MaxP99 is the largest acceptable 99th-percentile latency.
	MaxP99 time.Duration `json:"max_p99_ns" yaml:"max_p99"`
}

// DefaultLoad is the load of the README's first command.
func DefaultLoad() Load {
	return Load{
		Connections: 4000,
		Ramp:        4 * time.Second,
		// Tuned worker and event need 6 to 35 s on 2 shared cores to spawn
		// their processes and stop closing keep-alive connections: the
		// warm-up ends once the server has settled (at most 60 s), which
		// gave the fixed 30 s's verdicts for the six presets in
		// bench/perf/warmup-auto.sh (docs/findings/warmup-auto.md).
		WarmUp:      bench.WarmUpAuto,
		Duration:    6 * time.Second,
		RatePerConn: 1,
		Timeout:     2 * time.Second,
		Paths:       []string{"/"},
	}
}

// DefaultThresholds is the default pass: every connection served, at most
// 0.1 % of requests dropped, p99 at most 1 s.
func DefaultThresholds() Thresholds {
	return Thresholds{MinServedPct: 100, MaxDroppedPct: 0.1, MaxP99: time.Second}
}

func bad(field, format string, a ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// Validate reports the first problem with the thresholds, naming the field.
func (t Thresholds) Validate() error {
	switch {
	case t.MinServedPct < 0 || t.MinServedPct > 100:
		return bad("min_served_pct", "must be within 0..100, got %g", t.MinServedPct)
	case t.MaxDroppedPct < 0 || t.MaxDroppedPct > 100:
		return bad("max_dropped_pct", "must be within 0..100, got %g", t.MaxDroppedPct)
	case t.MaxP99 <= 0:
		return bad("max_p99", "must be positive, got %s", t.MaxP99)
	}
	return nil
}

// Validate reports the first problem with the capacity search, naming the field.
func (c Capacity) Validate() error {
	switch {
	case c.Start <= 0:
		return bad("start", "must be at least 1, got %d", c.Start)
	case c.Max < c.Start:
		return bad("max", "must be at least start (%d), got %d", c.Start, c.Max)
	case c.PrecisionPct <= 0 || c.PrecisionPct >= 100:
		return bad("precision_pct", "must be within 0..100 (exclusive), got %g", c.PrecisionPct)
	case c.Budget <= 0:
		return bad("budget", "must be positive, got %s", c.Budget)
	case c.HostMemory < 0:
		return bad("host_memory", "must not be negative")
	case c.Search != "" && c.Search != SearchStepped && c.Search != SearchBisect:
		return bad("search", "must be %s or %s, got %q", SearchStepped, SearchBisect, c.Search)
	case c.StepFactor != 0 && (c.StepFactor < 2 || c.StepFactor > 16):
		return bad("step_factor", "must be within 2..16 (each step multiplies the last), got %d", c.StepFactor)
	case c.Arrival != "" && c.Arrival != ArrivalAlways && c.Arrival != ArrivalNearTarget && c.Arrival != ArrivalNever:
		return bad("arrival", "must be %s, %s or %s, got %q", ArrivalAlways, ArrivalNearTarget, ArrivalNever, c.Arrival)
	}
	return nil
}
