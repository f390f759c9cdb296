package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// HTTP/2 (Load.Protocol h2 or h2c) runs on golang.org/x/net/http2's
// Framer and HPACK: the framing and the header compression are theirs,
// the client on top is loadcheck's own, so that a request costs one
// HEADERS frame written and its answer's frames read, and nothing per
// stream beyond that (no goroutine, context or http.Request).
//
// Each connection has two goroutines: its schedule, which opens the
// socket and writes each slot's request as a stream when one of at most
// Load.Streams (and the server's SETTINGS_MAX_CONCURRENT_STREAMS) is
// free; and a reader, which accounts each stream as its answer ends, a
// reset or a GOAWAY ends it, or its socket dies. A timer fails the
// streams whose deadline passed. Every slot ends as exactly one of ok,
// failed (with a class) or in flight: whoever takes a stream out of its
// socket's table accounts for it.

// h2Client is a run's HTTP/2 side: each path's request as an HPACK
// block, encoded once without the dynamic table (so that it is the same
// on every stream of every connection).
type h2Client struct {
	blocks [][]byte // per path
	// sizeUpdate opens a connection's first block: the dynamic table's
	// size set to 0 (RFC 7541 §6.3).
	sizeUpdate []byte
	body       []byte
}

// h2 connection windows: what loadcheck lets the server send before it
// reads, per stream and on the whole connection.
const (
	h2StreamWindow = 1 << 20
	h2ConnWindow   = 1 << 30
	h2MaxBody      = 16 << 10 // a request body larger than this is refused (Load.Validate): one DATA frame
)

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
	authority, method := u.Host, strings.ToUpper(o.Method)
	if method == "" {
		method = "GET"
	}
	var extra []hpack.HeaderField
	for _, line := range o.Headers {
		h, err := ParseHeader(line)
		if err != nil {
			return nil, err
		}
		name := strings.ToLower(h.Name)
		switch name {
		case "host":
			authority = h.Value // :authority
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			return nil, fmt.Errorf("header %s: HTTP/2 has no connection-specific headers (RFC 9113 §8.2.2): drop it for an HTTP/2 load", h.Name)
		default:
			extra = append(extra, hpack.HeaderField{Name: name, Value: h.Value})
		}
	}
	h := &h2Client{body: []byte(o.Body)}
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	enc.SetMaxDynamicTableSizeLimit(0)
	for i, p := range paths {
		buf.Reset()
		fields := append([]hpack.HeaderField{{Name: ":method", Value: method}, {Name: ":scheme", Value: u.Scheme},
			{Name: ":authority", Value: authority}, {Name: ":path", Value: p}, {Name: "user-agent", Value: "loadcheck"}}, extra...)
		if len(h.body) > 0 {
			fields = append(fields, hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(len(h.body))})
		}
		for _, f := range fields {
			if err := enc.WriteField(f); err != nil {
				return nil, err
			}
		}
		block := bytes.Clone(buf.Bytes())
		if i == 0 {
			// The first block carries the size update; the others, as
			// encoded, do not.
			h.sizeUpdate = []byte{0x20}
			block = bytes.TrimPrefix(block, h.sizeUpdate)
		}
		h.blocks = append(h.blocks, block)
	}
	return h, nil
}

// h2conn is one HTTP/2 connection's schedule and its current socket.
type h2conn struct {
	conn // the schedule and the accounting HTTP/1.1 uses; conn.c stays nil

	ctx    context.Context
	limit  int           // Load.Streams
	freed  chan struct{} // poked when a stream ends or a socket dies
	ticker *time.Timer   // fails the streams whose deadline passed
	// armedAt is when the ticker fires (zero: stopped). Under mu.
	armedAt time.Time

	mu      sync.Mutex // below, the sockets' tables and the accounting
	sock    *h2sock    // the socket new streams go to; nil when none
	sockets []*h2sock  // every socket still open: the current one and retired ones draining
}

