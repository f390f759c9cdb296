package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// server is an in-process HTTP/1.1 server on loopback whose behaviour each
// test sets: handle is called once per request on a connection and returns
// the raw response to write, or "" to do something else (it may close or
// reset conn itself and return "").
type server struct {
	ln       net.Listener
	maxConns int // accept at most this many connections (0: no limit)
	handle   func(conn net.Conn, nth int) string
	// handleLine, when set, replaces handle and also gets the request line.
	handleLine func(conn net.Conn, nth int, requestLine string) string
	tls        *tls.Config // serve HTTPS
	wg         sync.WaitGroup
	mu         sync.Mutex
	conns      []net.Conn
}

func startServer(t *testing.T, s *server) string {
	t.Helper()
	lc := net.ListenConfig{}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	scheme := "http"
	if s.tls != nil {
		ln, scheme = tls.NewListener(ln, s.tls), "https"
	}
	s.ln = ln
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		accepted := 0
		for {
			if s.maxConns > 0 && accepted >= s.maxConns {
				return // leave the rest in the kernel's listen queue
			}
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted++
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	return scheme + "://" + ln.Addr().String() + "/"
}

func (s *server) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for nth := 1; ; nth++ {
		// Read one request head (no body).
		var first string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" {
				break
			}
			if first == "" {
				first = line
			}
		}
		var out string
		if s.handleLine != nil {
			out = s.handleLine(c, nth, first)
		} else {
			out = s.handle(c, nth)
		}
		if out == "" {
			return
		}
		if out == wrote {
			continue
		}
		if _, err := c.Write([]byte(out)); err != nil {
			return
		}
	}
}

const okResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// wrote, returned by a handler, says it wrote its answer itself and the
// connection goes on.
const wrote = "\x00wrote"

func quickOpts(n int) Options {
	return Options{Load: Load{
		Connections: n,
		Ramp:        100 * time.Millisecond,
		WarmUp:      200 * time.Millisecond,
		Duration:    time.Second,
		RatePerConn: 10,
		Timeout:     300 * time.Millisecond,
	}}
}

func checkConservation(t *testing.T, r *Result) {
	t.Helper()
	if r.Sent != r.OK+r.Dropped+r.InFlight {
		t.Errorf("sent %d != ok %d + dropped %d + in flight %d", r.Sent, r.OK, r.Dropped, r.InFlight)
	}
	var byClass int64
	for _, n := range r.Errors {
		byClass += n
	}
	if byClass != r.Dropped {
		t.Errorf("errors by class add to %d, dropped is %d", byClass, r.Dropped)
	}
	if got := r.Served + r.PartlyServed + r.Starved + r.NotStarted; got != r.Target {
		t.Errorf("served %d + partly %d + starved %d + not started %d = %d, want target %d", r.Served, r.PartlyServed, r.Starved, r.NotStarted, got, r.Target)
	}
	if r.OK != r.Latency.TotalCount() {
		t.Errorf("ok %d but histogram holds %d values", r.OK, r.Latency.TotalCount())
	}
}

// checkSchedule compares Sent, which the generator defines as ok + dropped
// + in flight, with an independent count of the schedule: how many slots
// of each connection fall in the measured window, from the options and the
// run's recorded start alone. For a complete open-model run they must be
// equal.
func checkSchedule(t *testing.T, r *Result, o Options) {
	t.Helper()
	if !r.Complete || o.ClosedLoop || r.Started.IsZero() {
		t.Fatalf("checkSchedule needs a complete open-model run with its start")
	}
	if want := wantEngine(r, o); r.Engine != want {
		t.Errorf("ran on engine %q, want %q", r.Engine, want)
	}
	ramp := o.Ramp
	if o.ConnectRate > 0 {
		ramp = time.Duration(float64(o.Connections) / o.ConnectRate * float64(time.Second))
	}
	measureAt := r.Started.Add(ramp + o.WarmUp)
	if o.WarmUp == WarmUpAuto {
		measureAt = r.Started.Add(r.MeasureStart) // TestAutoWarmUp checks it
	}
	endAt := measureAt.Add(o.Duration)
	interval := time.Duration(float64(time.Second) / o.RatePerConn)
	var want int64
	for id := range o.Connections {
		if o.Shards > 1 && id%o.Shards != o.Shard {
			continue
		}
		open := r.Started.Add(time.Duration(int64(ramp) * int64(id) / int64(o.Connections)))
		for k := 0; ; k++ {
			due := open.Add(time.Duration(k) * interval)
			if !due.Before(endAt) {
				break
			}
			if !due.Before(measureAt) {
				want++
			}
		}
	}
	if r.Sent != want {
		t.Errorf("sent %d, but the schedule has %d slots in the measured window", r.Sent, want)
	}
}

