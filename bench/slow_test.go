package bench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// A slow client at 16 KB/s reads a 100 KB body in about 6 s, with a 2 s
// timeout: its own pauses move the deadline on. Fast clients on the same
// server are not held up, and each group is accounted for on its own.
// Over plain HTTP and over TLS, on each engine (LOADCHECK_TEST_ENGINE).
func TestSlowClients(t *testing.T) {
	for _, https := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[https], func(t *testing.T) { testSlowClients(t, https) })
	}
}

func testSlowClients(t *testing.T, https bool) {
	const size = 100000
	resp := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", size, bytes.Repeat([]byte("x"), size))
	s := &server{handle: func(net.Conn, int) string { return resp }}
	if https {
		s.tls = testTLS(t)
	}
	url := startServer(t, s)
	o := Options{Load: Load{
		Connections: 4, Duration: 8 * time.Second, // no ramp: every first slot is measured
		RatePerConn: 0.25, Timeout: 2 * time.Second,
		Slow: SlowClients{Pct: 50, ReadRate: 16 << 10},
	}}
	r, err := Run(context.Background(), Target{URL: url}, o)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	if want := wantEngine(r, o); r.Engine != want {
		t.Errorf("ran on engine %q, want %q", r.Engine, want)
	}
	if len(r.Groups) != 2 {
		t.Fatalf("groups %+v, want fast and slow", r.Groups)
	}
	fast, slow := r.Groups[0], r.Groups[1]
	if fast.Group != "fast" || slow.Group != "slow" || fast.Target != 2 || slow.Target != 2 {
		t.Fatalf("groups %s (%d connections) and %s (%d), want fast 2 and slow 2", fast.Group, fast.Target, slow.Group, slow.Target)
	}
	if r.Dropped != 0 || fast.Served != 2 || slow.Served != 2 {
		t.Errorf("dropped %d (%v); served fast %d, slow %d; want every connection served", r.Dropped, r.Errors, fast.Served, slow.Served)
	}
	// Each fast client has its two slots; each slow one reads its first
	// answer past the second slot's time, which its pauses moved back,
	// out of the window.
	if fast.OK != 4 || slow.OK != 2 || r.OK != 6 {
		t.Errorf("ok: fast %d, slow %d, all %d; want 4, 2 and 6", fast.OK, slow.OK, r.OK)
	}
	if r.BytesRead != r.OK*size || slow.BytesRead != slow.OK*size {
		t.Errorf("bytes read %d (slow %d), want %d a response", r.BytesRead, slow.BytesRead, size)
	}
	want := time.Duration(float64(size) / (16 << 10) * float64(time.Second))
	p50 := ms(slow.Latency.ValueAtQuantile(50))
	if p50 < want*85/100 || p50 > want*115/100 {
		t.Errorf("slow clients' p50 %s, want about %s (100 KB at 16 KB/s)", p50, want)
	}
	if p99 := ms(fast.Latency.ValueAtQuantile(99)); p99 > time.Second {
		t.Errorf("fast clients' p99 %s: they should not wait on the slow ones", p99)
	}
	if fast.Latency.TotalCount()+slow.Latency.TotalCount() != r.Latency.TotalCount() {
		t.Errorf("group histograms hold %d+%d values, the whole one %d", fast.Latency.TotalCount(), slow.Latency.TotalCount(), r.Latency.TotalCount())
	}
}

func TestSlowClientsSpread(t *testing.T) {
	for _, c := range []struct {
		pct  float64
		n    int
		want int
	}{{20, 4000, 800}, {50, 4, 2}, {100, 10, 10}, {0, 10, 0}, {33, 100, 33}} {
		s := SlowClients{Pct: c.pct, ReadRate: 1 << 14}
		got, run, longest := 0, 0, 0
		for id := range c.n {
			if s.Is(id) {
				got++
				run = 0
			} else if run++; run > longest {
				longest = run
			}
		}
		if got != c.want || s.Count(c.n) != c.want {
			t.Errorf("%g%% of %d: %d slow (Count %d), want %d", c.pct, c.n, got, s.Count(c.n), c.want)
		}
		// Spread evenly: never more fast ones in a row than the share implies.
		if c.pct > 0 && float64(longest) > 100/c.pct {
			t.Errorf("%g%% of %d: %d fast connections in a row", c.pct, c.n, longest)
		}
	}
}

func TestSlowClientsValidate(t *testing.T) {
	base := Load{Connections: 1, Duration: time.Second, RatePerConn: 2, Timeout: time.Second}
	for _, c := range []struct {
		s    SlowClients
		want string
	}{
		{SlowClients{Pct: 120, ReadRate: 1 << 14}, "slow_clients.share: want a share of the connections from 0% to 100%, got 120%"},
		{SlowClients{Pct: -1, ReadRate: 1 << 14}, "slow_clients.share"},
		{SlowClients{Pct: 20}, "slow_clients.read_rate: want a read rate of at least 64 bytes a second"},
		{SlowClients{Pct: 20, ReadRate: 1 << 14, RecvBuffer: 10}, "slow_clients.recv_buffer: want 1k to 1m"},
	} {
		l := base
		l.Slow = c.s
		if err := l.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.s, err, c.want)
		}
	}
	l := base
	l.Slow = SlowClients{Pct: 20, ReadRate: 1 << 14}
	if err := l.Validate(); err != nil {
		t.Errorf("a good slow-client share: %v", err)
	}
}

// TestSlowClientOwedRead: a slow client reads a late answer (owed by a
// request that timed out) at its own pace. Its pauses are its own, as in
// a normal exchange: they move its schedule back, and the next request
// is sent and answered, not blamed on the server as queue_timeout.
func TestSlowClientOwedRead(t *testing.T) {
	const size = 16 << 10
	resp := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", size, bytes.Repeat([]byte("x"), size))
	url := startServer(t, &server{handle: func(_ net.Conn, nth int) string {
		if nth == 1 {
			time.Sleep(700 * time.Millisecond) // past the 500 ms timeout
		}
		return resp
	}})
	// One slow connection, every slot measured: slot 0 at 0 s times out;
	// slot 1 at 2 s first reads slot 0's answer (about 1 s of the
	// client's pauses), then is sent and read in its turn.
	o := Options{Load: Load{Connections: 1, Duration: 4 * time.Second, RatePerConn: 0.5, Timeout: 500 * time.Millisecond,
		Slow: SlowClients{Pct: 100, ReadRate: 16 << 10}}}
	r, err := Run(context.Background(), Target{URL: url}, o)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	if r.OK != 1 || r.Errors["read_timeout"] != 1 || r.Dropped != 1 {
		t.Errorf("ok %d, errors %v: want slot 1 OK and only slot 0's read_timeout", r.OK, r.Errors)
	}
}