// h2sock is one socket of a connection with its framer.
type h2sock struct {
	h    *h2conn
	nc   net.Conn
	stop func() bool // the dial's cancellation watch
	fr   *http2.Framer
	bw   *bufio.Writer
	wmu  sync.Mutex // the framer's write side

	// Under h.mu.
	streams    map[uint32]*h2stream
	next       uint32 // the next stream id
	maxStreams int    // the server's SETTINGS_MAX_CONCURRENT_STREAMS
	sendWin    int64  // the connection's send window
	initWin    int64  // a new stream's send window (the server's SETTINGS_INITIAL_WINDOW_SIZE)
	recvd      int64  // bytes received since the last connection WINDOW_UPDATE
	heard      bool   // the server sent a frame
	goaway     bool
	lastID     uint32 // the GOAWAY's last stream id
	dead       bool   // the socket failed or was closed
	first      bool   // the next header block is the socket's first

	// The reader's own: the header block being read (its stream, its
	// HEADERS' END_STREAM, the :status decoded so far).
	dec     *hpack.Decoder
	hdrID   uint32
	hdrEnd  bool
	hstatus int
}

// h2stream is one request in flight.
type h2stream struct {
	s        slot
	sentAt   time.Time
	sent     bool  // its whole request went out (headers, and body if any)
	bodyWait bool  // its body waits for the server's flow-control window
	sendWin  int64 // its send window
	recvd    int64 // bytes received since its last WINDOW_UPDATE
	status   int
	body     int64
}

// h2connection runs connection idx's schedule over HTTP/2.
func (r *runner) h2connection(ctx context.Context, idx int) {
	h := &h2conn{ctx: ctx, limit: r.opts.StreamsPerConn(), freed: make(chan struct{}, 1)}
	c := &h.conn
	r.initConn(ctx, c, idx)
	c.timer = time.NewTimer(time.Hour)
	c.timer.Stop()
	h.ticker = time.AfterFunc(time.Hour, h.expire)
	h.ticker.Stop()
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
		s, ok := h.next(ctx, k)
		if !ok {
			h.drain(ctx) // the window's streams end: answered, or timed out
			if c.windowOver && ctx.Err() == nil {
				h.atWindowEnd()
			}
			return
		}
		h.send(ctx, s)
	}
}

// next is conn.next with the accounting of a cancelled wait under h.mu
// (the readers account too).
func (h *h2conn) next(ctx context.Context, k int) (slot, bool) {
	c := &h.conn
	s, wake, ok := c.slotWake(k)
	if !ok {
		return s, false
	}
	if !sleepUntil(ctx, c.timer, wake) {
		h.mu.Lock()
		c.slotCancelled(k)
		h.mu.Unlock()
		return s, false
	}
	return c.slotDue(s)
}

// send sends slot s as a stream once the connection has a socket that
// takes it and a free stream; it fails s when none came by its deadline.
func (h *h2conn) send(ctx context.Context, s slot) {
	c, r := &h.conn, h.conn.r
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.late(ctx, s) {
		return
	}
	for {
		if h.sock != nil && !h.usable() {
			h.retire() // the server sent a GOAWAY on it: a new one for s
		}
		if time.Now().After(s.deadline) {
			r.fail(ctx, c.st, s.measured, QueueTimeout, errStreamsBusy)
			return
		}
		if h.sock == nil && !h.open(ctx, &s) {
			return
		}
		sk := h.sock
		if n := len(sk.streams); n < min(h.limit, sk.maxStreams) {
			h.start(sk, s)
			return
		}
		// Every stream it may have is busy: wait for one to end, until
		// s's deadline (queue_timeout: the connection was busy, as an
		// HTTP/1.1 connection is, or the server allowed no more).
		h.mu.Unlock()
		t := time.NewTimer(time.Until(s.deadline))
		var expired bool
		select {
		case <-h.freed:
		case <-t.C:
			expired = true
		case <-ctx.Done():
			expired = true
		}
		t.Stop()
		h.mu.Lock()
		if expired {
			r.fail(ctx, c.st, s.measured, QueueTimeout, errStreamsBusy)
			return
		}
	}
}