// wantEngine is the engine a run of o must report: the one o names, else
// the goroutines where the event loops cannot drive the load (a wrapped
// Conn, HTTP/2) or the tests ask for them
// (LOADCHECK_TEST_ENGINE), else the event loops.
func wantEngine(r *Result, o Options) string {
	switch {
	case o.Engine == EngineLoop || o.Engine == EngineGoroutine:
		return o.Engine
	case testEngine == EngineGoroutine || o.dial != nil || o.HTTP2():
		return EngineGoroutine
	}
	return EngineLoop
}

func TestAllServed(t *testing.T) {
	s := &server{handle: func(net.Conn, int) string {
		time.Sleep(20 * time.Millisecond)
		return okResponse
	}}
	url := startServer(t, s)
	r, err := Run(context.Background(), Target{URL: url}, quickOpts(20))
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	checkSchedule(t, r, quickOpts(20))
	if r.Served != 20 || r.Established != 20 || r.Dropped != 0 {
		t.Fatalf("got served %d established %d dropped %d (errors %v), want 20 20 0", r.Served, r.Established, r.Dropped, r.Errors)
	}
	// 20 connections x 10/s x 1 s: the schedule is exact.
	if r.Sent != 200 {
		t.Errorf("got sent %d, want 200", r.Sent)
	}
	p50 := time.Duration(r.Latency.ValueAtQuantile(50)) * time.Microsecond
	if p50 < 20*time.Millisecond || p50 > 40*time.Millisecond {
		t.Errorf("got p50 %s, want about 20ms", p50)
	}
	if !r.Complete {
		t.Error("run not marked complete")
	}
}

// TestConnectionCap is the honesty case: the server accepts K of N
// connections; the others sit in the listen queue and never get a byte.
func TestConnectionCap(t *testing.T) {
	const n, k = 30, 10
	s := &server{maxConns: k, handle: func(net.Conn, int) string { return okResponse }}
	url := startServer(t, s)
	r, err := Run(context.Background(), Target{URL: url}, quickOpts(n))
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	if r.Served != k || r.Starved != n-k || r.PartlyServed != 0 {
		t.Fatalf("got served %d starved %d partly %d, want %d %d 0", r.Served, r.Starved, r.PartlyServed, k, n-k)
	}
	// The queued connections are held, not churned: one request each timed
	// out (in the warm-up) and every later slot was stuck behind it.
	if r.Errors["queue_timeout"] != r.Dropped || r.Reconnects != 0 {
		t.Errorf("got errors %v reconnects %d, want only queue_timeout and no reconnects", r.Errors, r.Reconnects)
	}
}

func TestErrorClasses(t *testing.T) {
	tests := []struct {
		name   string
		handle func(net.Conn, int) string
		class  string
	}{
		{"5xx", func(net.Conn, int) string {
			return "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
		}, "http_5xx"},
		{"4xx", func(net.Conn, int) string {
			return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
		}, "http_4xx"},
		{"reset", func(c net.Conn, _ int) string {
			c.(*net.TCPConn).SetLinger(0) // close sends RST
			c.Close()
			return ""
		}, "reset"},
		{"closed", func(c net.Conn, _ int) string {
			c.Close()
			return ""
		}, "closed_by_server"},
		{"garbage", func(net.Conn, int) string { return "SSH-2.0-OpenSSH\r\n\r\n" }, "bad_response"},
		{"slow", func(net.Conn, int) string {
			time.Sleep(time.Second)
			return okResponse
		}, "read_timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := startServer(t, &server{handle: tc.handle})
			r, err := Run(context.Background(), Target{URL: url}, quickOpts(5))
			if err != nil {
				t.Fatal(err)
			}
			checkConservation(t, r)
			got := r.Errors[tc.class]
			if tc.class == "read_timeout" {
				// Later slots wait behind the unanswered request.
				got += r.Errors["queue_timeout"]
			}
			if r.Dropped == 0 || r.Errors[tc.class] == 0 || got != r.Dropped {
				t.Fatalf("got dropped %d errors %v samples %v, want all in %s", r.Dropped, r.Errors, r.Samples, tc.class)
			}
			if r.Served != 0 {
				t.Errorf("got served %d, want 0", r.Served)
			}
		})
	}
}

