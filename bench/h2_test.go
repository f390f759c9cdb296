package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Opts is quickOpts over HTTP/2 with m streams per connection.
func h2Opts(n int, proto string, m int) Options {
	o := quickOpts(n)
	o.Protocol, o.Streams = proto, m
	return o
}

// connCounter counts the TCP connections a test server accepted, and
// the most requests one of them had in flight at once.
type connCounter struct {
	conns    atomic.Int64
	mu       sync.Mutex
	inflight map[string]int
	most     int
}

func (cc *connCounter) state(_ net.Conn, s http.ConnState) {
	if s == http.StateNew {
		cc.conns.Add(1)
	}
}

func (cc *connCounter) begin(remote string) func() {
	cc.mu.Lock()
	cc.inflight[remote]++
	cc.most = max(cc.most, cc.inflight[remote])
	cc.mu.Unlock()
	return func() { cc.mu.Lock(); cc.inflight[remote]--; cc.mu.Unlock() }
}

// TestH2Served: over h2c and over h2 (TLS, ALPN), every connection is
// one TCP connection for the whole run, its requests go out as up to M
// concurrent streams and never more, and every slot is accounted.
func TestH2Served(t *testing.T) {
	for _, proto := range []string{ProtoH2C, ProtoH2} {
		t.Run(proto, func(t *testing.T) {
			cnt := &connCounter{inflight: map[string]int{}}
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.ProtoMajor != 2 {
					http.Error(w, "HTTP/2 only", http.StatusHTTPVersionNotSupported)
					return
				}
				defer cnt.begin(r.RemoteAddr)()
				time.Sleep(150 * time.Millisecond) // 10/s on 3 streams: about 2 in flight at once
				_, _ = io.WriteString(w, "ok")
			})
			var ts *httptest.Server
			if proto == ProtoH2C {
				ts = httptest.NewUnstartedServer(h)
				ts.Config.Protocols = new(http.Protocols)
				ts.Config.Protocols.SetUnencryptedHTTP2(true)
				ts.Config.ConnState = cnt.state
				ts.Start()
			} else {
				ts = httptest.NewUnstartedServer(h)
				ts.EnableHTTP2 = true
				ts.Config.ConnState = cnt.state
				ts.StartTLS()
			}
			defer ts.Close()
			o := h2Opts(8, proto, 3)
			o.Timeout = time.Second
			r, err := Run(context.Background(), Target{URL: ts.URL + "/"}, o)
			if err != nil {
				t.Fatal(err)
			}
			checkConservation(t, r)
			checkSchedule(t, r, o)
			if r.Served != 8 || r.Dropped != 0 || r.Reconnects != 0 || r.BytesRead != 2*r.OK {
				t.Errorf("served %d of 8, dropped %d %v %v, reconnects %d, %d bytes for %d answers", r.Served, r.Dropped, r.Errors, r.Samples, r.Reconnects, r.BytesRead, r.OK)
			}
			want := int64(8)
			if proto == ProtoH2 {
				want++ // the handshake before the load that learns the server's key exchange
			}
			if n := cnt.conns.Load(); n != want {
				t.Errorf("the server accepted %d connections, want exactly %d", n, want)
			}
			if cnt.most < 2 || cnt.most > 3 {
				t.Errorf("at most %d requests in flight on one connection, want 2 or 3 (3 streams)", cnt.most)
			}
			if (proto == ProtoH2) != (r.TLS != nil && r.TLS.Handshakes == 8) {
				t.Errorf("TLS %+v", r.TLS)
			}
		})
	}
}

// TestH2NotNegotiated: an HTTPS server that speaks HTTP/1.1 only chooses
// it by ALPN: every request fails as bad_response, saying so.
func TestH2NotNegotiated(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer ts.Close()
	r, err := Run(context.Background(), Target{URL: ts.URL + "/"}, h2Opts(2, ProtoH2, 1))
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	if r.OK != 0 || r.Errors["bad_response"] != r.Sent || !strings.Contains(r.Samples["bad_response"], "did not negotiate h2 by ALPN") {
		t.Errorf("ok %d, errors %v %v: want every request bad_response, naming ALPN", r.OK, r.Errors, r.Samples)
	}
}

// TestH2ServerStreams: a server allowing one stream at a time
// (SETTINGS_MAX_CONCURRENT_STREAMS 1), each answered in 250 ms, against
// 8 requests a second on 4 streams: never more than one stream is open
// at the server; requests wait for it, and those it answers too late
// for their timeout are read_timeout (a request cancelled at its timeout
// frees its stream at once, so the next waiting one is sent, not failed
// as queue_timeout); nothing else fails.
func TestH2ServerStreams(t *testing.T) {
	stats := &zooStats{}
	url := startH2ZooStats(t, 1, 0, stats, func(int) string { return "slow" })
	o := h2Opts(1, ProtoH2C, 4)
	o.WarmUp, o.Duration, o.RatePerConn, o.Timeout = 0, 2*time.Second, 8, 600*time.Millisecond
	r, err := Run(context.Background(), Target{URL: url}, o)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	checkSchedule(t, r, o)
	if r.OK == 0 || r.Errors["read_timeout"] == 0 || r.Errors["queue_timeout"]+r.Errors["read_timeout"] != r.Dropped || r.Latency.Min() < 250000 {
		t.Errorf("ok %d, errors %v, p50 %d max %d µs: want answers, and queue_timeout for the requests held back", r.OK, r.Errors, r.Latency.ValueAtQuantile(50), r.Latency.Max())
	}
	stats.mu.Lock()
	defer stats.mu.Unlock()
	if stats.most != 1 {
		t.Errorf("at most %d streams open at the server at once, want 1 (its SETTINGS)", stats.most)
	}
}