var errStreamsBusy = errors.New("every stream the connection may have was still waiting for its answer")

// open opens a socket for s, counted as HTTP/1.1's are (a reconnect,
// or a reopening after the server's idle timeout), and starts its
// reader; it reports false when that failed (s is then failed). Called
// with h.mu held, and held while the socket connects: the counts of a
// reconnect are the connection's, which its sockets' readers write too.
func (h *h2conn) open(ctx context.Context, s *slot) bool {
	c, r := &h.conn, h.conn.r
	idle := r.opts.ServerKeepAlive > 0 && c.st.everConnected && s.now.Sub(c.lastUsed) >= r.opts.ServerKeepAlive
	if !c.open(ctx, s, idle) {
		return false
	}
	sk, err := h.newSock(c.c, c.stopWatch)
	c.c, c.stopWatch = nil, nil // the socket's now
	c.rr.release()
	if err != nil {
		r.fail(ctx, c.st, s.measured, BadResponse, err)
		r.open.Add(-1)
		c.retryAt = time.Now().Add(closedLoopRetry)
		return false
	}
	h.sock, h.sockets = sk, append(h.sockets, sk)
	go sk.read()
	return true
}

// newSock checks the opened socket for HTTP/2 (over TLS, h2 must have
// been negotiated by ALPN) and writes the connection preface: SETTINGS
// (no server push, a stream window of h2StreamWindow) and a connection
// window of h2ConnWindow. On an error the socket is closed.
func (h *h2conn) newSock(c Conn, stop func() bool) (*h2sock, error) {
	fail := func(err error) (*h2sock, error) {
		stop()
		_ = c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	var nc net.Conn
	switch x := c.(type) {
	case *tls.Conn:
		if err := negotiatedH2(x); err != nil {
			return fail(err)
		}
		nc = x
	case *os.File:
		nc = fileConn{x}
	case net.Conn:
		nc = x
	default:
		return fail(fmt.Errorf("HTTP/2 over %T", c))
	}
	sk := &h2sock{h: h, nc: nc, stop: stop, bw: bufio.NewWriterSize(nc, 4<<10), streams: map[uint32]*h2stream{}, next: 1,
		maxStreams: 1 << 30, sendWin: 65535, initWin: 65535, first: true}
	sk.fr = http2.NewFramer(sk.bw, bufio.NewReaderSize(nc, 8<<10))
	// Answers' header blocks are decoded as they come, their :status
	// only kept: the fields after it are not made into strings unless
	// HPACK's dynamic table keeps them.
	sk.dec = hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			sk.hstatus, _ = strconv.Atoi(f.Value)
		}
		sk.dec.SetEmitEnabled(false) // pseudo-headers come first
	})
	_ = nc.SetWriteDeadline(time.Now().Add(h.r.opts.Timeout))
	_, err := sk.bw.WriteString(http2.ClientPreface)
	if err == nil {
		err = sk.fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2StreamWindow})
	}
	if err == nil {
		err = sk.fr.WriteWindowUpdate(0, h2ConnWindow-65535)
	}
	if err == nil {
		err = sk.bw.Flush()
	}
	if err != nil {
		return fail(fmt.Errorf("write the HTTP/2 preface: %w", err))
	}
	return sk, nil
}

