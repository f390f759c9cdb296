package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
)

// h2conn is one HTTP/2 connection's schedule (Load.Protocol h2 or h2c):
// its slots are due as HTTP/1.1's are, and each is sent as a stream of
// one client connection (golang.org/x/net/http2's framer and HPACK), at
// most Load.Streams at a time. The schedule runs on its own goroutine;
// each stream's answer is read on one of its own, and mu keeps the
// connection's accounting whole between them.
type h2conn struct {
	conn // the schedule, the socket and the accounting HTTP/1.1 uses

	cc      *http2.ClientConn
	heard   *heardConn    // cc's socket
	streams chan struct{} // a token per stream in flight
	wg      sync.WaitGroup
	// mu guards the accounting (conn.st through runner.fail and
	// succeed, lastUsed, inflight) against streams ending.
	mu       sync.Mutex
	inflight int
	// retired are client connections the server sent a GOAWAY on or
	// closed, replaced by a new one; their streams below the GOAWAY's
	// last stream id still end on them, and they are closed at the end.
	retired []retiredConn
}

// retiredConn is a client connection no longer sent on.
type retiredConn struct {
	cc   *http2.ClientConn
	stop func() bool
}

// h2Client is a run's HTTP/2 side: the transport (its settings only:
// every connection is dialled by the runner) and one request per path.
type h2Client struct {
	t    *http2.Transport
	reqs []*http.Request
	body string
	bufs sync.Pool
}

// newH2Client is the HTTP/2 client of a load of o against t.
func newH2Client(t Target, o Options) (*h2Client, error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		return nil, fmt.Errorf("parse target URL %q: %w", t.URL, err)
	}
	paths := o.Paths
	if len(paths) == 0 {
		paths = []string{u.RequestURI()}
	}
	// Strict: a connection at the server's stream limit still takes new
	// requests (they wait for a stream), never a new TCP connection; the
	// load opens exactly its connections.
	h := &h2Client{t: &http2.Transport{AllowHTTP: true, DisableCompression: true, StrictMaxConcurrentStreams: true}, body: o.Body}
	h.bufs.New = func() any { b := make([]byte, 16<<10); return &b }
	for _, p := range paths {
		req, err := http.NewRequest(strings.ToUpper(cmpOr(o.Method, http.MethodGet)), u.Scheme+"://"+u.Host+p, nil)
		if err != nil {
			return nil, fmt.Errorf("request for %s: %w", p, err)
		}
		req.Header.Set("User-Agent", "loadcheck")
		for _, line := range o.Headers {
			hd, err := ParseHeader(line)
			if err != nil {
				return nil, err
			}
			if strings.EqualFold(hd.Name, "Host") {
				req.Host = hd.Value // :authority
				continue
			}
			req.Header.Add(hd.Name, hd.Value)
		}
		h.reqs = append(h.reqs, req)
	}
	return h, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// request is slot k's request of connection id, bound to ctx.
func (h *h2Client) request(ctx context.Context, id, k int) *http.Request {
	req := h.reqs[(id+k)%len(h.reqs)].WithContext(ctx)
	if h.body != "" {
		req.Body, req.ContentLength = io.NopCloser(strings.NewReader(h.body)), int64(len(h.body))
	}
	return req
}

// h2connection runs connection idx's schedule over HTTP/2. Every slot
// whose due time falls in the measured window ends as exactly one of ok,
// failed (with a class) or in flight, as over HTTP/1.1.
func (r *runner) h2connection(ctx context.Context, idx int) {
	h := &h2conn{}
	c := &h.conn
	r.initConn(ctx, c, idx)
	h.streams = make(chan struct{}, r.opts.StreamsPerConn())
	c.timer = time.NewTimer(time.Hour)
	c.timer.Stop()
	defer h.closeAll()
	defer func() {
		r.scheduled.Done()
		select { // hold the connection until every schedule has ended
		case <-r.allDone:
		case <-ctx.Done():
		}
	}()
	if !sleepUntil(ctx, c.timer, c.openAt) {
		return
	}
	for k := 0; ; k++ {
		s, ok := c.next(ctx, k)
		if !ok {
			h.wg.Wait() // the window's streams end (answered, or timed out)
			if c.windowOver && ctx.Err() == nil {
				h.atWindowEnd()
			}
			return
		}
		h.send(ctx, s)
	}
}

