package bench

import (
	"crypto/tls"
	"errors"
	"iter"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// TLS on the event loop: crypto/tls runs over loopTLS, a net.Conn whose
// bytes the loop moves. The loop reads the socket's ciphertext and hands
// it to crypto/tls's Read; what crypto/tls writes gathers in a buffer the
// loop writes to the socket. A Read that finds no ciphertext gets a
// temporary error, which crypto/tls does not keep as the connection's
// error (conn.go's readRecordOrCCS), so it is made again once the socket
// brings more: after the handshake a connection waits with no goroutine,
// as a plain one does.
//
// The handshake cannot be resumed so: a handshake whose read failed has
// failed for good. It runs as a coroutine (iter.Pull) instead, whose read
// yields to the loop when it finds no ciphertext and goes on when the loop
// resumes it with more: one goroutine per connection for the length of
// its handshake only, switched to and from without the scheduler.

// errTLSWait is loopTLS's Read when the loop has no ciphertext for it now.
var errTLSWait error = tlsWaitError{}

type tlsWaitError struct{}

func (tlsWaitError) Error() string   { return "no TLS bytes from the socket yet" }
func (tlsWaitError) Timeout() bool   { return true }
func (tlsWaitError) Temporary() bool { return true }

// errTLSAbandoned ends a handshake the loop gave up on (its connection
// closed before the handshake ended).
var errTLSAbandoned = errors.New("TLS handshake abandoned: the connection closed")

// loopTLS is one event-loop connection's TLS.
type loopTLS struct {
	e     *evConn
	tc    *tls.Conn
	in    []byte // ciphertext read from the socket, not yet taken by tc
	owned bool   // in is own's, not the loop's read buffer
	own   []byte // keeps in past the loop's next read
	end   error  // the socket's end, after in: io.EOF or the read's error
	out   []byte // ciphertext tc wrote, not yet on the socket

	// The handshake, as a coroutine while it runs.
	began   time.Time
	yield   func(struct{}) bool
	next    func() (struct{}, bool)
	stop    func()
	started bool
	done    bool
	err     error // the handshake's
}

// startTLS begins e's handshake on its connected socket.
func (e *evConn) startTLS() {
	if e.tlsCfg == nil {
		e.tlsCfg = e.r.tls.forConn()
	}
	t := &loopTLS{e: e, began: time.Now()}
	t.tc = tls.Client(t, e.tlsCfg)
	t.next, t.stop = iter.Pull(func(yield func(struct{}) bool) {
		t.yield = yield
		err := t.tc.Handshake()
		t.yield = nil
		if t.err == nil {
			t.err = err
		}
	})
	e.tls = t
}

// handshake drives e's handshake as far as its socket allows; it reports
// true once the handshake ended (e.tls.err says how), false when e waits.
func (e *evConn) handshake() bool {
	t := e.tls
	for {
		if len(t.out) > 0 && !e.flushTLS() {
			return false
		}
		if t.done {
			t.next, t.stop = nil, nil
			e.r.tls.record(t.tc, t.err, t.began, e.rec) //nolint:errcheck // t.err is acted on by drive
			return true
		}
		if t.started && len(t.in) == 0 && t.end == nil {
			if !e.readable || !e.fillTLS() {
				e.setWait(e.s.deadline)
				return false
			}
			continue
		}
		t.started = true
		_, more := t.next()
		t.keepIn()
		t.done = !more
	}
}

// abandon ends a handshake under way with err, unless it has its own.
func (t *loopTLS) abandon(err error) {
	if t.done {
		return
	}
	if t.err == nil {
		t.err = err
	}
	t.stop() // its read, if waiting, fails; the coroutine returns
	t.done = true
}

// flushTLS writes what TLS wrote to the socket; false when the socket is
// full (e then waits for it). A failed write ends the handshake.
func (e *evConn) flushTLS() bool {
	t := e.tls
	rest, wait, err := e.send(t.out)
	t.out = t.out[:copy(t.out, rest)]
	switch {
	case wait:
		return false
	case err != nil:
		t.abandon(err)
		t.out = t.out[:0]
	}
	return true
}

// fillTLS reads the socket's ciphertext for TLS: into in, or the socket's
// end into end; false when the socket has nothing now.
func (e *evConn) fillTLS() bool {
	t, buf := e.tls, e.l.tlsBuf()
	if p := e.rr.pace; p != nil {
		buf = buf[:p.chunk] // a slow client reads in small reads
	}
	n, err := e.recv(buf)
	switch {
	case err == unix.EAGAIN:
		return false
	case err != nil:
		t.end = err
	default:
		t.in, t.owned = buf[:n], false
	}
	return true
}

// recvTLS reads the plaintext the socket's ciphertext holds into p: n
// bytes, with err nil, EAGAIN when there are none now, or what ended the
// connection (io.EOF at the server's close). e.readable says whether more
// may wait, in crypto/tls or in the socket.
func (e *evConn) recvTLS(p []byte) (n int, err error) {
	t := e.tls
	defer t.keepIn()
	for n < len(p) {
		m, err := t.tc.Read(p[n:])
		n += m
		switch {
		case err == nil:
			continue
		case err != errTLSWait:
			if n > 0 {
				e.readable = true // the error is crypto/tls's to give again
				return n, nil
			}
			return 0, err
		}
		if !e.readable || !e.fillTLS() {
			if n > 0 {
				return n, nil
			}
			return 0, unix.EAGAIN
		}
	}
	e.readable = true // p is full: crypto/tls may hold more
	return n, nil
}

// seal is p as the TLS records that carry it.
func (t *loopTLS) seal(p []byte) ([]byte, error) {
	t.out = t.out[:0]
	if _, err := t.tc.Write(p); err != nil {
		return nil, err
	}
	out := t.out
	t.out = t.out[:0] // the next write reuses the space once this one is sent
	return out, nil
}

// keepIn copies the ciphertext crypto/tls left for later out of the
// loop's read buffer, which the loop's next read reuses.
func (t *loopTLS) keepIn() {
	if len(t.in) > 0 && !t.owned {
		t.own = append(t.own[:0], t.in...)
		t.in, t.owned = t.own, true
	}
}

// Read gives crypto/tls the ciphertext the loop read; during the
// handshake, an empty one yields to the loop until it has more.
func (t *loopTLS) Read(p []byte) (int, error) {
	for len(t.in) == 0 {
		switch {
		case t.end != nil:
			return 0, t.end
		case t.yield == nil:
			return 0, errTLSWait
		case !t.yield(struct{}{}):
			return 0, errTLSAbandoned
		}
	}
	n := copy(p, t.in)
	t.in = t.in[n:]
	return n, nil
}

// Write gathers crypto/tls's records for the loop to write.
func (t *loopTLS) Write(p []byte) (int, error) {
	t.out = append(t.out, p...)
	return len(p), nil
}

// Close writes what TLS wrote last (its close_notify alert), if the
// socket takes it at once, and closes the socket.
func (t *loopTLS) Close() error {
	e := t.e
	if len(t.out) > 0 && e.fd >= 0 {
		_, _ = rawIO(unix.SYS_WRITE, e.fd, t.out)
		t.out = t.out[:0]
	}
	return e.closeFd()
}

func (t *loopTLS) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (t *loopTLS) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (t *loopTLS) SetDeadline(time.Time) error      { return nil }
func (t *loopTLS) SetReadDeadline(time.Time) error  { return nil }
func (t *loopTLS) SetWriteDeadline(time.Time) error { return nil }

// loopTLSConn is an event-loop TLS connection as conn's methods see it:
// they close it and ask whether its server closed it; its loop does the
// rest.
type loopTLSConn struct{ e *evConn }

func (lc loopTLSConn) Read([]byte) (int, error)        { return 0, errLoopSocket }
func (lc loopTLSConn) Write([]byte) (int, error)       { return 0, errLoopSocket }
func (lc loopTLSConn) SetDeadline(time.Time) error     { return nil }
func (lc loopTLSConn) SetReadDeadline(time.Time) error { return nil }

// Close sends TLS's close_notify alert and closes the socket, as
// crypto/tls's Close does for the goroutine engine.
func (lc loopTLSConn) Close() error {
	if t := lc.e.tls; t != nil {
		return t.tc.Close()
	}
	return lc.e.closeFd()
}

// peerClosed is tlsPeerClosed for the loop: the socket is peeked, and
// what waits there is read through TLS (a server that closes sends its
// close_notify alert first). Bytes that are not a close are kept as the
// start of the next answer.
func (lc loopTLSConn) peerClosed() bool {
	e := lc.e
	if e.fd < 0 {
		return false
	}
	raw := loopRaw(e.fd)
	if peerClosed(raw) {
		return true
	}
	if !pending(raw) {
		return false
	}
	e.readable = true
	n, err := e.recvTLS(e.l.rbuf)
	if n > 0 {
		e.keep(e.l.rbuf[:n])
		return false
	}
	return err != nil && err != unix.EAGAIN
}

// tlsBuf is the loop's buffer for ciphertext, made at its first TLS read.
func (l *evLoop) tlsBuf() []byte {
	if l.tbuf == nil {
		l.tbuf = make([]byte, loopReadSize)
	}
	return l.tbuf
}
