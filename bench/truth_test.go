package bench

// The truth tests: each drives the generator against an in-process server
// whose behaviour is known, and checks that the numbers say exactly that.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func ms(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

// TestFixedDelay: a server that always answers in 20 ms gives a p50 of 20
// to 22 ms.
func TestFixedDelay(t *testing.T) {
	url := startServer(t, &server{handle: func(net.Conn, int) string {
		time.Sleep(20 * time.Millisecond)
		return okResponse
	}})
	opts := quickOpts(5)
	opts.Duration = 2 * time.Second
	r, err := Run(context.Background(), Target{URL: url}, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	checkSchedule(t, r, opts)
	if p50 := ms(r.Latency.ValueAtQuantile(50)); p50 < 20*time.Millisecond || p50 > 22*time.Millisecond {
		t.Errorf("p50 %s, want 20ms to 22ms", p50)
	}
	if r.Dropped != 0 || r.Served != 5 {
		t.Errorf("dropped %d served %d (%v), want 0 and 5", r.Dropped, r.Served, r.Errors)
	}
}

// TestPeriodicStall: the server freezes for 1 s every 5 s while requests
// are due at a fixed rate. The corrected latency must show the stall; the
// service time, measured from the real send, hides it, as wrk's does.
func TestPeriodicStall(t *testing.T) {
	t0 := time.Now()
	url := startServer(t, &server{handle: func(net.Conn, int) string {
		// Frozen from 2 s to 3 s of every 5 s.
		if off := time.Since(t0) % (5 * time.Second); off >= 2*time.Second && off < 3*time.Second {
			time.Sleep(3*time.Second - off)
		}
		return okResponse
	}})
	opts := Options{Load: Load{Connections: 4, WarmUp: 500 * time.Millisecond, Duration: 5 * time.Second,
		RatePerConn: 50, Timeout: 3 * time.Second}}
	r, err := Run(context.Background(), Target{URL: url}, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	checkSchedule(t, r, opts)
	if r.Dropped != 0 {
		t.Fatalf("dropped %d (%v), want none: the timeout outlasts the stall", r.Dropped, r.Errors)
	}
	corrected, service := ms(r.Latency.ValueAtQuantile(99)), ms(r.ServiceTime.ValueAtQuantile(99))
	t.Logf("p99 corrected %s, service time %s", corrected, service)
	if corrected < 500*time.Millisecond {
		t.Errorf("corrected p99 %s, want at least 500ms: the stall is hidden", corrected)
	}
	if service > 100*time.Millisecond {
		t.Errorf("service-time p99 %s, want it small: only one request per connection waited in the stall", service)
	}
	if r.ServiceTime.TotalCount() != r.OK {
		t.Errorf("service-time histogram holds %d values, ok is %d", r.ServiceTime.TotalCount(), r.OK)
	}
}

// listenBacklog listens on loopback with a listen backlog of backlog.
func listenBacklog(t *testing.T, backlog int) net.Listener {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	sa := &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if err := syscall.Bind(fd, sa); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, backlog); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "listener")
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestConnectionCapBacklog: the server accepts only K of N connections and
// leaves the rest in a listen backlog of 2. Exactly K are served; the others
// split into starved-but-connected (in the backlog) and never connected
// (their SYNs were dropped), each counted, each with its own class.
func TestConnectionCapBacklog(t *testing.T) {
	const n, k = 20, 5
	ln := listenBacklog(t, 2)
	s := &server{ln: ln, maxConns: k, handle: func(net.Conn, int) string { return okResponse }}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < k; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); s.serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	opts := quickOpts(n)
	opts.WarmUp, opts.Duration, opts.Timeout = 500*time.Millisecond, 2*time.Second, 400*time.Millisecond
	r, err := Run(context.Background(), Target{URL: "http://" + ln.Addr().String() + "/"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	checkSchedule(t, r, opts)
	connectedStarved := r.Starved - r.NeverConnected
	t.Logf("served %d, starved %d = %d connected + %d never connected; errors %v", r.Served, r.Starved, connectedStarved, r.NeverConnected, r.Errors)
	if r.Served != k || r.Starved != n-k || r.PartlyServed != 0 {
		t.Fatalf("served %d starved %d partly %d, want %d %d 0", r.Served, r.Starved, r.PartlyServed, k, n-k)
	}
	if connectedStarved < 1 || r.NeverConnected < 1 || r.Established != k+connectedStarved {
		t.Errorf("connected-but-starved %d, never connected %d, established %d: want both groups and established = %d + connected-starved",
			connectedStarved, r.NeverConnected, r.Established, k)
	}
	if r.Errors["connect_timeout"] == 0 || r.Errors["queue_timeout"]+r.Errors["read_timeout"] == 0 {
		t.Errorf("errors %v: want connect_timeout for the never connected and queue/read timeouts for the starved", r.Errors)
	}
}

// TestConnectTimeout: a server that accepts nothing, with a full backlog.
func TestConnectTimeoutClass(t *testing.T) {
	ln := listenBacklog(t, 0)
	t.Cleanup(func() { ln.Close() })
	opts := quickOpts(6)
	r, err := Run(context.Background(), Target{URL: "http://" + ln.Addr().String() + "/"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	checkSchedule(t, r, opts)
	if r.Errors["connect_timeout"] == 0 || r.OK != 0 {
		t.Errorf("errors %v ok %d, want connect_timeout and nothing ok", r.Errors, r.OK)
	}
}

// TestKeepAliveSilentClose: the server closes every connection after m
// responses without announcing it. The next request on it meets the close:
// it is dropped as closed_by_server (not retried), the connection reconnects
// at its next slot, and the counts are the same every time.
func TestKeepAliveSilentClose(t *testing.T) {
	const m = 3
	url := startServer(t, &server{handle: func(c net.Conn, nth int) string {
		if nth > m {
			c.Close()
			return ""
		}
		if nth == m {
			go func() { time.Sleep(5 * time.Millisecond); c.Close() }()
		}
		return okResponse
	}})
	opts := Options{Load: Load{Connections: 3, WarmUp: 200 * time.Millisecond, Duration: time.Second, RatePerConn: 10, Timeout: 90 * time.Millisecond}}
	var first *Result
	for run := range 3 {
		r, err := Run(context.Background(), Target{URL: url}, opts)
		if err != nil {
			t.Fatal(err)
		}
		checkConservation(t, r)
		checkSchedule(t, r, opts)
		// Slots 2..11 are measured; every 4th slot (k = 3, 7, 11) meets a
		// closed connection.
		if r.Errors["closed_by_server"] != 3*3 || r.Dropped != 9 || r.OK != 3*7 {
			t.Fatalf("run %d: ok %d dropped %d %v, want 21 ok and 9 closed_by_server", run, r.OK, r.Dropped, r.Errors)
		}
		if first == nil {
			first = r
		} else if r.Reconnects != first.Reconnects || r.PartlyServed != first.PartlyServed {
			t.Errorf("run %d: reconnects %d partly %d, first run %d %d", run, r.Reconnects, r.PartlyServed, first.Reconnects, first.PartlyServed)
		}
	}
}

// TestSeries: one point per second over the whole run, adding up to the
// run's own counters.
func TestSeries(t *testing.T) {
	var mu sync.Mutex
	url := startServer(t, &server{handle: func(_ net.Conn, nth int) string {
		mu.Lock()
		defer mu.Unlock()
		if nth%5 == 0 {
			return "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"
		}
		return okResponse
	}})
	opts := Options{Load: Load{Connections: 8, Ramp: time.Second, WarmUp: time.Second, Duration: 2 * time.Second, RatePerConn: 20, Timeout: time.Second}}
	r, err := Run(context.Background(), Target{URL: url}, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	checkSchedule(t, r, opts)
	if len(r.Series) < 4 || len(r.Series) > 5 {
		t.Fatalf("got %d points for a 4 s run, want 4 or 5", len(r.Series))
	}
	var ok, errs int64
	phases := map[Phase]bool{}
	for i, p := range r.Series {
		ok += p.OK
		errs += p.Errors["http_5xx"]
		phases[p.Phase] = true
		if i > 0 && p.T <= r.Series[i-1].T {
			t.Errorf("point %d at %.3fs does not follow %.3fs", i, p.T, r.Series[i-1].T)
		}
		if p.Phase == PhaseMeasure && (p.Open != 8 || p.P99US <= 0) {
			t.Errorf("measure point %+v: want 8 open and a p99", p)
		}
	}
	// Every slot of the whole run: connection i opens at i/8 s and has
	// ceil((4 s - i/8 s) x 20/s) slots.
	var slots int64
	for i := range 8 {
		slots += int64(math.Ceil((4 - float64(i)/8) * 20))
	}
	// The series counts every phase; the result only the measured window.
	if ok < r.OK || errs < r.Errors["http_5xx"] || ok+errs != slots {
		t.Errorf("series adds to %d ok + %d 5xx, result has %d ok + %d 5xx; the run had %d slots", ok, errs, r.OK, r.Errors["http_5xx"], slots)
	}
	for _, ph := range []Phase{PhaseRamp, PhaseWarmUp, PhaseMeasure} {
		if !phases[ph] {
			t.Errorf("no point in phase %s", ph)
		}
	}
}

// TestRequestShape: method, headers, body and several paths in turn.
func TestRequestShape(t *testing.T) {
	type seen struct{ method, path, header, body string }
	var mu sync.Mutex
	var got []seen
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		got = append(got, seen{string(ctx.Method()), string(ctx.Path()), string(ctx.Request.Header.Peek("X-Test")), string(ctx.PostBody())})
		mu.Unlock()
		ctx.SetBodyString("ok")
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	opts := quickOpts(2)
	opts.Method, opts.Paths, opts.Body = "POST", []string{"/a", "/b", "/c"}, `{"k":1}`
	opts.Headers = []string{"X-Test: yes", "Content-Type: application/json"}
	r, err := Run(context.Background(), Target{URL: "http://" + ln.Addr().String() + "/"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	checkSchedule(t, r, opts)
	mu.Lock()
	defer mu.Unlock()
	paths := map[string]int{}
	for _, s := range got {
		if s.method != "POST" || s.header != "yes" || s.body != `{"k":1}` {
			t.Fatalf("server saw %+v", s)
		}
		paths[s.path]++
	}
	if len(paths) != 3 || paths["/a"] == 0 || paths["/b"] == 0 || paths["/c"] == 0 {
		t.Errorf("paths seen %v, want /a /b /c in turn", paths)
	}
	if _, err := ParseHeader("no colon"); err == nil {
		t.Error("ParseHeader accepted a header without a colon")
	}
}

// TestClosedLoop: each connection sends its next request as soon as the
// last response arrives, far above any fixed rate; latency and service time
// then differ only by the few microseconds between the slot's start and the
// write.
func TestClosedLoop(t *testing.T) {
	url := startServer(t, &server{handle: func(net.Conn, int) string {
		time.Sleep(2 * time.Millisecond)
		return okResponse
	}})
	opts := Options{Load: Load{Connections: 4, WarmUp: 100 * time.Millisecond, Duration: time.Second, ClosedLoop: true, Timeout: time.Second}}
	r, err := Run(context.Background(), Target{URL: url}, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	// 4 connections x at most 500/s; at least a fifth of that on a busy machine.
	if r.OK < 400 || r.OK > 2000 || r.Dropped != 0 {
		t.Errorf("ok %d dropped %d, want 400..2000 and none dropped", r.OK, r.Dropped)
	}
	if l, s := r.Latency.ValueAtQuantile(50), r.ServiceTime.ValueAtQuantile(50); l < s || l > s+s/50 {
		t.Errorf("closed loop: latency p50 %d µs != service time p50 %d µs", r.Latency.ValueAtQuantile(50), r.ServiceTime.ValueAtQuantile(50))
	}
	bad := opts
	bad.RatePerConn = 5
	if err := bad.Validate(); err == nil {
		t.Error("closed loop with a rate validated")
	}
}

// TestConnectRateAndTimes: --connect-rate spreads the opens, and every
// connect lands in the connect-time histogram.
func TestConnectRateAndTimes(t *testing.T) {
	url := startServer(t, &server{handle: func(net.Conn, int) string { return okResponse }})
	opts := quickOpts(20)
	opts.ConnectRate = 40 // 20 connections over 500 ms
	r, err := Run(context.Background(), Target{URL: url}, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	checkSchedule(t, r, opts)
	if r.ConnectTime.TotalCount() != 20 {
		t.Errorf("connect-time histogram holds %d, want 20", r.ConnectTime.TotalCount())
	}
	if r.OpenedIn < 450*time.Millisecond || r.OpenedIn > 700*time.Millisecond {
		t.Errorf("opened in %s, want about 475ms (last of 20 at 40/s)", r.OpenedIn)
	}
}

// TestSourceAddrs: connections to a loopback target spread over source
// addresses from 127.0.0.2.
func TestSourceAddrs(t *testing.T) {
	var mu sync.Mutex
	from := map[string]bool{}
	url := startServer(t, &server{handle: func(c net.Conn, _ int) string {
		mu.Lock()
		from[c.RemoteAddr().(*net.TCPAddr).IP.String()] = true
		mu.Unlock()
		return okResponse
	}})
	opts := quickOpts(9)
	opts.SourceAddrs = 3
	r, err := Run(context.Background(), Target{URL: url}, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	checkSchedule(t, r, opts)
	mu.Lock()
	defer mu.Unlock()
	var got []string
	for a := range from {
		got = append(got, a)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}) || r.Served != 9 {
		t.Errorf("server saw %v, served %d; want 127.0.0.2-4 and 9 served", got, r.Served)
	}
	if SourceAddrsFor(50000) < 2 {
		t.Errorf("50000 connections fit one source address's ephemeral ports?")
	}
}

// fakeConn answers every request at once with a canned response, in memory.
type fakeConn struct {
	resp    []byte
	pending int
}

func (c *fakeConn) Write(p []byte) (int, error)     { c.pending = len(c.resp); return len(p), nil }
func (c *fakeConn) Close() error                    { return nil }
func (c *fakeConn) SetDeadline(time.Time) error     { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error { return nil }
func (c *fakeConn) Read(p []byte) (int, error) {
	if c.pending == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.resp[len(c.resp)-c.pending:])
	c.pending -= n
	return n, nil
}

// BenchmarkHotPath runs one closed-loop connection for b.N requests
// against an in-memory peer: -benchmem's allocs/op is the generator's
// allocations per request (setup is spread over b.N and rounds to 0).
func BenchmarkHotPath(b *testing.B) {
	opts := Options{Load: Load{Connections: 1, Duration: time.Hour, ClosedLoop: true, Timeout: time.Second}, maxSlots: b.N}
	opts.dial = func(context.Context, int) (Conn, error) {
		return &fakeConn{resp: []byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")}, nil
	}
	b.ReportAllocs()
	b.ResetTimer()
	r, err := Run(context.Background(), Target{URL: "http://127.0.0.1:9/"}, opts)
	if err != nil {
		b.Fatal(err)
	}
	if r.OK != int64(b.N) {
		b.Fatalf("ok %d of %d", r.OK, b.N)
	}
}

// BenchmarkHotPathLoop is BenchmarkHotPath through the epoll engine,
// which drives real sockets: one connection in closed loop against a
// loopback server that answers from a fixed buffer and allocates nothing
// per request, so allocs/op is the engine's own (bench/perf/README.md).
func BenchmarkHotPathLoop(b *testing.B) { benchmarkHotPathLoop(b, nil) }

// BenchmarkHotPathLoopTLS is BenchmarkHotPathLoop over TLS: the loop's
// records in and out, and the server's crypto/tls in the same process,
// whose records reuse their buffers as the client's do.
func BenchmarkHotPathLoopTLS(b *testing.B) { benchmarkHotPathLoop(b, testTLS(b)) }

func benchmarkHotPathLoop(b *testing.B, serverTLS *tls.Config) {
	var ln net.Listener
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	scheme := "http"
	if serverTLS != nil {
		ln, scheme = tls.NewListener(ln, serverTLS), "https"
	}
	resp := []byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					for range bytes.Count(buf[:n], []byte("\r\n\r\n")) {
						if _, err := c.Write(resp); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	opts := Options{Load: Load{Connections: 1, Duration: time.Hour, ClosedLoop: true, Timeout: time.Second, Engine: EngineLoop}, maxSlots: b.N}
	b.ReportAllocs()
	b.ResetTimer()
	r, err := Run(context.Background(), Target{URL: scheme + "://" + ln.Addr().String() + "/"}, opts)
	if err != nil {
		b.Fatal(err)
	}
	if r.OK != int64(b.N) || r.Engine != EngineLoop {
		b.Fatalf("ok %d of %d, engine %q", r.OK, b.N, r.Engine)
	}
}

// TestHead: a response to HEAD has headers only, whatever its
// Content-Length says; waiting for that body would blame the server with a
// queue_timeout on every request.
func TestHead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }} // fasthttp sends no body to HEAD
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	opts := quickOpts(3)
	opts.Method = "HEAD"
	r, err := Run(context.Background(), Target{URL: "http://" + ln.Addr().String() + "/"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	checkSchedule(t, r, opts)
	if r.Served != 3 || r.Dropped != 0 || r.OK == 0 {
		t.Errorf("HEAD: served %d, ok %d, dropped %d %v; want every connection served and nothing dropped", r.Served, r.OK, r.Dropped, r.Errors)
	}
}

// TestClosedBeforeWindowEnd: a connection the server closes after its last
// answer in the window, silently or with Connection: close, was not held
// through the window: it is not served, whatever its next slot, and the
// close is counted.
func TestClosedBeforeWindowEnd(t *testing.T) {
	for _, c := range []struct {
		polite  bool
		timeout time.Duration
		tls     bool
	}{{false, 300 * time.Millisecond, false}, {true, 300 * time.Millisecond, false},
		// A timeout shorter than the slot interval: the last slot's read
		// deadline has passed when the window ends, and the check there
		// must still see the close.
		{false, 40 * time.Millisecond, false},
		// Over TLS the server's close_notify alert waits unread before
		// the close itself: still a close.
		{false, 300 * time.Millisecond, true}} {
		polite := c.polite
		var closeAfter atomic.Int64 // unix nanoseconds
		srv := &server{handle: func(c net.Conn, nth int) string {
			if time.Now().UnixNano() < closeAfter.Load() {
				return okResponse
			}
			resp := okResponse
			if polite {
				resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
			}
			_, _ = c.Write([]byte(resp))
			return "" // close after answering
		}}
		if c.tls {
			srv.tls = testTLS(t)
		}
		url := startServer(t, srv)
		opts := quickOpts(6)
		opts.Timeout = c.timeout
		// Close each connection at its first answer in the last 150 ms of
		// the window: with a slot every 100 ms, most connections then get
		// no further slot in the window.
		closeAfter.Store(time.Now().Add(opts.MeasureStart() + opts.Duration - 150*time.Millisecond).UnixNano())
		r, err := Run(context.Background(), Target{URL: url}, opts)
		if err != nil {
			t.Fatal(err)
		}
		checkConservation(t, r)
		checkSchedule(t, r, opts)
		if r.Served != 0 || r.PartlyServed != 6 {
			t.Errorf("polite=%v timeout %s tls=%v: served %d, partly served %d, closed at end %d; want 0 served, 6 partly served", polite, c.timeout, c.tls, r.Served, r.PartlyServed, r.ClosedAtEnd)
		}
		if r.ClosedAtEnd == 0 {
			t.Errorf("polite=%v timeout %s tls=%v: no close counted at the window's end", polite, c.timeout, c.tls)
		}
	}
}

// stallingConn is a real socket whose goroutine is "descheduled" right
// after each write, until well past the request's deadline: as a generator
// starved of CPU would be. The server's answer is waiting in the socket
// when it wakes.
type stallingConn struct {
	*net.TCPConn
	deadline time.Time
}

func (c *stallingConn) SetDeadline(t time.Time) error {
	c.deadline = t
	return c.TCPConn.SetDeadline(t)
}
func (c *stallingConn) Write(p []byte) (int, error) {
	n, err := c.TCPConn.Write(p)
	time.Sleep(time.Until(c.deadline) + 150*time.Millisecond)
	return n, err
}

// TestDescheduledGenerator: a generator that wakes long after a request's
// deadline and finds the answer waiting cannot tell whether it came in
// time; the slot is client_late, never a timeout blamed on the server.
// Its stalling Conn runs on goroutines only; TestGeneratorStopped stops
// either engine's whole process.
func TestDescheduledGenerator(t *testing.T) {
	url := startServer(t, &server{handle: func(net.Conn, int) string { return okResponse }})
	opts := quickOpts(2)
	opts.Timeout = 50 * time.Millisecond
	opts.dial = wrapDial(url, func(c *net.TCPConn) Conn { return &stallingConn{TCPConn: c} })
	r, err := Run(context.Background(), Target{URL: url}, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	if r.Errors["read_timeout"]+r.Errors["queue_timeout"] != 0 || r.Errors["client_late"] == 0 || r.Engine != EngineGoroutine {
		t.Errorf("errors %v on %q: want client_late only, no timeout blamed on the server, on goroutines", r.Errors, r.Engine)
	}
}

// TestIdleKeepAliveReopen: a server that closes a connection idle for
// 150 ms (its keep-alive timeout), under a load with 400 ms between a
// connection's requests. Told the server's timeout, the generator opens
// each connection again for its next request, as a browser does: every
// request answered, every connection served, the reopens counted. Told a
// longer timeout than the server's, the same closes came too early (as a
// busy event process's do) and stay failures.
func TestIdleKeepAliveReopen(t *testing.T) {
	for _, tc := range []struct {
		told     time.Duration
		wantFail bool
	}{{150 * time.Millisecond, false}, {time.Second, true}} {
		url := startServer(t, &server{handle: func(c net.Conn, nth int) string {
			_ = c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
			return okResponse
		}})
		o := quickOpts(5)
		o.RatePerConn, o.Duration = 2.5, 2*time.Second
		o.ServerKeepAlive = tc.told
		r, err := Run(context.Background(), Target{URL: url}, o)
		if err != nil {
			t.Fatal(err)
		}
		checkConservation(t, r)
		switch {
		case !tc.wantFail && (r.Served != 5 || r.Dropped != 0 || r.IdleReopens < 20 || r.Reconnects != 0):
			t.Errorf("told %s: served %d dropped %d (%v), idle reopens %d, reconnects %d; want 5 served, none dropped, >= 20 idle reopens", tc.told, r.Served, r.Dropped, r.Errors, r.IdleReopens, r.Reconnects)
		case tc.wantFail && (r.Errors["closed_by_server"] == 0 || r.IdleReopens != 0 || r.Served != 0):
			t.Errorf("told %s: served %d, errors %v, idle reopens %d; want the early closes counted as closed_by_server", tc.told, r.Served, r.Errors, r.IdleReopens)
		}
	}
}

// TestBytesRead: every body byte of the window's OK responses is read and
// counted, a 100 KB body as much as a 2-byte one.
func TestBytesRead(t *testing.T) {
	for _, size := range []int{2, 100000} {
		resp := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", size, bytes.Repeat([]byte("x"), size))
		url := startServer(t, &server{handle: func(net.Conn, int) string { return resp }})
		r, err := Run(context.Background(), Target{URL: url}, quickOpts(4))
		if err != nil {
			t.Fatal(err)
		}
		checkConservation(t, r)
		if r.Dropped != 0 || r.OK < 20 || r.BytesRead != r.OK*int64(size) {
			t.Errorf("%d-byte bodies: ok %d dropped %d (%v), bytes read %d, want %d", size, r.OK, r.Dropped, r.Errors, r.BytesRead, r.OK*int64(size))
		}
	}
}

// TestGeneratorStopped: the generator process is stopped (SIGSTOP, as a
// starved CPU would hold it) from just after a request went out until
// past its timeout; the server answered in time meanwhile. When it
// resumes, the answer and the expiry are both there: the generator cannot
// say when the answer came, so that request is client_late, never OK
// with a latency beyond the timeout, and never the server's timeout.
func TestGeneratorStopped(t *testing.T) {
	url := startServer(t, &server{handle: func(net.Conn, int) string {
		time.Sleep(100 * time.Millisecond)
		return okResponse
	}})
	for _, engine := range []string{EngineLoop, EngineGoroutine} {
		t.Run(engine, func(t *testing.T) {
			// One connection from start, a request every 500 ms, the
			// window from 300 ms to 2.3 s: requests at 0.5, 1, 1.5 and 2 s
			// are measured. The one at 1 s is answered at 1.1 s and times
			// out at 1.3 s; the generator sleeps from 1.02 s to 1.42 s.
			o := Options{Load: Load{Connections: 1, WarmUp: 300 * time.Millisecond, Duration: 2 * time.Second,
				RatePerConn: 2, Timeout: 300 * time.Millisecond, Engine: engine}}
			r, opts := runStopped(t, url, o, 1020*time.Millisecond, 1420*time.Millisecond)
			checkConservation(t, r)
			checkSchedule(t, r, opts)
			if r.Engine != engine {
				t.Errorf("ran on %q, want %q", r.Engine, engine)
			}
			if max := ms(r.Latency.Max()); r.OK != 3 || r.Errors["client_late"] != 1 || r.Dropped != 1 || max > o.Timeout {
				t.Errorf("ok %d, errors %v, max latency %s: want 3 OK within the 300ms timeout and 1 client_late", r.OK, r.Errors, max)
			}
		})
	}
}

// runStopped runs o in one shard process, stopped (SIGSTOP) from stop to
// cont after the schedule's start, and merges what it wrote.
func runStopped(t *testing.T, url string, o Options, stop, cont time.Duration) (*Result, Options) {
	t.Helper()
	start := time.Now().Add(1500 * time.Millisecond) // the child's start-up comes first
	reqs, err := PlanShards(Target{URL: url}, o, 1, start)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(reqs[0])
	cmd := shardCommand(context.Background())
	cmd.Stdin = bytes.NewReader(in)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(start.Add(stop)))
	cmd.Process.Signal(syscall.SIGSTOP)
	time.Sleep(time.Until(start.Add(cont)))
	cmd.Process.Signal(syscall.SIGCONT)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	so, err := ReadShardOutput("shard", &out)
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := MergeOutputs([]ShardOutput{so})
	if err != nil {
		t.Fatal(err)
	}
	return r, reqs[0].Options
}

// TestLateSends: the generator process is stopped from just before a
// request is due (1 s) until 280 ms after, on a connection with nothing
// owed. The request goes out late, by more than a tenth of its 500 ms
// interval: one late send in the window, the second's latest lateness
// about 280 ms, and the generator's CPU counted, through the shard wire.
// The server was never at fault: the request is still answered.
func TestLateSends(t *testing.T) {
	url := startServer(t, &server{handle: func(net.Conn, int) string { return okResponse }})
	for _, engine := range []string{EngineLoop, EngineGoroutine} {
		t.Run(engine, func(t *testing.T) {
			o := Options{Load: Load{Connections: 1, WarmUp: 300 * time.Millisecond, Duration: 2 * time.Second,
				RatePerConn: 2, Timeout: 400 * time.Millisecond, Engine: engine}}
			r, _ := runStopped(t, url, o, 980*time.Millisecond, 1260*time.Millisecond)
			checkConservation(t, r)
			var lateMax, cpu int64
			for _, p := range r.Series {
				lateMax, cpu = max(lateMax, p.SendLateUS), cpu+p.CPUMS
			}
			if r.LateSends != 1 || lateMax < 200_000 || lateMax > 400_000 || r.OK != 4 || r.CPUs != CPULimit() {
				t.Errorf("late sends %d, latest %d µs, %d OK, %g CPUs: want 1 late send of about 280 ms, 4 OK, %g CPUs", r.LateSends, lateMax, r.OK, r.CPUs, CPULimit())
			}
			if cpu <= 0 {
				t.Errorf("generator CPU %d ms", cpu)
			}
		})
	}
}
