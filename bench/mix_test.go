package bench

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// accessLog is 1000 lines of a mix: half GET /a, 30 % GET /api/users?id=N
// over 3 ids, 15 % GET /b?q=1, 5 % POST /form; in Combined and Common Log
// Format and Debian's vhost_combined, and two lines that are not.
func accessLog() string {
	var b strings.Builder
	for i := 0; i < 1000; i++ {
		var req string
		switch r := i % 20; {
		case r < 10:
			req = "GET /a HTTP/1.1"
		case r < 16:
			req = fmt.Sprintf("GET /api/users?id=%d HTTP/1.1", i%3)
		case r < 19:
			req = "GET /b?q=1 HTTP/1.0"
		default:
			req = "POST /form HTTP/1.1"
		}
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "127.0.0.1 - - [27/Nov/2026:03:00:00 +0000] %q 200 512 \"-\" \"curl/8\"\n", req)
		case 1:
			fmt.Fprintf(&b, "10.0.0.%d - bob [27/Nov/2026:03:00:01 +0000] %q 404 -\n", i%250, req)
		default:
			fmt.Fprintf(&b, "shop.example:443 192.0.2.1 - - [27/Nov/2026:03:00:02 +0000] %q 200 10 \"-\" \"-\"\n", req)
		}
	}
	b.WriteString("this is not a log line\n\n[error] neither\n")
	return b.String()
}

func TestReadMix(t *testing.T) {
	m, err := ReadMix("access.log", strings.NewReader(accessLog()))
	if err != nil {
		t.Fatal(err)
	}
	if m.Parsed != 1000 || m.Skipped != 2 || m.First != "line 1001: this is not a log line" {
		t.Errorf("parsed %d skipped %d first %q", m.Parsed, m.Skipped, m.First)
	}
	got := map[string]int{}
	for _, e := range m.Entries {
		got[e.Method+" "+e.Path] = e.Weight
	}
	want := map[string]int{"GET /a": 500, "GET /api/users?id=0": 100, "GET /api/users?id=1": 100, "GET /api/users?id=2": 100, "GET /b?q=1": 150, "POST /form": 50}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("entries %v, want %v", got, want)
	}
	for _, bad := range []string{"", "garbage\nmore garbage\n", "127.0.0.1 - - [x] \"GET a HTTP/1.1\" 200 1\n"} {
		if _, err := ReadMix("x.log", strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "x.log: no line in Common or Combined Log Format") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	for p, c := range map[string]string{"/": "/", "/a": "/a", "/api/users?id=1": "/api", "/b?q=/x": "/b", "/x/y/z": "/x"} {
		if got := PathClass(p); got != c {
			t.Errorf("PathClass(%s) = %s, want %s", p, got, c)
		}
	}
}

// TestMixFrequencies sends the mix to a server that counts what it gets:
// over more than 10,000 requests each entry's share is within 2 points of
// the log's, and the per-class counts add up to the run's.
func TestMixFrequencies(t *testing.T) {
	m, err := ReadMix("access.log", strings.NewReader(accessLog()))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	url := startCountingServer(t, func(line string) { mu.Lock(); seen[line]++; mu.Unlock() })
	o := Options{Load: Load{Connections: 10, Ramp: 50 * time.Millisecond, Duration: 2 * time.Second, ClosedLoop: true, Timeout: time.Second, Mix: m.Entries}}
	r, err := Run(context.Background(), Target{URL: url}, o)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, n := range seen {
		total += n
	}
	if total < 10000 {
		t.Fatalf("only %d requests", total)
	}
	for _, e := range m.Entries {
		want := float64(e.Weight) / 1000 * 100
		got := float64(seen[e.Method+" "+e.Path]) / float64(total) * 100
		if math.Abs(got-want) > 2 {
			t.Errorf("%s %s: %.2f %% of %d requests, want %.2f %%", e.Method, e.Path, got, total, want)
		}
	}
	var ok int64
	var names []string
	for _, c := range r.Classes {
		ok += c.OK
		names = append(names, c.Class)
		if c.Latency.TotalCount() != c.OK {
			t.Errorf("class %s: %d OK, %d latencies", c.Class, c.OK, c.Latency.TotalCount())
		}
	}
	if ok != r.OK || strings.Join(names, " ") != "/a /api /b /form" {
		t.Errorf("classes %v add to %d OK, the run has %d", names, ok, r.OK)
	}
}

// startCountingServer answers every request with okResponse and hands each
// request line ("GET /path") to count.
func startCountingServer(t *testing.T, count func(string)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					method, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
					target, _, _ := strings.Cut(rest, " ")
					length := 0
					for {
						h, err := br.ReadString('\n')
						if err != nil {
							return
						}
						if h == "\r\n" {
							break
						}
						if v, ok := strings.CutPrefix(strings.ToLower(h), "content-length:"); ok {
							fmt.Sscan(strings.TrimSpace(v), &length)
						}
					}
					if _, err := br.Discard(length); err != nil {
						return
					}
					count(method + " " + target)
					if _, err := c.Write([]byte(okResponse)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

// TestHeadInMix: an access log with HEAD lines (health checks, uptime
// monitors) beside GETs. A HEAD's answer carries a Content-Length and no
// body (RFC 9110 §9.3.2), and each answer is read as its own request's:
// every request is OK on both engines, and only the GETs' bodies count.
func TestHeadInMix(t *testing.T) {
	url := startServer(t, &server{handleLine: func(_ net.Conn, _ int, line string) string {
		if strings.HasPrefix(line, "HEAD ") {
			return "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
		}
		return okResponse
	}})
	mix := []MixEntry{{Method: "GET", Path: "/", Weight: 1}, {Method: "HEAD", Path: "/health", Weight: 1}}
	for _, engine := range []string{EngineLoop, EngineGoroutine} {
		t.Run(engine, func(t *testing.T) {
			o := quickOpts(4)
			o.Mix, o.Engine = mix, engine
			r, err := Run(context.Background(), Target{URL: url}, o)
			if err != nil {
				t.Fatal(err)
			}
			checkConservation(t, r)
			checkSchedule(t, r, o)
			if r.Engine != engine {
				t.Errorf("ran on %q, want %q", r.Engine, engine)
			}
			var gets int64
			for _, c := range r.Classes {
				if c.Class == PathClass("/") { // the GETs' class
					gets += c.OK
				}
			}
			if r.OK != r.Sent || r.Dropped != 0 || r.Served != 4 || r.BytesRead != 2*gets || gets == 0 {
				t.Errorf("sent %d ok %d dropped %d %v served %d, bytes %d for %d GETs: want all OK and served, 2 bytes a GET",
					r.Sent, r.OK, r.Dropped, r.Errors, r.Served, r.BytesRead, gets)
			}
		})
	}
}
