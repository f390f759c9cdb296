// Package scenarios holds what a run is asked to do: the load shape, the
// httpd configs to compare and the thresholds that decide pass or fail, plus
// the built-in MPM presets.
package scenarios

import (
	"fmt"
	"strings"
	"time"

	"github.com/loadcheck/loadcheck/apache"
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
}

// Load is the shape of the traffic the generator offers to each config.
type Load struct {
	// Connections is the exact number of distinct keep-alive TCP connections.
	Connections int `json:"connections" yaml:"connections"`
	// Ramp spreads the connection opens evenly over this time.
	Ramp time.Duration `json:"ramp_ns" yaml:"ramp"`
	// WarmUp runs after the ramp; its requests are sent but not measured.
	WarmUp time.Duration `json:"warmup_ns" yaml:"warmup"`
	// Duration is the measured window.
	Duration time.Duration `json:"duration_ns" yaml:"duration"`
	// ConnectRate, when positive, opens this many connections per second
	// and replaces Ramp.
	ConnectRate float64 `json:"connect_rate,omitempty" yaml:"connect_rate"`
	// RatePerConn is requests per second on each connection (open model).
	RatePerConn float64 `json:"rate_per_conn" yaml:"rate_per_conn"`
	// ClosedLoop sends each connection's next request as soon as the last
	// response arrives, like wrk; RatePerConn is then 0.
	ClosedLoop bool `json:"closed_loop,omitempty" yaml:"closed_loop"`
	// Timeout bounds each request, counted from its intended send time.
	Timeout time.Duration `json:"timeout_ns" yaml:"timeout"`
	// Request shape: Paths are used in turn; Method defaults to GET;
	// Headers are "Name: value" lines.
	Method  string   `json:"method,omitempty" yaml:"method"`
	Paths   []string `json:"paths" yaml:"paths"`
	Headers []string `json:"headers,omitempty" yaml:"headers"`
	Body    string   `json:"body,omitempty" yaml:"body"`
}

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
		// Tuned worker and event need 15 to 35 s on 2 shared cores to spawn their
		// processes and stop closing keep-alive connections; the series in the
		// JSON shows when a config settled.
		WarmUp:      30 * time.Second,
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

// MeasureStart is when the measured window begins, counted from the first
// connection open: the ramp (or the time the connect rate needs) plus the
// warm-up.
func (l Load) MeasureStart() time.Duration {
	ramp := l.Ramp
	if l.ConnectRate > 0 {
		ramp = time.Duration(float64(l.Connections) / l.ConnectRate * float64(time.Second))
	}
	return ramp + l.WarmUp
}

// FieldError is a bad value of one field, named as in a scenario file.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func bad(field, format string, a ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// Validate reports the first problem with the load, naming the field.
func (l Load) Validate() error {
	switch {
	case l.Connections <= 0:
		return bad("connections", "must be at least 1, got %d", l.Connections)
	case l.Ramp < 0:
		return bad("ramp", "must not be negative, got %s", l.Ramp)
	case l.WarmUp < 0:
		return bad("warmup", "must not be negative, got %s", l.WarmUp)
	case l.Duration <= 0:
		return bad("duration", "must be positive, got %s", l.Duration)
	case l.ConnectRate < 0:
		return bad("connect_rate", "must not be negative, got %g", l.ConnectRate)
	case l.ClosedLoop && l.RatePerConn != 0:
		return bad("rate_per_conn", "closed loop sends as fast as responses come back: leave the rate per connection unset (got %g)", l.RatePerConn)
	case !l.ClosedLoop && l.RatePerConn <= 0:
		return bad("rate_per_conn", "must be positive, got %g (or choose closed loop)", l.RatePerConn)
	case l.Timeout <= 0:
		return bad("timeout", "must be positive, got %s", l.Timeout)
	case len(l.Paths) == 0:
		return bad("paths", "give at least one request path, for example /")
	}
	for _, p := range l.Paths {
		if !strings.HasPrefix(p, "/") {
			return bad("paths", "a path must start with /, got %q", p)
		}
	}
	for _, h := range l.Headers {
		if !strings.Contains(h, ":") {
			return bad("headers", "%q: want \"Name: value\"", h)
		}
	}
	return nil
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
	}
	return nil
}
