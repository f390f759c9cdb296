package bench

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Load is the shape of the traffic offered to one server, the one model of
// a load: scenario files, the generator and its shards all use it. The
// JSON names are those of the result schema (loadcheck.result/v1).
type Load struct {
	// Connections is the exact number of distinct keep-alive TCP connections.
	Connections int `json:"connections" yaml:"connections"`
	// Ramp spreads the connection opens evenly over this time.
	Ramp time.Duration `json:"ramp_ns" yaml:"ramp"`
	// WarmUp runs after the ramp; its requests are sent but not measured.
	// WarmUpAuto (written "auto") ends it once the server has settled, as
	// the caller judges and tells the generator (Options.MeasureFrom),
	// and at WarmUpMax at the latest.
	WarmUp    time.Duration `json:"warmup_ns" yaml:"warmup"`
	WarmUpMax time.Duration `json:"warmup_max_ns,omitempty" yaml:"warmup_max"`
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
	// RequestsPerConnection, when positive, churns the connections as
	// browsers and proxies do: each closes its socket itself after that
	// many answers and opens a new one for its next request
	// (Connections.ClientReopens, never a failure), so that httpd's
	// MaxConnectionsPerChild recycles processes inside the window. 0
	// keeps every connection open.
	RequestsPerConnection int `json:"requests_per_connection,omitempty" yaml:"requests_per_connection"`
	// Timeout bounds each request, counted from its intended send time.
	Timeout time.Duration `json:"timeout_ns" yaml:"timeout"`
	// Request shape: Paths are used in turn; Method defaults to GET;
	// Headers are "Name: value" lines.
	Method  string   `json:"method,omitempty" yaml:"method"`
	Paths   []string `json:"paths" yaml:"paths"`
	Headers []string `json:"headers,omitempty" yaml:"headers"`
	Body    string   `json:"body,omitempty" yaml:"body"`
	// NoTLSResume makes every TLS handshake of an https:// load a full
	// one: no session resumption (it is on by default, as in browsers).
	NoTLSResume bool `json:"no_tls_resume,omitempty" yaml:"no_tls_resume"`
	// Insecure loads an https:// server whose certificate cannot be
	// verified. Without it one handshake before the load verifies the
	// certificate, and a failure stops the run (see CheckTLS).
	Insecure bool `json:"insecure,omitempty" yaml:"insecure"`
	// ServerKeepAlive is the server's keep-alive timeout, when known (the
	// config's KeepAliveTimeout): a connection idle at least this long and
	// found closed before its next request is opened again without a
	// failure (Connections.IdleReopens). Set by loadcheck per config, not
	// in scenario files.
	ServerKeepAlive time.Duration `json:"server_keepalive_ns,omitempty" yaml:"-"`
	// Mix, when set, replaces Paths and Method: a request mix read from
	// an access log (ReadMix), each entry sent in proportion to its
	// weight, every request taking the next of one cycle shared by all
	// connections; latency and drops are also kept per path class
	// (Result.Classes).
	Mix []MixEntry `json:"mix,omitempty" yaml:"-"`
	// Slow makes a share of the connections slow readers; results are
	// then kept for fast and slow clients apart (Result.Groups). Set from
	// a scenario's workload.slow_clients.
	Slow SlowClients `json:"slow_clients,omitzero" yaml:"-"`
	// Engine is how the generator drives the connections: EngineLoop (a
	// few epoll event loops), EngineGoroutine (a goroutine each), or ""
	// and EngineAuto: the event loops when they can (plain HTTP without
	// slow clients). Not part of the traffic's shape, it travels with it
	// to the shards; set by run --engine, not in scenario files.
	Engine string `json:"engine,omitempty" yaml:"-"`
	// Protocol is what each connection speaks: "" or ProtoHTTP1
	// (HTTP/1.1 keep-alive), ProtoH2 (HTTP/2 negotiated by ALPN over
	// TLS: an https:// target) or ProtoH2C (HTTP/2 with prior knowledge
	// over plain TCP: an http:// target).
	Protocol string `json:"protocol,omitempty" yaml:"protocol"`
	// Streams is how many requests one HTTP/2 connection keeps in flight
	// at most, as concurrent streams; its schedule's requests due while
	// that many are unanswered wait for one to end (queue_timeout past
	// their timeout). 0 means 1. HTTP/1.1 sends one at a time.
	Streams int `json:"streams,omitempty" yaml:"streams"`
}

