package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"syscall"
	"time"
)

// slot is one scheduled request of a connection.
type slot struct {
	k        int
	due      time.Time // its intended send time: latency counts from here
	deadline time.Time // due + timeout
	measured bool      // due inside the measured window
	now      time.Time // read once per step and reused
	prevEnd  time.Time // when the connection finished its previous slot
}

// conn is one connection's schedule and its socket. It is owned by one
// goroutine: nothing in it is shared.
type conn struct {
	r        *runner
	id       int
	st       *connStat
	rec      *recorder
	openAt   time.Time
	interval time.Duration // 0 in closed loop
	timer    *time.Timer
	// offset moves the schedule back by a slow client's own pauses while
	// it read (see SlowClients); 0 for every other connection.
	offset time.Duration

	c         Conn
	tlsCfg    *tls.Config // https://: this connection's, with its own session
	rr        responseReader
	stopWatch func() bool
	awaiting  bool // a response to a timed-out request is still owed
	answered  int  // responses read on this socket
	retryAt   time.Time
	// windowOver is set when the schedule ended at the window's end (not
	// by cancellation or a slot limit); byServer when the server closed
	// the socket last (Connection: close), and closedAt when it closed
	// (the client's close after a timeout: the timed-out request's due).
	windowOver bool
	byServer   bool
	recycled   bool // the client closed the socket itself (RequestsPerConnection)
	closedAt   time.Time
	lastUsed   time.Time // when the last answer arrived, or the socket opened
}

// connection runs one connection's schedule. In the open model slot k is
// due at openAt + k/rate; in closed loop the next slot is due when the last
// one ended. Every slot whose due time falls in the measured window ends as
// exactly one of ok, failed (with a class) or in flight.
func (r *runner) connection(ctx context.Context, idx int) {
	c := new(conn)
	r.initConn(ctx, c, idx)
	c.timer = time.NewTimer(time.Hour)
	c.timer.Stop()
	defer c.close()
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
			if c.windowOver && ctx.Err() == nil {
				c.atWindowEnd()
			}
			return
		}
		if c.awaiting && !c.collectOwed(ctx, &s) {
			continue
		}
		if c.late(ctx, s) {
			continue
		}
		reopen := false
		if c.idleTimedOut(s.now) && c.closedWhileIdle() {
			// Idle longer than the server's keep-alive timeout, and closed:
			// opened again, as a browser does, without a failure.
			c.close()
			reopen = true
		}
		if c.c == nil && !c.open(ctx, &s, reopen) {
			continue
		}
		c.exchange(ctx, s)
	}
}

// initConn begins connection idx's schedule in c (either engine's).
func (r *runner) initConn(ctx context.Context, c *conn, idx int) {
	r.stats[idx].started = true
	*c = conn{r: r, id: r.ids[idx], st: &r.stats[idx], rec: &r.recs[idx%len(r.recs)], openAt: r.openTime(idx)}
	if c.st.slow {
		c.rr.pace = newPacer(r.opts.Slow, ctx.Done())
	}
	if !r.opts.ClosedLoop {
		c.interval = time.Duration(float64(time.Second) / r.opts.RatePerConn)
	}
}

// next waits for slot k and reports false when the schedule is over or
// ctx ended.
func (c *conn) next(ctx context.Context, k int) (slot, bool) {
	s, wake, ok := c.slotWake(k)
	if !ok {
		return s, false
	}
	if !sleepUntil(ctx, c.timer, wake) {
		c.slotCancelled(k)
		return s, false
	}
	return c.slotDue(s)
}

// slotWake begins slot k: it returns the time to wait for before the slot
// can be judged, and false when the schedule is over.
func (c *conn) slotWake(k int) (slot, time.Time, bool) {
	r := c.r
	s := slot{k: k}
	if r.opts.maxSlots > 0 && k >= r.opts.maxSlots {
		return s, time.Time{}, false // a benchmark's slot limit
	}
	if r.opts.ClosedLoop {
		return s, c.retryAt, true
	}
	s.prevEnd = time.Now()
	s.due = c.dueAt(k)
	// A slot past the window is not sent: wake at the window's end
	// instead, to check the connection there.
	return s, minTime(s.due, r.endAt()), true
}