// start writes s's request as a new stream of sk. Called with h.mu
// held; it is released while the frames are written.
func (h *h2conn) start(sk *h2sock, s slot) {
	c, r := &h.conn, h.conn.r
	id := sk.next
	sk.next += 2
	st := &h2stream{s: s, sentAt: time.Now(), sendWin: sk.initWin}
	sk.streams[id] = st
	if h.armedAt.IsZero() || s.deadline.Before(h.armedAt) {
		h.armedAt = s.deadline
		h.ticker.Reset(max(time.Until(s.deadline), time.Millisecond))
	}
	if c.st.waitingSince.Load() == 0 {
		c.st.waitingSince.Store(st.sentAt.UnixNano())
	}
	body := r.h2.body
	withBody := len(body) > 0
	if withBody && int64(len(body)) > min(sk.sendWin, st.sendWin) {
		st.bodyWait, withBody = true, false // sent when the server's window allows (sk.sendBodies)
	} else if withBody {
		sk.sendWin -= int64(len(body))
		st.sendWin -= int64(len(body))
	}
	st.sent = len(body) == 0 || withBody
	block := r.h2.blocks[(c.id+s.k)%len(r.h2.blocks)]
	first := sk.first
	sk.first = false
	h.mu.Unlock()
	err := sk.write(s.deadline, func() error {
		frag := block
		if first {
			frag = append(append([]byte(nil), r.h2.sizeUpdate...), block...)
		}
		err := sk.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: frag, EndHeaders: true, EndStream: len(body) == 0})
		if err == nil && withBody {
			err = sk.fr.WriteData(id, true, body)
		}
		return err
	})
	h.mu.Lock()
	if err != nil {
		cl := classifyIO(err, false)
		if isTimeout(err) {
			cl = WriteTimeout
		}
		h.end(sk, id, cl, err)
		h.failAll(sk, cl, err) // the socket is broken mid-frame: its other streams with it
		h.kill(sk)
	}
}

// failAll fails every stream in flight on sk with cl. Called with h.mu
// held.
func (h *h2conn) failAll(sk *h2sock, cl Class, err error) {
	for id := range sk.streams {
		h.end(sk, id, cl, err)
	}
}

// write runs frames (framer writes) under the socket's write lock with
// a write deadline, and flushes them.
func (sk *h2sock) write(deadline time.Time, frames func() error) error {
	sk.wmu.Lock()
	defer sk.wmu.Unlock()
	_ = sk.nc.SetWriteDeadline(deadline)
	err := frames()
	if err == nil {
		err = sk.bw.Flush()
	}
	return err
}

// inflight counts the streams in flight on every socket. Called with
// h.mu held.
func (h *h2conn) inflight() int {
	n := 0
	for _, sk := range h.sockets {
		n += len(sk.streams)
	}
	return n
}

// end takes stream id out of sk's table and accounts it as failed with
// cl, unless it was taken out already. Called with h.mu held.
func (h *h2conn) end(sk *h2sock, id uint32, cl Class, err error) {
	st, ok := sk.streams[id]
	if !ok {
		return
	}
	delete(sk.streams, id)
	h.conn.r.fail(h.ctx, h.conn.st, st.s.measured, cl, err)
	h.ended()
}

// ended follows a stream's end: the stall watch, and a waiting send.
// Called with h.mu held.
func (h *h2conn) ended() {
	c := &h.conn
	c.lastUsed = time.Now()
	if h.inflight() == 0 {
		c.st.waitingSince.Store(0)
		h.ticker.Stop() // nothing to fail: no wake-up for nothing
		h.armedAt = time.Time{}
	}
	select {
	case h.freed <- struct{}{}:
	default:
	}
}

// answered accounts stream id's answer, complete at done. Called with
// h.mu held.
func (h *h2conn) answered(sk *h2sock, id uint32, done time.Time) {
	st, ok := sk.streams[id]
	if !ok {
		return
	}
	delete(sk.streams, id)
	r, c := h.conn.r, &h.conn
	switch {
	case done.After(st.s.deadline):
		r.fail(h.ctx, c.st, st.s.measured, ReadTimeout, errReadLate)
		r.lateAll.Add(1)
	default:
		if cl, bad := classifyStatus(st.status); bad {
			r.fail(h.ctx, c.st, st.s.measured, cl, statusError(st.status))
		} else {
			r.succeed(c.rec, c.st, st.s.measured, done.Sub(st.s.due), done.Sub(st.sentAt), int(st.body), -1)
		}
	}
	h.ended()
}