// The protocols a load speaks (Load.Protocol).
const (
	ProtoHTTP1 = "http/1.1"
	ProtoH2    = "h2"
	ProtoH2C   = "h2c"
)

// HTTP2 reports whether the load speaks HTTP/2 (h2 or h2c).
func (l Load) HTTP2() bool { return l.Protocol == ProtoH2 || l.Protocol == ProtoH2C }

// StreamsPerConn is Streams, at least 1.
func (l Load) StreamsPerConn() int { return max(l.Streams, 1) }

// WarmUpAuto as Load.WarmUp ends the warm-up when the server has settled.
const WarmUpAuto time.Duration = -1

// DefaultWarmUpMax caps an auto warm-up when Load.WarmUpMax is 0.
const DefaultWarmUpMax = 60 * time.Second

// MeasureStart is when the measured window begins, counted from the first
// connection open: the ramp (or the time the connect rate needs) plus the
// warm-up; for an auto warm-up, the latest it can begin.
func (l Load) MeasureStart() time.Duration {
	return l.ramp() + l.WarmUpLimit()
}

// WarmUpLimit is the fixed warm-up, or an auto warm-up's cap.
func (l Load) WarmUpLimit() time.Duration {
	switch {
	case l.WarmUp != WarmUpAuto:
		return l.WarmUp
	case l.WarmUpMax > 0:
		return l.WarmUpMax
	}
	return DefaultWarmUpMax
}

// DescribeWarmUp is the warm-up as a person writes it: "30s", or "auto
// (at most 1m0s)".
func (l Load) DescribeWarmUp() string {
	if l.WarmUp == WarmUpAuto {
		return fmt.Sprintf("auto (at most %s)", l.WarmUpLimit())
	}
	return l.WarmUp.String()
}

// RampTime is the time over which connections open: Ramp, or the time
// ConnectRate needs.
func (l Load) RampTime() time.Duration { return l.ramp() }

// ramp is the time over which connections open.
func (l Load) ramp() time.Duration {
	if l.ConnectRate > 0 {
		return time.Duration(float64(l.Connections) / l.ConnectRate * float64(time.Second))
	}
	return l.Ramp
}

// maxStreams bounds Load.Streams: more than HTTP/2 servers allow by
// default (httpd's H2MaxSessionStreams is 100).
const maxStreams = 1000

// minAutoWarmUp is the smallest cap of an auto warm-up worth its name.
const minAutoWarmUp = 5 * time.Second

// minSlots is the fewest requests a connection must have in the measured
// window (open model).
const minSlots = 2

// loopRefusal names what of the load the epoll engine does not drive;
// "" when it drives it all.
func (l Load) loopRefusal() string {
	if l.HTTP2() {
		return "HTTP/2"
	}
	return ""
}

// CheckEngine reports an engine asked for that cannot drive the load:
// epoll over HTTP/2; and a protocol the target's scheme cannot carry.
func (l Load) CheckEngine(https bool) error {
	if (l.Protocol == ProtoH2 && !https) || (l.Protocol == ProtoH2C && https) {
		return &ProtocolError{Protocol: l.Protocol}
	}
	if why := l.loopRefusal(); l.Engine == EngineLoop && why != "" {
		return fmt.Errorf("engine %s does not drive %s: use engine %s or %s", EngineLoop, why, EngineAuto, EngineGoroutine)
	}
	return nil
}

// ProtocolError is an HTTP/2 protocol asked of a target over the other
// transport: h2 of an http:// one, h2c of an https:// one.
type ProtocolError struct {
	Protocol string // ProtoH2 or ProtoH2C
}

func (e *ProtocolError) Error() string {
	return e.Describe(func(p string) string { return "protocol " + p })
}