// TestH2Zoo: a server on the framer that ends the n-th stream of each
// connection its own way; each way is its own class, never a bare error,
// on every path: one process, 3 shards, and shards planned, served and
// merged as a fleet does (h2c; shards refuse https://). One at a time:
// their timeouts are 300 ms. HTTP/2 has its own client, whatever the
// engine, so the pass with LOADCHECK_TEST_ENGINE set runs the one-process
// path alone.
func TestH2Zoo(t *testing.T) {
	paths := h2Paths()
	for _, tc := range []struct {
		name, way, class string
		reconnects       bool
	}{
		{"refused", "refuse", "refused_stream", false},
		{"reset", "reset", "stream_reset", false},
		{"goaway", "goaway", "goaway", true},
		{"goaway after the stream", "goaway-promised", "", true},
	} {
		for _, p := range paths {
			t.Run(tc.name+"/"+p.name, func(t *testing.T) {
				url := startH2Zoo(t, 0, func(nth int) string {
					if nth%4 == 3 {
						return tc.way
					}
					return "ok"
				})
				o := h2Opts(3, ProtoH2C, 1)
				r, err := p.run(url, o)
				if err != nil {
					t.Fatal(err)
				}
				if p.name != "one process" && r.Shards != 3 {
					t.Errorf("ran in %d shards, want 3", r.Shards)
				}
				checkH2Zoo(t, r, o, tc.class, tc.reconnects)
			})
		}
	}
}

// h2Paths are the paths an HTTP/2 load takes: one process, and the
// zoo's shard paths (h2c: shards refuse https://), which only the
// default pass runs (see TestH2Zoo).
func h2Paths() []zooPath {
	paths := []zooPath{{name: "one process", run: func(url string, o Options) (*Result, error) {
		return Run(context.Background(), Target{URL: url}, o)
	}}}
	for _, p := range zooPaths {
		if p.engine == "" && !p.tls && testEngine == "" {
			paths = append(paths, p)
		}
	}
	return paths
}

// checkH2Zoo checks one TestH2Zoo run whose every fourth stream ended as
// class ("": answered, with a GOAWAY promising it).
func checkH2Zoo(t *testing.T, r *Result, o Options, class string, reconnects bool) {
	t.Helper()
	checkConservation(t, r)
	checkSchedule(t, r, o)
	other := r.Dropped - r.Errors[class]
	if class == "" {
		// The GOAWAY promised the stream it came with: answered, the
		// connection reopened for the next, nothing dropped.
		if r.OK != r.Sent || r.Dropped != 0 || r.Served != 0 {
			t.Errorf("ok %d of %d, errors %v, served %d: want every request answered, no connection served", r.OK, r.Sent, r.Errors, r.Served)
		}
	} else if r.OK == 0 || r.Errors[class] == 0 || other != 0 || r.Served != 0 {
		t.Errorf("ok %d, errors %v %v, served %d: want answers and %s alone, no connection served", r.OK, r.Errors, r.Samples, r.Served, class)
	}
	if reconnects != (r.Reconnects > 0) {
		t.Errorf("reconnects %d", r.Reconnects)
	}
	if class == "stream_reset" && !strings.Contains(r.Samples["stream_reset"], "INTERNAL_ERROR") {
		t.Errorf("the sample %q does not name the error code", r.Samples["stream_reset"])
	}
}

// TestH2FlowStall: a server that grants 10 bytes of flow-control window
// and never more stalls a POST of 100 bytes: flow_control_stall, not the
// server's read_timeout.
func TestH2FlowStall(t *testing.T) {
	url := startH2ZooWindow(t, 0, 10, func(int) string { return "stall" })
	o := h2Opts(3, ProtoH2C, 1) // 3: a connection for each of 3 shards
	o.Method, o.Body = "POST", strings.Repeat("x", 100)
	for _, p := range h2Paths() {
		t.Run(p.name, func(t *testing.T) {
			r, err := p.run(url, o)
			if err != nil {
				t.Fatal(err)
			}
			checkConservation(t, r)
			if r.Sent == 0 || r.Errors["flow_control_stall"] != r.Sent {
				t.Errorf("sent %d, errors %v %v: want every request flow_control_stall", r.Sent, r.Errors, r.Samples)
			}
		})
	}
}