// expire fails the streams whose deadline passed (the ticker's), each
// reset with CANCEL as a browser does, and sets the ticker for the next.
// A socket's write lock is held from the end of its streams until their
// resets are written, so that a stream sent in a slot they freed reaches
// the server after them, and the server's stream limit holds.
func (h *h2conn) expire() {
	h.mu.Lock()
	socks := append([]*h2sock(nil), h.sockets...)
	h.mu.Unlock()
	for _, sk := range socks {
		sk.wmu.Lock()
		now := time.Now()
		var ids []uint32
		h.mu.Lock()
		for id, st := range sk.streams {
			if st.s.deadline.After(now) {
				continue
			}
			cl := ReadTimeout
			switch {
			case !sk.heard:
				// A server's connection preface is its SETTINGS frame:
				// not one frame came.
				cl = SettingsWait
			case !st.sent:
				// Its headers went out, its body could not: the server
				// granted no flow-control window for it.
				cl = FlowStall
			}
			h.end(sk, id, cl, errStreamTimeout)
			ids = append(ids, id)
		}
		h.mu.Unlock()
		if len(ids) > 0 {
			_ = sk.nc.SetWriteDeadline(time.Now().Add(time.Second))
			for _, id := range ids {
				_ = sk.fr.WriteRSTStream(id, http2.ErrCodeCancel)
			}
			_ = sk.bw.Flush()
		}
		sk.wmu.Unlock()
	}
	h.mu.Lock()
	h.rearm()
	h.mu.Unlock()
}

var errStreamTimeout = errors.New("no complete answer before the request's timeout")

// rearm sets the ticker for the earliest deadline in flight. Called with
// h.mu held.
func (h *h2conn) rearm() {
	var next time.Time
	for _, sk := range h.sockets {
		for _, st := range sk.streams {
			if next.IsZero() || st.s.deadline.Before(next) {
				next = st.s.deadline
			}
		}
	}
	h.armedAt = next
	if !next.IsZero() {
		h.ticker.Reset(max(time.Until(next), time.Millisecond))
	}
}

// read is sk's reader: it handles each frame the server sends until the
// socket fails or is closed.
func (sk *h2sock) read() {
	h := sk.h
	for {
		f, err := sk.fr.ReadFrame()
		done := time.Now()
		var se http2.StreamError
		if errors.As(err, &se) {
			// One stream's frame was malformed: that stream fails, the
			// connection goes on.
			h.mu.Lock()
			sk.heard = true
			h.end(sk, se.StreamID, BadResponse, err)
			h.mu.Unlock()
			_ = sk.write(time.Now().Add(time.Second), func() error { return sk.fr.WriteRSTStream(se.StreamID, se.Code) })
			continue
		}
		if err != nil {
			h.mu.Lock()
			sk.lost(err)
			h.mu.Unlock()
			return
		}
		h.mu.Lock()
		sk.heard = true
		reply := sk.frame(f, done)
		closeNow := sk.goaway && len(sk.streams) == 0
		h.mu.Unlock()
		if reply != nil {
			_ = sk.write(time.Now().Add(time.Second), reply)
		}
		if closeNow {
			h.mu.Lock()
			h.kill(sk)
			h.mu.Unlock()
			return
		}
	}
}