func TestConnectRefused(t *testing.T) {
	// Find a port with nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r, err := Run(context.Background(), Target{URL: "http://" + addr + "/"}, quickOpts(3))
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	if r.Errors["connect_refused"] != r.Sent || r.Sent == 0 {
		t.Fatalf("got sent %d errors %v, want all connect_refused", r.Sent, r.Errors)
	}
	if r.NeverConnected != 3 || r.Starved != 3 || r.Established != 0 {
		t.Errorf("got never connected %d starved %d established %d, want 3 3 0", r.NeverConnected, r.Starved, r.Established)
	}
}

// TestKeepAliveLimit: the server closes each connection after m requests,
// announcing it with Connection: close. The harness reconnects and counts
// it; such connections were not held, so none is served.
func TestKeepAliveLimit(t *testing.T) {
	const m = 3
	s := &server{handle: func(_ net.Conn, nth int) string {
		if nth == m {
			return "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
		}
		if nth > m {
			return ""
		}
		return okResponse
	}}
	url := startServer(t, s)
	r, err := Run(context.Background(), Target{URL: url}, quickOpts(4))
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	if r.Reconnects == 0 || r.Dropped != 0 {
		t.Fatalf("got reconnects %d dropped %d (%v), want reconnects and no drops", r.Reconnects, r.Dropped, r.Errors)
	}
	if r.Served != 0 || r.PartlyServed != 4 {
		t.Errorf("got served %d partly %d, want 0 4", r.Served, r.PartlyServed)
	}
}

