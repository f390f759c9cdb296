package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/net/http2"
)

// TLS is what a run over https:// saw of TLS: every handshake, new
// connections and reconnects alike, is timed and counted.
type TLS struct {
	Handshakes int64  `json:"handshakes"`
	Resumed    int64  `json:"resumed"` // of those, session resumptions
	Failed     int64  `json:"failed"`  // handshakes that failed (class tls_handshake)
	Version    string `json:"version,omitempty"`
	Cipher     string `json:"cipher,omitempty"`
	// Group is the key exchange the server chose, as crypto/tls names it
	// (X25519, X25519MLKEM768, ...).
	Group string `json:"group,omitempty"`
	// HandshakeTime holds every successful handshake's duration in
	// microseconds, after the TCP connect.
	HandshakeTime *hdrhistogram.Histogram `json:"-"`
}

// tlsClient is a run's TLS side: the config connections start from, and
// the counts.
type tlsClient struct {
	cfg                         *tls.Config
	resume                      bool
	handshakes, resumed, failed atomic.Int64
	once                        sync.Once
	version, cipher, group      string
}

// newTLSClient is the client for an https:// target whose Host header is
// serverName. Certificates are not verified: loadcheck loads servers it
// started itself, or that the user named, with self-signed certificates
// as the rule; the handshake's cost is the same.
func newTLSClient(serverName string, resume bool) *tlsClient {
	cfg := &tls.Config{ServerName: serverName, InsecureSkipVerify: true} //nolint:gosec // see above
	return &tlsClient{cfg: cfg, resume: resume}
}

// forConn is the config of one connection. Each connection is one
// client: its first handshake is a full one, and with resumption on its
// reconnects resume its own session, as a returning browser does; one
// connection never resumes another's.
func (t *tlsClient) forConn() *tls.Config {
	if !t.resume {
		return t.cfg
	}
	cfg := t.cfg.Clone()
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	return cfg
}

// handshake runs the TLS handshake on a connected socket, within the
// deadline the dial set, and times it into h.
func (t *tlsClient) handshake(c Conn, cfg *tls.Config, rec *recorder) (*tls.Conn, error) {
	began := time.Now()
	var nc net.Conn
	switch x := c.(type) {
	case *os.File:
		nc = fileConn{x}
	case net.Conn:
		nc = x
	default:
		return nil, fmt.Errorf("TLS over %T", c)
	}
	tc := tls.Client(nc, cfg)
	return tc, t.record(tc, tc.Handshake(), began, rec)
}

// record counts a handshake on tc that began at began and ended with err,
// and times it into rec's histogram when it succeeded; it returns err.
func (t *tlsClient) record(tc *tls.Conn, err error, began time.Time, rec *recorder) error {
	if err != nil {
		t.failed.Add(1)
		return err
	}
	took := time.Since(began)
	st := tc.ConnectionState()
	t.handshakes.Add(1)
	if st.DidResume {
		t.resumed.Add(1)
	}
	t.once.Do(func() {
		t.version, t.cipher, t.group = tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.CurveID.String()
	})
	rec.mu.Lock()
	_ = rec.handshake.RecordValue(max(took.Microseconds(), 1))
	rec.mu.Unlock()
	return nil
}

// result is the counts so far, with the handshake histogram merged from
// recs.
func (t *tlsClient) result(recs []recorder) *TLS {
	if t == nil {
		return nil
	}
	out := &TLS{Handshakes: t.handshakes.Load(), Resumed: t.resumed.Load(), Failed: t.failed.Load(),
		Version: t.version, Cipher: t.cipher, Group: t.group, HandshakeTime: NewHistogram()}
	for i := range recs {
		out.HandshakeTime.Merge(recs[i].handshake)
	}
	return out
}

// offerServersGroup makes one handshake with the server at addr before
// the load, offering what crypto/tls offers by default (a hybrid
// post-quantum key exchange first, as browsers do), and has the load's
// ClientHellos offer the group the server chose. Against a server
// that chooses a hybrid group nothing changes. Against one that does not
// (OpenSSL before 3.5, say) every handshake then costs the server what it
// did, and the client no post-quantum key it would throw away: that key
// took half the generator's memory at 4000 connections opened at once
// (bench/perf/README.md). A probe that fails changes nothing: the load's
// handshakes then fail and are counted.
func (t *tlsClient) offerServersGroup(ctx context.Context, addr string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: t.cfg.Clone()}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return
	}
	chosen := c.(*tls.Conn).ConnectionState().CurveID
	c.Close()
	if chosen == 0 || strings.Contains(chosen.String(), "MLKEM") {
		return
	}
	// That group alone: crypto/tls orders the groups itself, and a key
	// share for another would cost a HelloRetryRequest.
	t.cfg.CurvePreferences = []tls.CurveID{chosen}
}

// fileConn is a raw socket as the net.Conn crypto/tls wants.
type fileConn struct{ *os.File }