// slotCancelled ends the schedule at slot k when ctx ended during its
// wait.
func (c *conn) slotCancelled(k int) {
	if !c.r.opts.ClosedLoop {
		c.cutShort(k)
	}
}

// slotDue completes slot s once its wait is over, and reports false when
// it falls past the window (the schedule is then over).
func (c *conn) slotDue(s slot) (slot, bool) {
	r := c.r
	s.now = time.Now()
	if r.opts.ClosedLoop {
		s.due, s.prevEnd = s.now, s.now
		if s.k == 0 {
			// A generator too busy to open on time shows as client_late.
			s.due, s.prevEnd = c.openAt, c.openAt
		}
	}
	if !s.due.Before(r.endAt()) {
		c.windowOver = true
		return s, false
	}
	s.measured = !s.due.Before(r.measureAt())
	s.deadline = s.due.Add(r.opts.Timeout)
	if !r.opts.ClosedLoop && !s.prevEnd.After(s.due) {
		r.sendLate(s.now.Sub(s.due), c.interval, s.measured)
	}
	return s, true
}

// sendLate records how late the generator reached a due slot on a free
// connection: the second's latest, and, in the window, a slot reached
// more than a tenth of its interval late.
func (r *runner) sendLate(late, interval time.Duration, measured bool) {
	if late <= 0 {
		return
	}
	us := late.Microseconds()
	for {
		m := r.sendLateMax.Load()
		if us <= m || r.sendLateMax.CompareAndSwap(m, us) {
			break
		}
	}
	if measured && late > interval/10 {
		r.lateSends.Add(1)
	}
}

// dueAt is when slot k is due in the open model.
func (c *conn) dueAt(k int) time.Time {
	return c.openAt.Add(time.Duration(k)*c.interval + c.offset)
}

// cutShort counts, when ctx ended, every slot from k on that was already
// due in the measured window but never sent, as in flight: the schedule
// called for it, and cancellation, not the server, kept it from going out.
func (c *conn) cutShort(k int) {
	now := time.Now()
	for ; ; k++ {
		due := c.dueAt(k)
		if due.After(now) || !due.Before(c.r.endAt()) {
			return
		}
		if !due.Before(c.r.measureAt()) {
			c.st.inFlight++
		}
	}
}

// collectOwed waits, until s's own deadline, for the response an earlier
// timed-out request still owes: HTTP/1.1 cannot send s before it arrives.
// It reports false when s failed waiting (queue_timeout).
func (c *conn) collectOwed(ctx context.Context, s *slot) bool {
	c.setDeadline(ctx, s.deadline, true)
	_, _, closing, err := c.rr.read()
	return c.owedRead(ctx, s, closing, err)
}

// owedRead accounts the read of an owed response (see collectOwed).
func (c *conn) owedRead(ctx context.Context, s *slot, closing bool, err error) bool {
	if p := c.rr.pace; p != nil {
		// A slow client's pauses while it read are its own, here as in
		// exchange: they move its schedule back, this slot's too.
		c.offset += p.slept
		s.due, s.deadline = s.due.Add(p.slept), s.deadline.Add(p.slept)
	}
	switch {
	case err == nil:
		c.awaiting = false // late answer to a request already counted as dropped
		c.lastUsed = c.answerStart(time.Now())
		c.r.lateAll.Add(1)
		if closing {
			c.close()
			c.byServer = true
		}
	case isTimeout(err) && ctx.Err() == nil:
		c.r.fail(ctx, c.st, s.measured, c.timedOut(QueueTimeout, s.deadline), nil)
		if c.rr.started {
			c.cut(*s) // mid-answer: see readFailed
		}
		return false
	default:
		c.awaiting = false
		c.close() // the connection died while we waited; reconnect
	}
	c.answerDone()
	s.now = time.Now()
	s.prevEnd = s.now
	return true
}

// late fails s when its deadline has passed before it could be sent, and
// says whose fault that was.
func (c *conn) late(ctx context.Context, s slot) bool {
	if !s.now.After(s.deadline) {
		return false
	}
	if s.prevEnd.After(s.deadline) {
		// The connection was busy with earlier requests until past this
		// one's timeout: it could never have been answered in time.
		c.r.fail(ctx, c.st, s.measured, QueueTimeout, nil)
	} else {
		// Nothing held this slot up but the generator: it was too busy to
		// reach it in time. Never the server's fault.
		c.r.fail(ctx, c.st, s.measured, ClientLate, nil)
	}
	return true
}