// TestReconnectAfterWarmUpClose: the server closes each connection after
// its first answer, in the warm-up; each reopens at its first slot in the
// window and is held from then on. The close belongs to the warm-up, as
// its drops would: the reconnects are counted, the connections served.
func TestReconnectAfterWarmUpClose(t *testing.T) {
	var answers atomic.Int32
	s := &server{handle: func(net.Conn, int) string {
		if answers.Add(1) <= 4 { // the four connections' first answers
			return "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
		}
		return okResponse
	}}
	url := startServer(t, s)
	opts := quickOpts(4)
	opts.RatePerConn, opts.WarmUp = 2, 300*time.Millisecond // slot 1 is the window's first
	r, err := Run(context.Background(), Target{URL: url}, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	if r.Reconnects != 4 || r.Dropped != 0 || r.Served != 4 {
		t.Errorf("got reconnects %d dropped %d (%v) served %d partly %d, want 4 reconnects, 4 served", r.Reconnects, r.Dropped, r.Errors, r.Served, r.PartlyServed)
	}
}

// TestReconnectAfterWarmUpTimeout: each connection's first answer, asked
// for in the warm-up, stops after its first bytes; the request times out
// in the window and the client closes the connection, cutting the answer.
// The close follows the warm-up request's drop, so it is the warm-up's:
// the connections reopened at their next slot are served.
func TestReconnectAfterWarmUpTimeout(t *testing.T) {
	var answers atomic.Int32
	s := &server{handle: func(c net.Conn, _ int) string {
		if answers.Add(1) <= 4 { // the four connections' first answers
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no"))
			time.Sleep(time.Second)
			return ""
		}
		return okResponse
	}}
	url := startServer(t, s)
	opts := quickOpts(4)
	// Slot 0 due in the first 100 ms, its timeout past the warm-up's end
	// at 300 ms; slot 1, at 500 ms, reopens.
	opts.RatePerConn, opts.WarmUp, opts.Timeout = 2, 300*time.Millisecond, 350*time.Millisecond
	r, err := Run(context.Background(), Target{URL: url}, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	if r.Reconnects != 4 || r.Dropped != 0 || r.Served != 4 {
		t.Errorf("got reconnects %d dropped %d (%v) served %d partly %d, want 4 reconnects, 4 served", r.Reconnects, r.Dropped, r.Errors, r.Served, r.PartlyServed)
	}
}

// slowServer answers every request after 2 s.
func slowServer(t *testing.T) string {
	return startServer(t, &server{handle: func(net.Conn, int) string {
		time.Sleep(2 * time.Second)
		return okResponse
	}})
}

// cancelledRun runs 5 connections against url, all opened at once with a
// slot every 100 ms, and cancels it after the given time.
func cancelledRun(t *testing.T, url string, after time.Duration) *Result {
	t.Helper()
	opts := quickOpts(5)
	opts.Ramp, opts.WarmUp, opts.Duration, opts.Timeout = 0, 0, 5*time.Second, 3*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), after)
	defer cancel()
	r, err := Run(ctx, Target{URL: url}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCancelCountsInFlight(t *testing.T) {
	began := time.Now()
	r := cancelledRun(t, slowServer(t), 500*time.Millisecond)
	if took := time.Since(began); took > 1500*time.Millisecond {
		t.Errorf("run took %s after cancellation at 500ms, want a prompt stop", took)
	}
	checkConservation(t, r)
	if r.Complete {
		t.Error("cancelled run marked complete")
	}
	if r.InFlight == 0 {
		t.Errorf("got in flight 0 (ok %d dropped %d %v), want the requests cut short", r.OK, r.Dropped, r.Errors)
	}
	if r.Dropped != 0 {
		t.Errorf("got dropped %d (%v): cancellation is not the server's fault", r.Dropped, r.Errors)
	}
}

func TestClassifyConnect(t *testing.T) {
	tests := []struct {
		err  error
		want Class
	}{
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, ConnectRefused},
		{&net.OpError{Op: "dial", Err: syscall.EADDRNOTAVAIL}, PortsExhausted},
		{&net.OpError{Op: "dial", Err: syscall.EMFILE}, ClientNofile},
		{context.DeadlineExceeded, ConnectTimeout},
		{fmt.Errorf("weird"), Unclassified},
	}
	for _, tc := range tests {
		if got := classifyConnect(tc.err); got != tc.want {
			t.Errorf("classifyConnect(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	bad := quickOpts(0)
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "connections") {
		t.Errorf("got %v, want an error naming connections", err)
	}
	if _, err := Run(context.Background(), Target{URL: "ftp://x/"}, quickOpts(1)); err == nil {
		t.Error("got no error for an ftp:// target")
	}
	// At 0.5 requests/s a 1 s window gives a connection no slot at all: it
	// would be called starved. Fewer than 2 slots is refused, naming the fix.
	short := quickOpts(1)
	short.RatePerConn, short.Duration = 0.5, time.Second
	if err := short.Validate(); err == nil || !strings.Contains(err.Error(), "duration") || !strings.Contains(err.Error(), "at least 4s") {
		t.Errorf("0.5 req/s over 1s: got %v, want an error naming duration and a 4s window", err)
	}
	short.Duration = 4 * time.Second
	if err := short.Validate(); err != nil {
		t.Errorf("0.5 req/s over 4s (2 slots): %v", err)
	}
	for _, m := range []string{"GET /x", "G\r\nET", "GÉT"} {
		o := quickOpts(1)
		o.Method = m
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "method") {
			t.Errorf("method %q: got %v, want an error naming method", m, err)
		}
	}
	for _, h := range []string{"X Y: 1", "X-Y: a\r\nInjected: 1", ": v", "Ü: 1"} {
		o := quickOpts(1)
		o.Headers = []string{h}
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "headers") {
			t.Errorf("header %q: got %v, want an error naming headers", h, err)
		}
	}
	short.ClosedLoop, short.RatePerConn, short.Duration = true, 0, 100*time.Millisecond
	if err := short.Validate(); err != nil {
		t.Errorf("closed loop has no schedule to fit: %v", err)
	}
}

// TestWorkerPoolNoEndgameRotation models prefork: K workers, each serving
// one connection until it closes and only then accepting the next. If the
// generator closed a connection as soon as its own schedule ended, a freed
// worker would pick up a starved connection while the window was still
// running and make it look partly served.
func TestWorkerPoolNoEndgameRotation(t *testing.T) {
	const n, k = 30, 10
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, handle: func(net.Conn, int) string { return okResponse }}
	var wg sync.WaitGroup
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				s.serve(c)
			}
		}()
	}
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	opts := quickOpts(n)
	opts.Timeout = 800 * time.Millisecond // longer than the slot interval
	r, err := Run(context.Background(), Target{URL: "http://" + ln.Addr().String() + "/"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	if r.Served != k || r.Starved != n-k || r.PartlyServed != 0 {
		t.Fatalf("got served %d partly %d starved %d, want %d 0 %d", r.Served, r.PartlyServed, r.Starved, k, n-k)
	}
}

// TestCancelAccountsTheSchedule: after a cancel, every slot the schedule
// had already made due in the window is counted (in flight), checked
// against an independent count of the schedule; connections whose open
// time never came are not started, neither starved nor never connected.
func TestCancelAccountsTheSchedule(t *testing.T) {
	url := slowServer(t)
	r := cancelledRun(t, url, 550*time.Millisecond)
	checkConservation(t, r)
	// 5 connections opened at 0 with a slot every 100 ms: slots due at 0,
	// 100, ..., 500 ms came before the cancel at 550 ms.
	if r.Sent != 30 || r.InFlight != 30 || r.Dropped != 0 {
		t.Errorf("sent %d, in flight %d, dropped %d; want the 30 slots due before the cancel, all in flight", r.Sent, r.InFlight, r.Dropped)
	}

	// A ramp cut short: 10 connections over 2 s, cancelled at 450 ms.
	opts := quickOpts(10)
	opts.Ramp, opts.WarmUp, opts.Duration = 2*time.Second, 0, 5*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 450*time.Millisecond)
	defer cancel()
	r, err := Run(ctx, Target{URL: url}, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Connection i opens at i x 200 ms: 0, 1 and 2 began.
	if r.NotStarted != 7 || r.Served+r.PartlyServed+r.Starved+r.NotStarted != 10 || r.NeverConnected > 3 {
		t.Errorf("not started %d, served %d, partly %d, starved %d, never connected %d; want 7 not started and the rest accounted",
			r.NotStarted, r.Served, r.PartlyServed, r.Starved, r.NeverConnected)
	}
}

// cancelDuringDeadline is a real socket whose first slot deadline is set
// exactly as the run is cancelled: the cancel watch sets the deadline to
// now, and then the slot's own deadline arrives.
type cancelDuringDeadline struct {
	*net.TCPConn
	cancel context.CancelFunc
	once   sync.Once
}

func (c *cancelDuringDeadline) SetDeadline(d time.Time) error {
	if time.Until(d) > time.Second {
		c.once.Do(func() {
			c.cancel()
			time.Sleep(50 * time.Millisecond) // the watch runs now
		})
	}
	return c.TCPConn.SetDeadline(d)
}

// TestCancelWinsOverDeadline: a slot's deadline set just after the
// cancel watch fired must not undo it and hold Ctrl-C up until the
// deadline (20 s here) or the slow server's answer (2 s).
func TestCancelWinsOverDeadline(t *testing.T) {
	url := slowServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := quickOpts(1)
	opts.Timeout = 20 * time.Second
	opts.dial = wrapDial(url, func(c *net.TCPConn) Conn { return &cancelDuringDeadline{TCPConn: c, cancel: cancel} })
	began := time.Now()
	r, err := Run(ctx, Target{URL: url}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > time.Second {
		t.Errorf("the run ended %s after its cancel: the slot's deadline undid the cancel watch", took.Round(time.Millisecond))
	}
	if r.Engine != EngineGoroutine { // socket deadlines are the goroutine engine's
		t.Errorf("ran on %q: a wrapped Conn runs on goroutines", r.Engine)
	}
	if r.Complete {
		t.Error("cancelled run marked complete")
	}
}

// TestAutoWarmUp: an auto warm-up ends where the caller says, and the
// measured window starts there; without a word it lasts its cap.
func TestAutoWarmUp(t *testing.T) {
	url := startServer(t, &server{handle: func(net.Conn, int) string { return okResponse }})
	opts := quickOpts(4)
	opts.WarmUp, opts.WarmUpMax = WarmUpAuto, 5*time.Second // the least cap
	ch := make(chan time.Time, 1)
	opts.MeasureFrom = ch
	began := time.Now()
	go func() {
		time.Sleep(400 * time.Millisecond)
		ch <- time.Now().Add(100 * time.Millisecond)
	}()
	r, err := Run(context.Background(), Target{URL: url}, opts)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	checkConservation(t, r)
	checkSchedule(t, r, opts)
	// Told at 0.4 s to start at 0.5 s: the window is 0.5 s to 1.5 s.
	if r.MeasureStart < 450*time.Millisecond || r.MeasureStart > 700*time.Millisecond || took > 3*time.Second {
		t.Errorf("measured from %s, run took %s: want the window from about 0.5 s, well before the 5 s cap", r.MeasureStart, took)
	}
	if r.Served != 4 || r.Sent < 4*8 {
		t.Errorf("served %d, sent %d: want 4 served and about 10 slots each in the 1 s window", r.Served, r.Sent)
	}
	// Nobody says it settled: the cap.
	opts.MeasureFrom = nil
	r, err = Run(context.Background(), Target{URL: url}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := opts.Ramp + 5*time.Second; r.MeasureStart != want {
		t.Errorf("no word: measured from %s, want the cap %s", r.MeasureStart, want)
	}
}

// wrapDial dials the test server at url over real TCP and hands the
// connection to wrap, for tests that change how a socket behaves.
func wrapDial(url string, wrap func(*net.TCPConn) Conn) func(context.Context, int) (Conn, error) {
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
	return func(ctx context.Context, id int) (Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return wrap(c.(*net.TCPConn)), nil
	}
}

// TestSteps opens connections in steps: 3, then 7 of 10; the last 3 are
// never let in and count as not started, not starved.
func TestSteps(t *testing.T) {
	url := startServer(t, &server{handle: func(net.Conn, int) string { return okResponse }})
	opts := quickOpts(10)
	opts.WarmUp, opts.Duration = 2*time.Second, 500*time.Millisecond
	steps := make(chan int)
	opts.Steps = steps
	var mu sync.Mutex
	var opens []int64
	opts.Progress = func(p Progress) {
		mu.Lock()
		opens = append(opens, p.Open)
		mu.Unlock()
	}
	go func() {
		steps <- 3
		time.Sleep(1200 * time.Millisecond)
		steps <- 7
	}()
	r, err := Run(context.Background(), Target{URL: url}, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	mu.Lock()
	defer mu.Unlock()
	if len(opens) < 2 || opens[0] != 3 {
		t.Errorf("open each second %v: want 3 in the first second, before the second step", opens)
	}
	if r.Established != 7 || r.Served != 7 || r.NotStarted != 3 || r.Starved != 0 {
		t.Errorf("established %d, served %d, not started %d, starved %d: want 7, 7, 3, 0", r.Established, r.Served, r.NotStarted, r.Starved)
	}
	opts.Shards = 2
	if err := opts.Validate(); err == nil || !strings.Contains(err.Error(), "one generator process") {
		t.Errorf("stepped run over 2 shards: %v, want an error", err)
	}
}

// TestProgressLeft: each second's progress says how long the load has to
// run (ramp 100 ms, warm-up 200 ms, window 2 s: 2.3 s in all), shrinking
// to nothing at the end.
func TestProgressLeft(t *testing.T) {
	url := startServer(t, &server{handle: func(net.Conn, int) string { return okResponse }})
	opts := quickOpts(3)
	opts.Duration = 2 * time.Second
	var mu sync.Mutex
	var left []time.Duration
	opts.Progress = func(p Progress) {
		mu.Lock()
		left = append(left, p.Left)
		mu.Unlock()
	}
	if _, err := Run(context.Background(), Target{URL: url}, opts); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(left) < 2 || left[0] < time.Second || left[0] > 1400*time.Millisecond || left[len(left)-1] != 0 {
		t.Errorf("left each second %v: want about 1.3 s after the first second, 0 at the end", left)
	}
}

// TestProgressStalled: of 3 connections, the server accepts 2; the third
// waits in the listen queue, connected from the client's side, its
// request unanswered and its 5 s timeout far off. Progress counts it as
// stalled once it has waited StallAfter, and only it.
func TestProgressStalled(t *testing.T) {
	ln := listenBacklog(t, 8)
	s := &server{ln: ln, handle: func(net.Conn, int) string { return okResponse }}
	go func() {
		for range 2 {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var last Progress
	o := Options{Load: Load{Connections: 3, WarmUp: 2500 * time.Millisecond, Duration: time.Second, RatePerConn: 5, Timeout: 5 * time.Second}}
	o.Progress = func(p Progress) {
		mu.Lock()
		if p.Elapsed < 2500*time.Millisecond {
			last = p
		}
		mu.Unlock()
	}
	if _, err := Run(context.Background(), Target{URL: "http://" + ln.Addr().String() + "/"}, o); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if last.Open != 3 || last.Stalled != 1 {
		t.Errorf("progress at %s: %d open, %d stalled; want 3 open and 1 stalled", last.Elapsed, last.Open, last.Stalled)
	}
}