// send sends slot s as a stream once one of the connection's streams is
// free, opening the connection first when it has none; it fails s when
// no stream freed up before its deadline.
func (h *h2conn) send(ctx context.Context, s slot) {
	c, r := &h.conn, h.conn.r
	h.mu.Lock()
	late := c.late(ctx, s)
	h.mu.Unlock()
	if late {
		return
	}
	if !h.takeStream(ctx, s) {
		return
	}
	s.now = time.Now()
	h.mu.Lock()
	ok := h.ready(ctx, &s)
	if ok {
		h.inflight++
		if c.st.waitingSince.Load() == 0 {
			c.st.waitingSince.Store(s.now.UnixNano())
		}
	}
	h.mu.Unlock()
	if !ok {
		<-h.streams
		return
	}
	h.wg.Add(1)
	go h.stream(ctx, s, h.cc, h.heard, r.h2.request)
}

// takeStream waits until one of the connection's streams is free, at
// most until s's deadline (queue_timeout: the connection was busy with
// earlier requests, as an HTTP/1.1 connection is).
func (h *h2conn) takeStream(ctx context.Context, s slot) bool {
	select {
	case h.streams <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(time.Until(s.deadline))
	defer t.Stop()
	select {
	case h.streams <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	h.mu.Lock()
	h.conn.r.fail(ctx, h.conn.st, s.measured, QueueTimeout, errStreamsBusy)
	h.mu.Unlock()
	return false
}

var errStreamsBusy = errors.New("every stream of the connection was still waiting for its answer")

// ready makes sure the connection has a client connection that takes
// new streams, opening one if needed: a client connection the server
// sent a GOAWAY on or closed is retired (a close while idle past the
// server's keep-alive timeout is reopened as HTTP/1.1's is, without a
// failure). It reports false when the open failed (s is then failed).
// Called with mu held.
func (h *h2conn) ready(ctx context.Context, s *slot) bool {
	c := &h.conn
	idle := false
	if h.cc != nil && !h.cc.CanTakeNewRequest() {
		idle = c.idleTimedOut(s.now)
		h.retire()
	}
	if h.cc != nil {
		return true
	}
	if !c.open(ctx, s, idle) {
		return false
	}
	nc, err := h2Socket(c.c)
	if err == nil {
		h.heard = &heardConn{Conn: nc}
		h.cc, err = c.r.h2.t.NewClientConn(h.heard)
	}
	if err != nil {
		c.r.fail(ctx, c.st, s.measured, BadResponse, err)
		c.close()
		c.retryAt = time.Now().Add(closedLoopRetry)
		return false
	}
	return true
}

// h2Socket checks the opened socket for HTTP/2 (over TLS, h2 must have
// been negotiated by ALPN), clears the deadline the dial set (the
// client connection reads on its own from now on) and returns it as the
// net.Conn the framer wants.
func h2Socket(c Conn) (net.Conn, error) {
	_ = c.SetDeadline(time.Time{})
	switch x := c.(type) {
	case *tls.Conn:
		if p := x.ConnectionState().NegotiatedProtocol; p != http2.NextProtoTLS {
			return nil, fmt.Errorf("the server did not negotiate h2 by ALPN (it chose %q): load mod_http2 and list h2 in Protocols, or drop --http2", cmpOr(p, "http/1.1"))
		}
		return x, nil
	case *os.File:
		return fileConn{x}, nil
	case net.Conn:
		return x, nil
	}
	return nil, fmt.Errorf("HTTP/2 over %T", c)
}

// heardConn is the socket a client connection reads, noting whether the
// server sent any byte on it.
type heardConn struct {
	net.Conn
	any atomic.Bool
}

func (h *heardConn) Read(p []byte) (int, error) {
	n, err := h.Conn.Read(p)
	if n > 0 && !h.any.Load() {
		h.any.Store(true)
	}
	return n, err
}

// retire stops sending on the client connection: the server closed it
// or sent a GOAWAY. It stays open for the streams it still answers.
func (h *h2conn) retire() {
	c := &h.conn
	h.retired = append(h.retired, retiredConn{h.cc, c.stopWatch})
	h.cc, c.c = nil, nil
	c.rr.release()
	c.closedAt = time.Now()
	c.byServer = true
	c.r.open.Add(-1)
}

// stream sends s's request on cc and reads its answer, then accounts it.
func (h *h2conn) stream(ctx context.Context, s slot, cc *http2.ClientConn, heard *heardConn, request func(context.Context, int, int) *http.Request) {
	defer h.wg.Done()
	defer func() { <-h.streams }()
	c, r := &h.conn, h.conn.r
	rctx, cancel := context.WithDeadline(ctx, s.deadline)
	defer cancel()
	var wrote, sent atomic.Bool
	rctx = httptrace.WithClientTrace(rctx, &httptrace.ClientTrace{
		WroteHeaders: func() { wrote.Store(true) },
		WroteRequest: func(i httptrace.WroteRequestInfo) { sent.Store(i.Err == nil) },
	})
	sentAt := time.Now()
	resp, err := cc.RoundTrip(request(rctx, c.id, s.k))
	var body int64
	status := 0
	if err == nil {
		status = resp.StatusCode
		buf := r.h2.bufs.Get().(*[]byte)
		body, err = io.CopyBuffer(io.Discard, resp.Body, *buf)
		r.h2.bufs.Put(buf)
		_ = resp.Body.Close()
	}
	done := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err != nil:
		r.fail(ctx, c.st, s.measured, h2Class(err, rctx, wrote.Load(), sent.Load(), heard.any.Load()), err)
	case done.After(s.deadline):
		r.fail(ctx, c.st, s.measured, ReadTimeout, errReadLate)
		r.lateAll.Add(1)
	default:
		if cl, bad := classifyStatus(status); bad {
			r.fail(ctx, c.st, s.measured, cl, statusError(status))
		} else {
			r.succeed(c.rec, c.st, s.measured, done.Sub(s.due), done.Sub(sentAt), int(body), -1)
		}
	}
	c.lastUsed = done
	if h.inflight--; h.inflight == 0 {
		c.st.waitingSince.Store(0)
	}
}

// h2Class names the cause of a stream that failed with err; wrote says
// whether its request's headers had gone out, sent whether its body had
// too, and heard whether the server had sent anything on the connection.
func h2Class(err error, rctx context.Context, wrote, sent, heard bool) Class {
	var se http2.StreamError
	var ge http2.GoAwayError
	switch {
	case errors.As(err, &se) && se.Code == http2.ErrCodeRefusedStream:
		return RefusedStream
	case errors.As(err, &se):
		return StreamReset
	case errors.As(err, &ge), strings.Contains(err.Error(), "GOAWAY"):
		return GoAway
	case errors.Is(err, context.DeadlineExceeded) || rctx.Err() != nil || isTimeout(err):
		switch {
		case !heard:
			// A server's connection preface is its SETTINGS frame:
			// not one byte came.
			return SettingsWait
		case !wrote:
			// Never sent: it waited for a stream the server allows
			// (its SETTINGS_MAX_CONCURRENT_STREAMS) until its timeout.
			return QueueTimeout
		case !sent:
			// Its headers went out, its body could not: the server
			// granted no flow-control window for it.
			return FlowStall
		}
		return ReadTimeout
	case strings.Contains(err.Error(), "client conn not usable"), strings.Contains(err.Error(), "client conn is closed"):
		return ClosedByServer
	}
	return classifyIO(err, true)
}

// atWindowEnd checks the connection as the measured window ends: one
// the server closed or sent a GOAWAY on in the window was not held
// through it, so it is not served.
func (h *h2conn) atWindowEnd() {
	c := &h.conn
	h.mu.Lock()
	defer h.mu.Unlock()
	if !c.st.everConnected {
		return
	}
	switch {
	case h.cc != nil && !h.cc.CanTakeNewRequest() && !c.idleTimedOut(time.Now()):
		h.retire()
	case h.cc == nil && c.byServer && !c.closedAt.Before(c.r.measureAt()):
	default:
		return
	}
	c.st.brokenInWindow = true
	c.st.closedAtEnd = true
}

// closeAll closes the connection and every retired one.
func (h *h2conn) closeAll() {
	if h.cc != nil {
		_ = h.cc.Close()
		h.cc = nil
	}
	h.conn.close()
	for _, rc := range h.retired {
		rc.stop()
		_ = rc.cc.Close()
	}
}