// idleTimedOut reports whether the connection has been idle, with nothing
// owed, at least the server's keep-alive timeout (Load.ServerKeepAlive;
// never when that is unknown): a close found then is the server's
// keep-alive timeout, not a failure. A close found sooner (event shutting
// down a full process's kept-alive connections, say) stays a failure.
func (c *conn) idleTimedOut(now time.Time) bool {
	ka := c.r.opts.ServerKeepAlive
	return ka > 0 && c.c != nil && !c.awaiting && now.Sub(c.lastUsed) >= ka
}

// answerStart is when the server may have finished sending the answer
// that just arrived, done: when it arrived, or, for a slow client, when
// its first byte did. A server's writes end once the answer is in its
// socket buffers, which hold a 100 KB page, and its keep-alive timeout
// runs from then, while the slow client still reads.
func (c *conn) answerStart(done time.Time) time.Time {
	if p := c.rr.pace; p != nil && !p.began.IsZero() {
		return p.began
	}
	return done
}

// closedWhileIdle reports whether the server closed the idle connection.
func (c *conn) closedWhileIdle() bool {
	if c.rr.raw != nil {
		return peerClosed(c.rr.raw)
	}
	return tlsPeerClosed(c.c)
}

// open connects for s and counts the connect time and any reconnect (or,
// with idle, the reopening of a connection the server closed while idle);
// it reports false when the connect failed (s is then failed).
func (c *conn) open(ctx context.Context, s *slot, idle bool) bool {
	r := c.r
	began := time.Now()
	f, stop, err := r.dial(ctx, c.id, s.deadline)
	if err != nil {
		c.openFailed(ctx, s, classifyConnect(err), err)
		return false
	}
	connected := time.Now()
	var nc Conn = f
	if r.tls != nil {
		// Every open, a reconnect too, pays a handshake, within the
		// slot's deadline (set by dial).
		if c.tlsCfg == nil {
			c.tlsCfg = r.tls.forConn()
		}
		tc, err := r.tls.handshake(f, c.tlsCfg, c.rec)
		if err != nil {
			stop()
			f.Close()
			c.openFailed(ctx, s, TLSHandshake, err)
			return false
		}
		nc = tc
	}
	c.opened(s, nc, stop, idle, began, connected)
	return true
}

// openFailed fails s, whose connect failed with class cl, and holds the
// next attempt back a little.
func (c *conn) openFailed(ctx context.Context, s *slot, cl Class, err error) {
	c.r.fail(ctx, c.st, s.measured, cl, err)
	c.retryAt = time.Now().Add(closedLoopRetry)
}

// opened takes the socket nc that open began to connect for s at began
// and connected at connected (stop ends its cancellation watch), and
// counts it.
func (c *conn) opened(s *slot, nc Conn, stop func() bool, idle bool, began, connected time.Time) {
	r, st := c.r, c.st
	c.rec.mu.Lock()
	_ = c.rec.connect.RecordValue(max(connected.Sub(began).Microseconds(), 1))
	c.rec.mu.Unlock()
	// Cancellation interrupts a blocked read or write at once.
	c.c, c.stopWatch = nc, stop
	r.open.Add(1)
	switch {
	case c.recycled:
		st.clientReopens++
	case idle:
		st.idleReopens++
	case st.everConnected:
		st.reconnects++
		r.reconnectsAll.Add(1)
		if s.measured && !c.closedAt.Before(r.measureAt()) {
			// Closed in the window. A close in the warm-up (the server's,
			// or the client's after a timeout) is the warm-up's, as its
			// drops are, even when the reopen falls in the window; so is
			// the client's close after a warm-up request timed out in the
			// window (see cut).
			st.brokenInWindow = true
		}
	default:
		st.everConnected = true
		st.firstOpen = max(connected.Sub(r.start), 1)
	}
	c.rr.reset(c.c)
	c.answered, c.byServer, c.recycled, c.lastUsed = 0, false, false, connected
	s.now = connected
}