// Read is the socket's, with a read that hit its deadline said to be
// temporary: os.File's error for it is no net.Error, and crypto/tls keeps
// any other error as the connection's for good, so a server answering
// after the request's timeout would fail every later read on the
// connection at once, as queue_timeout, instead of being waited for.
func (f fileConn) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = deadlineError{err}
	}
	return n, err
}

// deadlineError is a read that hit its deadline, as a temporary net.Error.
type deadlineError struct{ error }

func (e deadlineError) Unwrap() error { return e.error }
func (deadlineError) Timeout() bool   { return true }
func (deadlineError) Temporary() bool { return true }

func (fileConn) LocalAddr() net.Addr  { return &net.TCPAddr{} }
func (fileConn) RemoteAddr() net.Addr { return &net.TCPAddr{} }

// tlsFor is the TLS client for t, or nil for http://.
func tlsFor(t Target, o Options) (*tlsClient, error) {
	u, err := url.Parse(t.URL)
	if err != nil || u.Scheme != "https" {
		return nil, nil
	}
	if o.Shards > 1 {
		return nil, fmt.Errorf("an https:// load runs in one generator process for now, not %d: lower -c below what one process can open, or use http://", o.Shards)
	}
	return newTLSClient(serverName(u, o.Headers), !o.NoTLSResume), nil
}

// serverName is the name a TLS client asks for (SNI): the Host header's,
// or the URL's host.
func serverName(u *url.URL, headers []string) string {
	name := u.Hostname()
	for _, line := range headers {
		if h, err := ParseHeader(line); err == nil && strings.EqualFold(h.Name, "Host") {
			name = h.Value
			if host, _, err := net.SplitHostPort(name); err == nil {
				name = host
			}
		}
	}
	return name
}

// UnverifiedError is an https:// server whose certificate did not verify
// before the load.
type UnverifiedError struct {
	URL, Name string
	Err       error
}

func (e *UnverifiedError) Error() string {
	return fmt.Sprintf("%s: the server's certificate cannot be verified for %s (%v): pass --insecure (insecure: true under the scenario's load) to load it anyway", e.URL, e.Name, e.Err)
}

func (e *UnverifiedError) Unwrap() error { return e.Err }

// handshake connects to u's host and port (443 when none) and makes a
// TLS handshake with cfg, within 10 s.
func handshake(ctx context.Context, u *url.URL, cfg *tls.Config) (*tls.Conn, error) {
	port := u.Port()
	if port == "" {
		port = "443"
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: cfg}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return nil, err
	}
	return c.(*tls.Conn), nil
}

// negotiatedH2 errs when c's handshake did not choose h2 by ALPN.
func negotiatedH2(c *tls.Conn) error {
	p := c.ConnectionState().NegotiatedProtocol
	if p == http2.NextProtoTLS {
		return nil
	}
	if p == "" {
		p = "http/1.1"
	}
	return fmt.Errorf("the server did not negotiate h2 by ALPN (it chose %q): load mod_http2 and list h2 in Protocols, or drop --http2", p)
}

// CheckTLS makes one handshake with rawURL's server, for the name the
// load asks for, before the load. It checks the server's certificate
// against roots (PEM; none: the system's), unless l.Insecure: the load's
// own handshakes then skip the check, as wrk's do, its cost being the
// client's, not the server's, and the same every time. With h2 set and
// an h2 load, it offers h2 and HTTP/1.1 by ALPN, as the load's
// connections do, and errs, naming what the server chose, when that is
// not h2: for a server loadcheck did not start (one it starts is checked
// by its config, and one whose module declines at run time, mod_http2 on
// prefork, is shown failing). It does nothing for http://, nor when
// there is nothing to check.
func CheckTLS(ctx context.Context, rawURL string, l Load, roots []byte, h2 bool) error {
	u, err := url.Parse(rawURL)
	h2 = h2 && l.Protocol == ProtoH2
	if err != nil || u.Scheme != "https" || (l.Insecure && !h2) {
		return nil
	}
	cfg := &tls.Config{ServerName: serverName(u, l.Headers), InsecureSkipVerify: l.Insecure}
	if len(roots) > 0 {
		cfg.RootCAs = x509.NewCertPool()
		cfg.RootCAs.AppendCertsFromPEM(roots)
	}
	if h2 {
		cfg.NextProtos = []string{http2.NextProtoTLS, "http/1.1"}
	}
	c, err := handshake(ctx, u, cfg)
	if err != nil {
		var cv *tls.CertificateVerificationError
		if errors.As(err, &cv) {
			return &UnverifiedError{URL: rawURL, Name: cfg.ServerName, Err: cv.Err}
		}
		return fmt.Errorf("%s: TLS handshake before the load: %w", rawURL, err)
	}
	defer c.Close()
	if h2 {
		if err := negotiatedH2(c); err != nil {
			return fmt.Errorf("%s: %w", rawURL, err)
		}
	}
	return nil
}