// TestH2SettingsTimeout: a server that reads the client's preface and
// its requests and sends nothing back, not even its SETTINGS: every
// request is settings_timeout, not the server's read_timeout.
func TestH2SettingsTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	for _, p := range h2Paths() {
		t.Run(p.name, func(t *testing.T) {
			r, err := p.run("http://"+ln.Addr().String()+"/", h2Opts(3, ProtoH2C, 2))
			if err != nil {
				t.Fatal(err)
			}
			checkConservation(t, r)
			if r.Sent == 0 || r.Errors["settings_timeout"]+r.Errors["queue_timeout"] != r.Sent || r.Errors["settings_timeout"] == 0 {
				t.Errorf("sent %d, errors %v: want settings_timeout (and queue_timeout behind the 2 streams)", r.Sent, r.Errors)
			}
		})
	}
}

// startH2Zoo serves h2c with prior knowledge from the framer, allowing
// maxStreams concurrent streams (0: no limit): the n-th stream of a
// connection (from 0) is answered "ok", "slow" (250 ms later, holding
// up the connection's other streams), refused
// (RST_STREAM REFUSED_STREAM), reset (RST_STREAM INTERNAL_ERROR) or
// ended by a GOAWAY whose last stream id is the one before it, after
// which the connection closes.
func startH2Zoo(t *testing.T, maxStreams uint32, way func(nth int) string) string {
	return startH2ZooWindow(t, maxStreams, 0, way)
}

// startH2ZooWindow is startH2Zoo whose SETTINGS_INITIAL_WINDOW_SIZE is
// window (0: the default), never raised by a WINDOW_UPDATE.
func startH2ZooWindow(t *testing.T, maxStreams, window uint32, way func(nth int) string) string {
	return startH2ZooStats(t, maxStreams, window, nil, way)
}

// startH2ZooStats is startH2ZooWindow counting its open streams into
// stats (nil: not counted).
func startH2ZooStats(t *testing.T, maxStreams, window uint32, stats *zooStats, way func(nth int) string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveH2Zoo(c, maxStreams, window, stats, way)
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

func serveH2Zoo(c net.Conn, maxStreams, window uint32, stats *zooStats, way func(nth int) string) {
	defer c.Close()
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(c, preface); err != nil || string(preface) != http2.ClientPreface {
		return
	}
	fr := http2.NewFramer(c, c)
	var wmu sync.Mutex // the framer's writes: the loop's and the slow answers'
	write := func(f func() error) { wmu.Lock(); _ = f(); wmu.Unlock() }
	var settings []http2.Setting
	if maxStreams > 0 {
		settings = append(settings, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: maxStreams})
	}
	if window > 0 {
		settings = append(settings, http2.Setting{ID: http2.SettingInitialWindowSize, Val: window})
	}
	if fr.WriteSettings(settings...) != nil {
		return
	}
	answer := func(id uint32) error {
		var hb bytes.Buffer
		enc := hpack.NewEncoder(&hb)
		_ = enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
		_ = enc.WriteField(hpack.HeaderField{Name: "content-length", Value: "2"})
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true}); err != nil {
			return err
		}
		return fr.WriteData(id, true, []byte("ok"))
	}
	if stats == nil {
		stats = &zooStats{}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	nth, last := 0, uint32(0)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				write(fr.WriteSettingsAck)
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				write(func() error { return fr.WritePing(true, f.Data) })
			}
		case *http2.RSTStreamFrame:
			stats.close(f.StreamID)
		case *http2.HeadersFrame:
			id := f.StreamID
			stats.open(id)
			switch way(nth) {
			case "refuse":
				stats.close(id)
				write(func() error { return fr.WriteRSTStream(id, http2.ErrCodeRefusedStream) })
			case "reset":
				stats.close(id)
				write(func() error { return fr.WriteRSTStream(id, http2.ErrCodeInternal) })
			case "goaway":
				write(func() error { return fr.WriteGoAway(last, http2.ErrCodeNo, nil) })
				time.Sleep(20 * time.Millisecond)
				return
			case "goaway-promised":
				write(func() error { return errors.Join(fr.WriteGoAway(id, http2.ErrCodeNo, nil), answer(id)) })
				time.Sleep(20 * time.Millisecond)
				return
			case "stall":
				// Answer nothing, and grant no window for the body.
			case "slow":
				wg.Add(1)
				go func() {
					defer wg.Done()
					time.Sleep(250 * time.Millisecond)
					if stats.close(id) {
						write(func() error { return answer(id) })
					}
				}()
			default:
				stats.close(id)
				write(func() error { return answer(id) })
			}
			nth, last = nth+1, id
		}
	}
}

// zooStats counts the streams open at the zoo server: HEADERS received,
// not yet answered, refused, reset or cancelled by the client.
type zooStats struct {
	mu   sync.Mutex
	live map[uint32]bool
	most int
}

func (z *zooStats) open(id uint32) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.live == nil {
		z.live = map[uint32]bool{}
	}
	z.live[id] = true
	z.most = max(z.most, len(z.live))
}

// close reports whether id was still open.
func (z *zooStats) close(id uint32) bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	if !z.live[id] {
		return false
	}
	delete(z.live, id)
	return true
}