// exchange writes s's request and reads its response.
func (c *conn) exchange(ctx context.Context, s slot) {
	sentAt := s.now
	c.setDeadline(ctx, s.deadline, false)
	req, class := c.request(s)
	if _, err := c.c.Write(c.r.requests[req]); err != nil {
		c.writeFailed(ctx, s, class, err)
		return
	}
	status, body, closing, err := c.rr.read()
	if c.rr.pace != nil {
		c.offset += c.rr.pace.slept
	}
	c.response(ctx, s, sentAt, class, status, body, closing, err)
}

// request picks slot s's request and its path class (-1: no mix).
// Its answer is read as that request's: a HEAD's has no body.
func (c *conn) request(s slot) (req, class int) {
	r := c.r
	req, class = (c.id+s.k)%len(r.requests), -1
	if r.cycle != nil {
		req = r.cycle[int(r.cyclePos.Add(1)-1)%len(r.cycle)]
		class = r.classOf[req]
	}
	c.rr.head = r.heads[req]
	if c.st.waitingSince.Load() == 0 {
		c.st.waitingSince.Store(s.now.UnixNano())
	}
	return req, class
}

// answerDone says the connection waits for no answer now, unless one is
// still owed.
func (c *conn) answerDone() {
	if !c.awaiting {
		c.st.waitingSince.Store(0)
	}
}

// writeFailed accounts s, whose request could not be written.
func (c *conn) writeFailed(ctx context.Context, s slot, class int, err error) {
	c.classDropped(ctx, s, class)
	c.r.fail(ctx, c.st, s.measured, classifyIO(err, false), err)
	c.close()
}

// response accounts the read of s's response, written at sentAt.
func (c *conn) response(ctx context.Context, s slot, sentAt time.Time, class, status, body int, closing bool, err error) {
	r := c.r
	defer c.answerDone()
	if err != nil {
		c.classDropped(ctx, s, class)
		c.readFailed(ctx, s, err)
		return
	}
	c.answered++
	done := time.Now()
	c.lastUsed = c.answerStart(done)
	if late := done.Sub(s.deadline); late > 0 && (c.rr.pace == nil || late > c.rr.pace.slept) {
		// Read after its timeout (past a slow client's own pauses): the
		// generator reached the answer late, an event loop behind its
		// timers or a goroutine woken late. It is the timeout it would
		// have been had the deadline been watched, and the generator's
		// own lateness when that was long ago: it cannot say when the
		// answer came.
		cl := ReadTimeout
		if late > wakeSlack {
			cl = ClientLate
		}
		c.classDropped(ctx, s, class)
		r.fail(ctx, c.st, s.measured, cl, errReadLate)
		r.lateAll.Add(1)
	} else if cl, bad := classifyStatus(status); bad {
		c.classDropped(ctx, s, class)
		r.fail(ctx, c.st, s.measured, cl, statusError(status))
	} else {
		r.succeed(c.rec, c.st, s.measured, done.Sub(s.due), done.Sub(sentAt), body, class)
	}
	switch {
	case closing:
		// The server announced it is closing (keep-alive limit reached):
		// the connection was not held.
		c.close()
		c.byServer = true
	case r.opts.RequestsPerConnection > 0 && c.answered >= r.opts.RequestsPerConnection:
		// Churned as a browser does: the client closes, and its next
		// request opens a new socket.
		c.close()
		c.recycled = true
	}
}

// classDropped counts a sent request of path class class (a mix's; -1
// none) that failed in the window, unless the run was cancelled.
func (c *conn) classDropped(ctx context.Context, s slot, class int) {
	if class < 0 || !s.measured || ctx.Err() != nil {
		return
	}
	c.rec.mu.Lock()
	c.rec.classes[class].dropped++
	c.rec.mu.Unlock()
}