// Describe says what is wrong, naming each protocol as name does (the
// CLI names the flags that choose them).
func (e *ProtocolError) Describe(name func(protocol string) string) string {
	if e.Protocol == ProtoH2C {
		return fmt.Sprintf("%s is HTTP/2 over plain TCP: it needs an http:// target; over TLS use %s", name(ProtoH2C), name(ProtoH2))
	}
	return fmt.Sprintf("%s is HTTP/2 over TLS: it needs an https:// target (--tls for the httpd loadcheck starts); over plain TCP use %s", name(ProtoH2), name(ProtoH2C))
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
	case l.WarmUp < 0 && l.WarmUp != WarmUpAuto:
		return bad("warmup", "must not be negative, got %s (or auto)", l.WarmUp)
	case l.WarmUpMax < 0:
		return bad("warmup_max", "must not be negative, got %s", l.WarmUpMax)
	case l.WarmUp != WarmUpAuto && l.WarmUpMax > 0:
		return bad("warmup_max", "caps an auto warm-up only; the warm-up is fixed at %s (use warmup auto, or leave warmup_max out)", l.WarmUp)
	case l.WarmUp == WarmUpAuto && l.WarmUpMax > 0 && l.WarmUpMax < minAutoWarmUp:
		return bad("warmup_max", "at least %s: an auto warm-up needs 3 s of every connection answered, or 5 s of nothing changing, to end early; got %s", minAutoWarmUp, l.WarmUpMax)
	case l.Duration <= 0:
		return bad("duration", "must be positive, got %s", l.Duration)
	case l.ConnectRate < 0:
		return bad("connect_rate", "must not be negative, got %g", l.ConnectRate)
	case l.ClosedLoop && l.RatePerConn != 0:
		return bad("rate_per_conn", "closed loop sends as fast as responses come back: leave the rate per connection unset (got %g)", l.RatePerConn)
	case !l.ClosedLoop && l.RatePerConn <= 0:
		return bad("rate_per_conn", "must be positive, got %g (or choose closed loop)", l.RatePerConn)
	case l.RequestsPerConnection < 0:
		return bad("requests_per_connection", "must be at least 1 (a connection closes itself after that many answers), got %d; leave it out to keep connections open", l.RequestsPerConnection)
	case l.Engine != "" && l.Engine != EngineAuto && l.Engine != EngineLoop && l.Engine != EngineGoroutine:
		return bad("engine", "%q: want %s, %s or %s", l.Engine, EngineAuto, EngineLoop, EngineGoroutine)
	case l.Timeout <= 0:
		return bad("timeout", "must be positive, got %s", l.Timeout)
	case l.Protocol != "" && l.Protocol != ProtoHTTP1 && !l.HTTP2():
		return bad("protocol", "%q: want %s (HTTP/2 over TLS), %s (HTTP/2 over plain TCP) or %s", l.Protocol, ProtoH2, ProtoH2C, ProtoHTTP1)
	case l.Streams < 0 || l.Streams > maxStreams:
		return bad("streams", "must be within 1..%d, got %d", maxStreams, l.Streams)
	case l.Streams > 1 && !l.HTTP2():
		return bad("streams", "HTTP/1.1 sends one request at a time on a connection: %d streams need protocol h2 or h2c", l.Streams)
	case l.HTTP2() && l.ClosedLoop:
		return bad("closed_loop", "HTTP/2 loads run in the open model for now: give rate_per_conn instead")
	case l.HTTP2() && l.RequestsPerConnection > 0:
		return bad("requests_per_connection", "churn runs over HTTP/1.1 for now, not over %s", l.Protocol)
	case l.HTTP2() && len(l.Body) > h2MaxBody:
		return bad("body", "an HTTP/2 request body is sent in one DATA frame for now: at most %d bytes, got %d", h2MaxBody, len(l.Body))
	case l.HTTP2() && (len(l.Mix) > 0 || l.Slow.Set()):
		return bad("protocol", "%s does not run an access-log mix or slow clients yet: use HTTP/1.1 for those", l.Protocol)
	case !l.ClosedLoop && l.Duration.Seconds()*l.RatePerConn < minSlots:
		// With fewer slots a connection may have none in the window and be
		// called starved, and its last slot runs past the window's end.
		need := time.Duration(math.Ceil(minSlots / l.RatePerConn * float64(time.Second)))
		return bad("duration", "at %g requests/s per connection a %s window gives each connection %.2g requests; it needs at least %d to be judged: make the window at least %s, or the rate at least %g",
			l.RatePerConn, l.Duration, l.Duration.Seconds()*l.RatePerConn, minSlots, need, minSlots/l.Duration.Seconds())
	}
	if err := l.Slow.Validate(); err != nil {
		var fe *FieldError
		errors.As(err, &fe)
		return bad("slow_clients."+fe.Field, "%s", fe.Msg)
	}
	for _, p := range l.Paths {
		if !strings.HasPrefix(p, "/") {
			return bad("paths", "a path must start with /, got %q", p)
		}
	}
	if l.Method != "" && !isToken(l.Method) {
		return bad("method", "%q: want one HTTP token such as GET, HEAD or POST", l.Method)
	}
	for _, h := range l.Headers {
		if _, err := ParseHeader(h); err != nil {
			return bad("headers", "%v", err)
		}
	}
	return nil
}