// frame handles one frame read at done, and returns the frames to write
// in reply (nil: none). Called with h.mu held.
func (sk *h2sock) frame(f http2.Frame, done time.Time) func() error {
	h := sk.h
	switch f := f.(type) {
	case *http2.HeadersFrame:
		sk.hdrID, sk.hdrEnd, sk.hstatus = f.StreamID, f.StreamEnded(), 0
		sk.dec.SetEmitEnabled(true)
		sk.headerBlock(f.HeaderBlockFragment(), f.HeadersEnded(), done)
	case *http2.ContinuationFrame: // the framer checks it follows its HEADERS
		sk.headerBlock(f.HeaderBlockFragment(), f.HeadersEnded(), done)
	case *http2.DataFrame:
		return sk.data(f, done)
	case *http2.RSTStreamFrame:
		cl := StreamReset
		if f.ErrCode == http2.ErrCodeRefusedStream {
			cl = RefusedStream
		}
		h.end(sk, f.StreamID, cl, http2.StreamError{StreamID: f.StreamID, Code: f.ErrCode})
	case *http2.GoAwayFrame:
		sk.goaway, sk.lastID = true, f.LastStreamID
		for id := range sk.streams {
			if id > f.LastStreamID { // never processed: the server said so
				h.end(sk, id, GoAway, fmt.Errorf("GOAWAY (%v) with last stream %d: stream %d not processed", f.ErrCode, f.LastStreamID, id))
			}
		}
	case *http2.SettingsFrame:
		if f.IsAck() {
			return nil
		}
		_ = f.ForeachSetting(func(s http2.Setting) error {
			switch s.ID {
			case http2.SettingMaxConcurrentStreams:
				sk.maxStreams = int(s.Val)
			case http2.SettingInitialWindowSize:
				delta := int64(s.Val) - sk.initWin
				sk.initWin = int64(s.Val)
				for _, st := range sk.streams {
					st.sendWin += delta
				}
			}
			return nil
		})
		h.freedPoke()
		return func() error { return errors.Join(sk.fr.WriteSettingsAck(), sk.sendBodies()) }
	case *http2.WindowUpdateFrame:
		if f.StreamID == 0 {
			sk.sendWin += int64(f.Increment)
		} else if st := sk.streams[f.StreamID]; st != nil {
			st.sendWin += int64(f.Increment)
		}
		return sk.sendBodies
	case *http2.PingFrame:
		if !f.IsAck() {
			data := f.Data
			return func() error { return sk.fr.WritePing(true, data) }
		}
	}
	return nil
}

// headerBlock decodes a fragment of the header block being read and,
// at its end, takes the answer's status (a 1xx is followed by the final
// one; trailers have none), answering the stream if its HEADERS ended
// it. A block HPACK cannot decode breaks the connection (RFC 9113
// §4.3). Called with h.mu held.
func (sk *h2sock) headerBlock(frag []byte, end bool, done time.Time) {
	_, err := sk.dec.Write(frag)
	if err == nil && end {
		err = sk.dec.Close()
	}
	if err != nil {
		sk.lost(fmt.Errorf("HPACK: %w", err))
		return
	}
	if !end {
		return
	}
	if st := sk.streams[sk.hdrID]; st != nil {
		if sk.hstatus >= 200 || st.status == 0 {
			st.status = sk.hstatus
		}
		if sk.hdrEnd {
			sk.h.answered(sk, sk.hdrID, done)
		}
	}
	sk.hdrID = 0
}

// data counts a DATA frame's body bytes, answers the stream when it
// ends, and gives the window back once half of it is used.
func (sk *h2sock) data(f *http2.DataFrame, done time.Time) func() error {
	n := int64(f.Length) // padding counts against the windows too
	sk.recvd += n
	var updates []func() error
	if sk.recvd >= h2ConnWindow/2 {
		inc := uint32(sk.recvd)
		sk.recvd = 0
		updates = append(updates, func() error { return sk.fr.WriteWindowUpdate(0, inc) })
	}
	if st := sk.streams[f.StreamID]; st != nil {
		st.body += int64(len(f.Data()))
		st.recvd += n
		if f.StreamEnded() {
			sk.h.answered(sk, f.StreamID, done)
		} else if st.recvd >= h2StreamWindow/2 {
			inc, id := uint32(st.recvd), f.StreamID
			st.recvd = 0
			updates = append(updates, func() error { return sk.fr.WriteWindowUpdate(id, inc) })
		}
	}
	if updates == nil {
		return nil
	}
	return func() error {
		var errs []error
		for _, u := range updates {
			errs = append(errs, u())
		}
		return errors.Join(errs...)
	}
}