// atWindowEnd checks the connection as the measured window ends, whatever
// its next slot: one the server closed after its last answer (silently, or
// with Connection: close) was not held through the window, so it is not
// served, and the close is counted.
func (c *conn) atWindowEnd() {
	st := c.st
	if !st.everConnected {
		return
	}
	switch {
	case c.idleTimedOut(time.Now()):
		return // its next request would open it again (see idleTimedOut)
	case c.c == nil && c.byServer && !c.closedAt.Before(c.r.measureAt()):
	case c.c != nil && !c.awaiting && peerClosed(c.rr.raw):
		c.close()
	case c.c != nil && !c.awaiting && tlsPeerClosed(c.c):
		c.close()
	default:
		return
	}
	st.brokenInWindow = true
	st.closedAtEnd = true
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// readFailed classifies a failed read of s's response.
func (c *conn) readFailed(ctx context.Context, s slot, err error) {
	cl := classifyIO(err, true)
	if cl == ReadTimeout {
		cl = c.timedOut(cl, s.deadline)
	}
	if (cl == Reset || cl == ClosedByServer) && c.answered > 0 && !c.rr.started {
		// A kept-alive connection the server had already closed: our
		// request met its FIN (EOF) or, if the close got there first, its
		// RST. Either way the server closed an idle connection; the class
		// must not depend on that race.
		cl = ClosedByServer
	}
	c.r.fail(ctx, c.st, s.measured, cl, err)
	if isTimeout(err) && ctx.Err() == nil && !c.rr.started {
		// Keep the connection: a client holding N connections does not
		// churn them, and a server that queued this one may still answer.
		c.awaiting = true
		return
	}
	if isTimeout(err) {
		// An answer cut by its timeout cannot be read on from where it
		// stopped: the connection is closed, as a browser aborts it.
		c.cut(s)
		return
	}
	c.close()
}

// cut closes the socket after s timed out, dated at s's due time: the
// client's close follows s's drop, and belongs where s does, to the
// warm-up or to the window (see opened).
func (c *conn) cut(s slot) {
	c.close()
	c.closedAt = s.due
}

// errReadLate is the sample of an answer read after its timeout.
var errReadLate = errors.New("answer read after the request's timeout")

// wakeSlack is how late past a deadline a connection's goroutine may wake
// and still be said to have watched it: beyond that, the generator was
// descheduled.
const wakeSlack = 25 * time.Millisecond

// timedOut names a read that hit deadline: cl (the server's slowness),
// unless the generator woke long after the deadline and found the answer
// waiting. It cannot tell then whether the answer came in time, and its
// own lateness must not be blamed on the server: client_late.
func (c *conn) timedOut(cl Class, deadline time.Time) Class {
	if time.Since(deadline) > wakeSlack && pending(c.rr.raw) {
		return ClientLate
	}
	return cl
}

// setDeadline sets the socket's deadline (its read deadline only, when
// readOnly) for a slot. Cancellation sets the deadline to now through the
// watch that dial installed; a slot's deadline set after that would undo it
// and hold Ctrl-C up for a whole timeout, so a cancelled ctx wins here.
func (c *conn) setDeadline(ctx context.Context, d time.Time, readOnly bool) {
	if ctx.Err() != nil {
		d = time.Now()
	}
	if c.rr.pace != nil {
		c.rr.pace.deadline = d
	}
	if readOnly {
		_ = c.c.SetReadDeadline(d)
	} else {
		_ = c.c.SetDeadline(d)
	}
	if ctx.Err() != nil { // cancelled while the deadline was being set
		_ = c.c.SetDeadline(time.Now())
	}
}

// close closes the socket, if open.
func (c *conn) close() {
	if c.c == nil {
		return
	}
	c.stopWatch()
	c.c.Close()
	c.c = nil
	c.rr.release()
	c.awaiting, c.byServer = false, false
	c.answerDone()
	c.closedAt = time.Now()
	c.r.open.Add(-1)
}

// tlsPeerClosed is peerClosed for a TLS connection, whose reader has no
// socket of its own to peek at: the socket under it is peeked, and what
// waits there is read through TLS, briefly. A server that closes sends
// its close_notify alert before the close, so bytes are pending where a
// plain socket would show an orderly close; reading them gives io.EOF.
// Nothing else should be waiting when no answer is due (crypto/tls reads
// a session ticket itself, and waits on).
func tlsPeerClosed(c Conn) bool {
	if lc, ok := c.(loopTLSConn); ok {
		return lc.peerClosed()
	}
	tc, ok := c.(*tls.Conn)
	if !ok {
		return false
	}
	sc, ok := tc.NetConn().(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	if peerClosed(raw) {
		return true
	}
	if !pending(raw) {
		return false
	}
	_ = tc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	var b [1]byte
	_, err = tc.Read(b[:])
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}
