package bench

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testTLS is a server TLS config with httptest's certificate.
func testTLS(t testing.TB) *tls.Config {
	t.Helper()
	ts := httptest.NewTLSServer(nil)
	defer ts.Close()
	return &tls.Config{Certificates: ts.TLS.Certificates}
}

// TestTLSKeepAlive: over https:// every connection pays one handshake,
// timed, and the version and cipher are recorded.
func TestTLSKeepAlive(t *testing.T) {
	s := &server{tls: testTLS(t), handle: func(net.Conn, int) string { return okResponse }}
	url := startServer(t, s)
	r, err := Run(context.Background(), Target{URL: url}, quickOpts(8))
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	checkSchedule(t, r, quickOpts(8))
	if r.Served != 8 || r.Dropped != 0 {
		t.Fatalf("served %d dropped %d (%v), want 8 and 0", r.Served, r.Dropped, r.Errors)
	}
	if r.TLS == nil || r.TLS.Handshakes != 8 || r.TLS.Resumed != 0 || r.TLS.HandshakeTime.TotalCount() != 8 || r.TLS.Version != "TLS 1.3" || r.TLS.Cipher == "" {
		t.Fatalf("TLS %+v, want 8 timed full TLS 1.3 handshakes (one client never resumes another's session) and a cipher", r.TLS)
	}
}

// TestTLSResume: a server that closes after every answer makes every
// request a new handshake; with resumption on (the default) each
// connection's reconnects resume its own session, its first handshake
// being a full one; with NoTLSResume none resumes.
func TestTLSResume(t *testing.T) {
	closing := "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
	for _, noResume := range []bool{false, true} {
		s := &server{tls: testTLS(t), handle: func(_ net.Conn, nth int) string {
			if nth > 1 {
				return ""
			}
			return closing
		}}
		url := startServer(t, s)
		o := quickOpts(4)
		o.NoTLSResume = noResume
		r, err := Run(context.Background(), Target{URL: url}, o)
		if err != nil {
			t.Fatal(err)
		}
		checkConservation(t, r)
		tl := r.TLS
		if tl == nil || tl.Handshakes < 8 || int64(r.Reconnects)+4 != tl.Handshakes {
			t.Fatalf("resume off %v: TLS %+v, reconnects %d: want a handshake per open and reconnect", noResume, tl, r.Reconnects)
		}
		if noResume && tl.Resumed != 0 || !noResume && (tl.Resumed > tl.Handshakes-4 || tl.Resumed < tl.Handshakes/2) {
			t.Errorf("resume off %v: %d of %d handshakes resumed", noResume, tl.Resumed, tl.Handshakes)
		}
	}
}

// TestTLSHandshakeFails: https:// to a plain HTTP server fails every
// handshake, as its own class.
func TestTLSHandshakeFails(t *testing.T) {
	s := &server{handle: func(net.Conn, int) string { return okResponse }}
	url := "https" + startServer(t, s)[len("http"):]
	r, err := Run(context.Background(), Target{URL: url}, quickOpts(3))
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	if r.OK != 0 || r.Errors["tls_handshake"] == 0 || r.Errors["tls_handshake"] != r.Dropped || r.TLS.Failed == 0 {
		t.Fatalf("ok %d errors %v TLS %+v: want every request dropped as tls_handshake", r.OK, r.Errors, r.TLS)
	}
}

// TestTLSOffersServersGroup: one handshake before the load learns the
// key exchange the server chooses. A server that does not take the
// hybrid post-quantum group gets ClientHellos offering its own group
// alone, and no post-quantum key; one that takes it gets it offered
// first, as browsers do. The group is recorded.
func TestTLSOffersServersGroup(t *testing.T) {
	for _, tc := range []struct {
		server []tls.CurveID // nil: crypto/tls's defaults
		want   tls.CurveID
	}{
		{[]tls.CurveID{tls.CurveP256}, tls.CurveP256},
		{nil, tls.X25519MLKEM768},
	} {
		t.Run(tc.want.String(), func(t *testing.T) {
			var mu sync.Mutex
			var firsts []tls.CurveID
			cfg := testTLS(t)
			cfg.CurvePreferences = tc.server
			cfg.GetConfigForClient = func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
				mu.Lock()
				firsts = append(firsts, hi.SupportedCurves[0])
				mu.Unlock()
				return nil, nil
			}
			url := startServer(t, &server{tls: cfg, handle: func(net.Conn, int) string { return okResponse }})
			r, err := Run(context.Background(), Target{URL: url}, quickOpts(4))
			if err != nil {
				t.Fatal(err)
			}
			checkConservation(t, r)
			if r.Served != 4 || r.TLS == nil || r.TLS.Group != tc.want.String() {
				t.Fatalf("served %d, TLS %+v: want 4 served over %s", r.Served, r.TLS, tc.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(firsts) != 5 {
				t.Fatalf("%d ClientHellos, want the probe's and 4", len(firsts))
			}
			for i, g := range firsts[1:] {
				if g != tc.want {
					t.Errorf("connection %d's ClientHello offered %s first, want %s", i, g, tc.want)
				}
			}
		})
	}
}

// CheckTLS makes one handshake before the load: it verifies the
// certificate (unless Insecure) and, for a server loadcheck did not
// start, that an h2 load gets h2 by ALPN; nothing to check, no handshake.
func TestCheckTLS(t *testing.T) {
	start := func(h2 bool) (url string, roots []byte, conns *atomic.Int64) {
		conns = new(atomic.Int64)
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		srv.EnableHTTP2 = h2
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		roots = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
		return srv.URL + "/", roots, conns
	}
	h1URL, h1Roots, h1Conns := start(false)
	h2URL, h2Roots, h2Conns := start(true)
	ctx := context.Background()
	h2Load := Load{Protocol: ProtoH2}
	for _, tc := range []struct {
		name       string
		url        string
		l          Load
		roots      []byte
		external   bool
		conns      *atomic.Int64
		want       string // "" no error; else a part of it
		handshakes int64
	}{
		{"verified, HTTP/1.1", h1URL, Load{}, h1Roots, true, h1Conns, "", 1},
		{"unverified", h1URL, Load{}, nil, true, h1Conns, "cannot be verified for 127.0.0.1", 1},
		{"insecure, HTTP/1.1: nothing to check", h1URL, Load{Insecure: true}, nil, true, h1Conns, "", 0},
		{"h2 load, a target without h2", h1URL, h2Load, h1Roots, true, h1Conns, `did not negotiate h2 by ALPN (it chose "http/1.1")`, 1},
		{"h2 load, a server loadcheck started", h1URL, h2Load, h1Roots, false, h1Conns, "", 1},
		{"h2 load, insecure, a target without h2", h1URL, Load{Protocol: ProtoH2, Insecure: true}, nil, true, h1Conns, "did not negotiate h2", 1},
		{"h2 load, a target with h2", h2URL, h2Load, h2Roots, true, h2Conns, "", 1},
		{"plain http", "http://127.0.0.1:1/", h2Load, nil, true, h1Conns, "", 0},
	} {
		before := tc.conns.Load()
		err := CheckTLS(ctx, tc.url, tc.l, tc.roots, tc.external)
		switch {
		case tc.want == "" && err != nil, tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		// The server counts a connection once it is accepted: wait for it.
		for i := 0; i < 100 && tc.conns.Load()-before < tc.handshakes; i++ {
			time.Sleep(5 * time.Millisecond)
		}
		if n := tc.conns.Load() - before; n != tc.handshakes {
			t.Errorf("%s: %d connections, want %d", tc.name, n, tc.handshakes)
		}
	}
}