// sendBodies writes the bodies the server's windows now allow. Called
// under the write lock (a reply of frame); it takes h.mu itself.
func (sk *h2sock) sendBodies() error {
	body := sk.h.r.h2.body
	var ids []uint32
	sk.h.mu.Lock()
	for id, st := range sk.streams {
		if st.bodyWait && int64(len(body)) <= min(sk.sendWin, st.sendWin) {
			sk.sendWin -= int64(len(body))
			st.sendWin -= int64(len(body))
			st.bodyWait, st.sent = false, true
			ids = append(ids, id)
		}
	}
	sk.h.mu.Unlock()
	for _, id := range ids {
		if err := sk.fr.WriteData(id, true, body); err != nil {
			return err
		}
	}
	return nil
}

// freedPoke wakes a send waiting for a stream (a SETTINGS frame may
// have raised the server's limit).
func (h *h2conn) freedPoke() {
	select {
	case h.freed <- struct{}{}:
	default:
	}
}

// lost ends sk after its read failed with err: every stream still in
// flight fails (streams a GOAWAY promised and the close cut as goaway,
// the others by the error; after the run was cancelled, as in flight).
// Called with h.mu held.
func (sk *h2sock) lost(err error) {
	h := sk.h
	if sk.dead && len(sk.streams) == 0 {
		return // closed by loadcheck
	}
	cl := classifyIO(err, true)
	if sk.goaway {
		cl = GoAway
		err = fmt.Errorf("the connection closed after a GOAWAY (last stream %d): %w", sk.lastID, err)
	}
	h.failAll(sk, cl, err)
	h.kill(sk)
}

// kill closes sk, retiring it if it was the connection's current
// socket. Called with h.mu held.
func (h *h2conn) kill(sk *h2sock) {
	if sk == h.sock {
		h.retire()
	}
	if !sk.dead {
		sk.dead = true
		sk.stop()
		_ = sk.nc.Close()
	}
	for i, s := range h.sockets {
		if s == sk {
			h.sockets = append(h.sockets[:i], h.sockets[i+1:]...)
			break
		}
	}
	h.freedPoke()
}

// retire stops sending on the current socket: the server closed it or
// sent a GOAWAY (it stays open for the streams it still answers), or it
// failed. Called with h.mu held.
func (h *h2conn) retire() {
	c := &h.conn
	h.sock = nil
	c.closedAt = time.Now()
	c.byServer = true
	c.r.open.Add(-1)
}

// usable reports whether the current socket takes new streams. Called
// with h.mu held.
func (h *h2conn) usable() bool {
	return h.sock != nil && !h.sock.goaway && !h.sock.dead
}

// drain waits until no stream of the connection is in flight (each ends
// by its deadline at the latest).
func (h *h2conn) drain(ctx context.Context) {
	for {
		h.mu.Lock()
		n := h.inflight()
		h.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-h.freed:
		case <-ctx.Done():
			return
		}
	}
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
	ka := c.r.opts.ServerKeepAlive
	idle := ka > 0 && time.Since(c.lastUsed) >= ka
	switch {
	case h.sock != nil && !h.usable() && !idle:
		h.retire()
	case h.sock == nil && c.byServer && !c.closedAt.Before(c.r.measureAt()):
	default:
		return
	}
	c.st.brokenInWindow = true
	c.st.closedAtEnd = true
}

// closeAll closes every socket of the connection: the run is over.
func (h *h2conn) closeAll() {
	h.ticker.Stop()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sock != nil {
		h.conn.r.open.Add(-1)
		h.sock = nil
	}
	for _, sk := range append([]*h2sock(nil), h.sockets...) {
		h.failAll(sk, ReadTimeout, errStreamTimeout) // only after a cancel: counted in flight
		sk.dead = true
		sk.stop()
		_ = sk.nc.Close()
	}
	h.sockets = nil
}
