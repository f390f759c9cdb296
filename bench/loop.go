package bench

import (
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The event-loop engine (Options.Engine "epoll"): a few goroutines, each
// with its own epoll instance, drive every connection of a plain-HTTP load,
// instead of a goroutine per connection. A connection then waits with no
// stack of its own and no runtime poller state, and a response costs one
// read when the socket says it has data, never a read that finds nothing
// first. Each connection's accounting is the goroutine engine's own code
// (conn's methods), called at the same points of the same schedule: only
// the waiting differs.

// evAt is the point of its schedule an event-loop connection resumes at.
type evAt uint8

const (
	atSlot        evAt = iota // slot k begins (slotWake)
	atDue                     // slot k's wait is over (slotDue)
	atOwedDone                // an owed response was read, or not (owedRead)
	atSend                    // slot k is sent: late, idle reopen, connect
	atConnectDone             // its connect ended
	atHandshake               // its TLS handshake is under way, or ended
	atWrite                   // its request is written
	atReadDone                // its response was read, or not (response)
	atHeld                    // its schedule is over
)

// evConn is one connection of the event loop.
type evConn struct {
	conn
	l        *evLoop
	at       evAt
	k        int
	s        slot
	fd       int // -1 when closed
	wake     time.Time
	waiting  bool // wake is a wait under way (it may linger in the heap after)
	pausing  bool // a slow client's pause between two reads: wake ends it
	pause    time.Duration
	hidx     int       // its place in the loop's timer heap; -1 when not in it
	hkey     time.Time // its time in the heap: wake, or an earlier one (see setWait)
	readable bool      // data, a close or an error may wait: read before waiting
	// hup: epoll said the peer closed (or reset) the socket. Its EOF or
	// error then waits behind any data, and no new edge will announce it:
	// a short read no longer means the socket is empty.
	hup        bool
	writable   bool
	buf        []byte  // response bytes read and not yet parsed to the end
	chunk      *[]byte // backs buf while it fits a pooled chunk
	out        []byte  // the rest of the request to write
	sentAt     time.Time
	class      int
	idle       bool // the connect under way reopens an idle-closed connection
	began      time.Time
	connected  time.Time // its connect ended, before any TLS handshake
	connectErr error
	tls        *loopTLS // https://: the open socket's TLS
	res        struct {
		status, body int
		closing      bool
		err          error
	}
}

// evLoop drives its connections from one goroutine over one epoll
// instance; a timer heap holds every connection's wait.
type evLoop struct {
	r        *runner
	ctx      context.Context
	wg       *sync.WaitGroup // one count per connection, and one for the loop
	epfd     int
	wakeFd   int // an eventfd: new connections, cancellation and the end of every schedule ring it
	byFd     []*evConn
	timers   evHeap
	rbuf     []byte
	tbuf     []byte // ciphertext read for TLS (tlsBuf)
	events   []unix.EpollEvent
	noPwait2 bool // epoll_pwait2 failed: epoll_wait with milliseconds
	// poll is epfd as a file of the runtime's poller, which the loop's
	// goroutine waits on (see wait); nil where it cannot be.
	poll     *os.File
	pollRaw  syscall.RawConn
	pollTake func(uintptr) bool // takes the events into polled
	polled   int
	deadline time.Time // poll's read deadline as last set
	live     int       // connections begun and not yet closed for good
	held     []*evConn
	cancels  bool // ctx's end has been passed to every wait
	exited   chan struct{}

	// Shared with Run and the watch of the run's end, under mu.
	mu       sync.Mutex
	added    []int // connections handed over by Run, not yet begun
	noMore   bool
	released bool // every schedule is over, or ctx ended: held connections close
	closed   bool // wakeFd is closed: its number may belong to another file now
}

// errLoopSocket answers a loop socket's blocking calls, which nothing
// makes: its loop reads and writes it.
var errLoopSocket = errors.New("an event-loop socket is read and written by its loop")

// loopConn is an event-loop socket as conn's methods see it: they close
// it and peek at it (through SyscallConn); its loop does the rest.
type loopConn struct{ e *evConn }

func (lc loopConn) Read([]byte) (int, error)              { return 0, errLoopSocket }
func (lc loopConn) Write([]byte) (int, error)             { return 0, errLoopSocket }
func (lc loopConn) SetDeadline(time.Time) error           { return nil }
func (lc loopConn) SetReadDeadline(time.Time) error       { return nil }
func (lc loopConn) SyscallConn() (syscall.RawConn, error) { return loopRaw(lc.e.fd), nil }
func (lc loopConn) Close() error                          { return lc.e.closeFd() }

// loopRaw lets peek look at an event-loop socket.
type loopRaw int

func (fd loopRaw) Control(f func(uintptr)) error  { f(uintptr(fd)); return nil }
func (fd loopRaw) Read(func(uintptr) bool) error  { return errLoopSocket }
func (fd loopRaw) Write(func(uintptr) bool) error { return errLoopSocket }

// loopReadSize is how much one read syscall takes at most.
const loopReadSize = 64 << 10

// startLoops starts n event loops for r; each counts itself in wg.
func startLoops(ctx context.Context, r *runner, wg *sync.WaitGroup, n int) ([]*evLoop, error) {
	var loops []*evLoop
	for range n {
		l, err := newEvLoop(ctx, r, wg)
		if err != nil {
			stopLoops(loops)
			return nil, err
		}
		loops = append(loops, l)
		wg.Add(1)
		go l.run()
		go func() {
			select {
			case <-r.allDone:
			case <-ctx.Done():
			case <-l.exited:
				return
			}
			l.mu.Lock()
			l.released = true
			l.mu.Unlock()
			l.ring()
		}()
	}
	return loops, nil
}

// newEvLoop makes a loop for r, not yet running: its epoll instance, in
// the runtime's poller where it can be, and its wake descriptor.
func newEvLoop(ctx context.Context, r *runner, wg *sync.WaitGroup) (*evLoop, error) {
	l := &evLoop{r: r, ctx: ctx, wg: wg, rbuf: make([]byte, loopReadSize),
		events: make([]unix.EpollEvent, 256), exited: make(chan struct{})}
	var err error
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if l.wakeFd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		unix.Close(l.epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(l.wakeFd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, l.wakeFd, &ev); err != nil {
		unix.Close(l.epfd)
		unix.Close(l.wakeFd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	l.attachPoller()
	return l, nil
}

// stopLoops tells loops that no connection follows; each ends once its
// connections have closed.
func stopLoops(loops []*evLoop) {
	for _, l := range loops {
		l.mu.Lock()
		l.noMore = true
		l.mu.Unlock()
		l.ring()
	}
}

// add hands connection idx over at its open time.
func (l *evLoop) add(idx int) {
	l.mu.Lock()
	l.added = append(l.added, idx)
	l.ringLocked()
	l.mu.Unlock()
}

// ring wakes the loop, unless it has ended.
func (l *evLoop) ring() {
	l.mu.Lock()
	l.ringLocked()
	l.mu.Unlock()
}

// ringLocked is ring with mu held: under mu, it never writes to the
// number of a descriptor the loop closed.
func (l *evLoop) ringLocked() {
	if l.closed {
		return
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(l.wakeFd, one[:])
}

// closeWake closes the wake descriptor, once nothing can ring it.
func (l *evLoop) closeWake() {
	l.mu.Lock()
	l.closed = true
	unix.Close(l.wakeFd)
	l.mu.Unlock()
}

// run is the loop: it begins the connections handed over, waits for
// sockets and timers, and resumes each connection whose wait ended.
func (l *evLoop) run() {
	defer l.wg.Done()
	defer close(l.exited)
	defer l.closeWake()
	defer l.closeEpoll()
	for {
		l.mu.Lock()
		// noMore comes after the last connection is added: seen here,
		// every connection has been taken.
		added, released, noMore := l.added, l.released, l.noMore
		l.added = nil
		l.mu.Unlock()
		for _, idx := range added {
			l.begin(idx)
		}
		if released {
			l.release()
		}
		if l.ctx.Err() != nil && !l.cancels {
			// Cancellation ends every wait now, as the goroutine
			// engine's deadline-now does: each is judged as it stands.
			l.cancels = true
			for _, e := range l.timers {
				e.wake, e.hkey = time.Time{}, time.Time{}
			}
			heap.Init(&l.timers)
		}
		if noMore && l.live == 0 {
			return
		}
		n := l.wait()
		for _, ev := range l.events[:n] {
			fd := int(ev.Fd)
			if fd == l.wakeFd {
				var b [8]byte
				_, _ = unix.Read(l.wakeFd, b[:])
				continue
			}
			if fd < len(l.byFd) && l.byFd[fd] != nil {
				l.byFd[fd].event(ev.Events)
			}
		}
		l.expire()
	}
}

// wait waits for sockets until the first timer, and returns how many
// events came.
func (l *evLoop) wait() int {
	if l.poll != nil {
		return l.waitPolled()
	}
	var ts *unix.Timespec
	if len(l.timers) > 0 {
		d := max(time.Until(l.timers[0].hkey), 0)
		t := unix.NsecToTimespec(int64(d))
		ts = &t
	}
	for !l.noPwait2 {
		n, _, errno := unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])),
			uintptr(len(l.events)), uintptr(unsafe.Pointer(ts)), 0, 0)
		switch errno {
		case 0:
			return int(n)
		case unix.EINTR:
			continue
		}
		l.noPwait2 = true // before Linux 5.11
	}
	ms := -1 // millisecond timeouts, rounded up
	if ts != nil {
		ms = int((time.Duration(ts.Nano()) + time.Millisecond - 1) / time.Millisecond)
	}
	n, err := unix.EpollWait(l.epfd, l.events, ms)
	if err != nil {
		return 0
	}
	return n
}

// loopPoller lets the loops wait in the runtime's poller; the tests turn
// it off to check the wait without it.
var loopPoller = true

// attachPoller makes l's epoll instance a file of the runtime's poller, if
// it can be one: an epoll instance is readable while it has events.
func (l *evLoop) attachPoller() {
	if !loopPoller || unix.SetNonblock(l.epfd, true) != nil {
		return
	}
	f := os.NewFile(uintptr(l.epfd), "epoll")
	raw, err := f.SyscallConn()
	if err != nil || f.SetReadDeadline(time.Time{}) != nil { // ErrNoDeadline: not in the poller
		_ = unix.SetNonblock(l.epfd, false)
		return
	}
	l.poll, l.pollRaw = f, raw
	l.pollTake = func(uintptr) bool {
		l.polled = l.epollNow()
		return l.polled > 0
	}
}

// closeEpoll closes l's epoll instance, through the poller if it is in it.
func (l *evLoop) closeEpoll() {
	if l.poll != nil {
		_ = l.poll.Close()
		return
	}
	unix.Close(l.epfd)
}

// waitPolled is wait through the runtime's poller. A goroutine blocked in
// epoll_pwait2 makes the runtime hand its P to another thread after 20 µs
// and take it back when the call returns (futex wakes, spinning threads,
// context switches: several per wait, at low request rates several per
// request). Parked in the poller instead, the goroutine is woken by the
// runtime's own wait, on the same thread, at the first event or at the
// read deadline, which is the heap's first wait.
func (l *evLoop) waitPolled() int {
	var next time.Time
	if len(l.timers) > 0 {
		next = l.timers[0].hkey
		if !next.After(time.Now()) { // a wait is over (a zero key: cancelled)
			return l.epollNow()
		}
	}
	if !next.Equal(l.deadline) {
		if l.poll.SetReadDeadline(next) != nil {
			return l.epollNow()
		}
		l.deadline = next
	}
	l.polled = 0
	_ = l.pollRaw.Read(l.pollTake) // ends at the deadline with os.ErrDeadlineExceeded, polled 0
	return l.polled
}

// epollNow takes the events l's epoll instance has now, without waiting.
func (l *evLoop) epollNow() int {
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])),
			uintptr(len(l.events)), 0, 0, 0)
		switch errno {
		case 0:
			return int(n)
		case unix.EINTR:
			continue
		}
		return 0
	}
}

// expire ends every wait whose time has come.
func (l *evLoop) expire() {
	now := time.Now()
	for len(l.timers) > 0 && !l.timers[0].hkey.After(now) {
		e := heap.Pop(&l.timers).(*evConn)
		switch {
		case !e.waiting:
			continue // its wait ended by its socket
		case e.wake.After(now):
			e.hkey = e.wake // a later wait than its place: back in line
			heap.Push(&l.timers, e)
			continue
		}
		e.waiting = false
		e.expired()
	}
}

// begin starts connection idx's schedule.
func (l *evLoop) begin(idx int) {
	e := &evConn{l: l, fd: -1, hidx: -1}
	l.r.initConn(l.ctx, &e.conn, idx)
	e.stopWatch = func() bool { return true }
	l.live++
	e.drive()
}

// release closes every held connection: every schedule is over.
func (l *evLoop) release() {
	for _, e := range l.held {
		e.finish()
	}
	l.held = nil
}

// setWait makes e wait until t. A wait that ends later than e's place in
// the heap keeps that place (the usual case: each response's deadline is
// later than the last), and expire puts it back at its own time when the
// place comes up: no heap work per request.
func (e *evConn) setWait(t time.Time) {
	e.wake, e.waiting = t, true
	if e.l.cancels {
		e.wake = time.Time{}
	}
	switch {
	case e.hidx < 0:
		e.hkey = e.wake
		heap.Push(&e.l.timers, e)
	case e.wake.Before(e.hkey):
		e.hkey = e.wake
		heap.Fix(&e.l.timers, e.hidx)
	}
}

// drive runs e's schedule from where it stands until it must wait: the
// goroutine engine's connection loop, cut at its waits.
func (e *evConn) drive() {
	ctx := e.l.ctx
	for {
		switch e.at {
		case atSlot:
			s, wake, ok := e.slotWake(e.k)
			if !ok {
				e.end()
				return
			}
			e.s, e.at = s, atDue
			if !wake.IsZero() && time.Now().Before(wake) { // a closed loop's wake is zero but after a failed connect
				e.setWait(wake)
				return
			}
			if ctx.Err() != nil {
				e.slotCancelled(e.k)
				e.end()
				return
			}
		case atDue:
			s, ok := e.slotDue(e.s)
			if !ok {
				e.end()
				return
			}
			e.s, e.at = s, atSend
			if e.awaiting {
				e.at = atOwedDone
				if !e.startRead() {
					return
				}
			}
		case atOwedDone:
			e.at = atSend
			if !e.owedRead(ctx, &e.s, e.res.closing, e.res.err) {
				e.k, e.at = e.k+1, atSlot
			}
		case atSend:
			if e.late(ctx, e.s) {
				e.k, e.at = e.k+1, atSlot
				continue
			}
			e.idle = false
			if e.idleTimedOut(e.s.now) && e.closedWhileIdle() {
				e.close()
				e.idle = true
			}
			e.at = atWrite
			if e.c == nil && !e.startConnect() {
				return
			}
		case atConnectDone:
			if e.connectErr != nil {
				_ = e.closeFd()
				err := e.connectErr
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				e.openFailed(ctx, &e.s, classifyConnect(err), err)
				e.k, e.at = e.k+1, atSlot
				continue
			}
			e.connected = time.Now()
			if e.r.tls != nil {
				e.at = atHandshake
				e.startTLS()
				if !e.handshake() {
					return
				}
				continue
			}
			e.opened(&e.s, loopConn{e}, e.stopWatch, e.idle, e.began, e.connected)
			e.at = atWrite
		case atHandshake:
			if err := e.tls.err; err != nil {
				_ = e.closeFd()
				e.openFailed(ctx, &e.s, TLSHandshake, err)
				e.k, e.at = e.k+1, atSlot
				continue
			}
			e.opened(&e.s, loopTLSConn{e}, e.stopWatch, e.idle, e.began, e.connected)
			e.at = atWrite
		case atWrite:
			e.sentAt = e.s.now
			req, class := e.request(e.s)
			e.out, e.class = e.r.requests[req], class
			if e.tls != nil {
				var err error
				if e.out, err = e.tls.seal(e.out); err != nil {
					e.writeFailed(ctx, e.s, e.class, err)
					e.k, e.at = e.k+1, atSlot
					continue
				}
			}
			if !e.write(e.s.now) { // s.now: the slot's start or its connect, just now
				return
			}
		case atReadDone:
			if p := e.rr.pace; p != nil {
				e.offset += p.slept // as exchange does
			}
			e.response(ctx, e.s, e.sentAt, e.class, e.res.status, e.res.body, e.res.closing, e.res.err)
			e.k, e.at = e.k+1, atSlot
		case atHeld:
			return
		}
	}
}

// end ends e's schedule: it is checked at the window's end, as the
// goroutine engine's is, and held until every schedule is over.
func (e *evConn) end() {
	if e.windowOver && e.l.ctx.Err() == nil {
		e.atWindowEnd()
	}
	e.at = atHeld
	e.r.scheduled.Done()
	e.l.mu.Lock()
	released := e.l.released
	e.l.mu.Unlock()
	if released {
		e.finish()
		return
	}
	e.l.held = append(e.l.held, e)
}

// finish closes e for good.
func (e *evConn) finish() {
	e.close()
	_ = e.closeFd() // a no-op unless the socket outlived its conn.close
	e.l.live--
	e.l.wg.Done()
}

// startConnect begins e's connect for slot s, within its deadline; it
// reports true when the connect ended at once (e.at is then
// atConnectDone).
func (e *evConn) startConnect() bool {
	e.at, e.began = atConnectDone, time.Now()
	fd, err := e.r.dialer.connect(e.id, e.r.rcvbuf(e.id))
	if err != nil {
		e.connectErr = err
		return true
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd)}
	if err := unix.EpollCtl(e.l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		e.connectErr = os.NewSyscallError("epoll_ctl", err)
		return true
	}
	for fd >= len(e.l.byFd) {
		e.l.byFd = append(e.l.byFd, make([]*evConn, len(e.l.byFd)+1024)...)
	}
	e.l.byFd[fd], e.fd = e, fd
	e.readable, e.writable, e.hup, e.connectErr = false, false, false, nil
	// A loopback connect is often done when connect() returns: look
	// first, as the goroutine engine's dial does, before waiting.
	if done, err := connected(fd); done {
		e.connectErr = err
		return true
	}
	e.setWait(e.s.deadline)
	return false
}

// closeFd closes e's socket, if open.
func (e *evConn) closeFd() error {
	if e.fd < 0 {
		return nil
	}
	if e.tls != nil {
		e.tls.abandon(errTLSAbandoned) // a handshake under way ends with its socket
		e.tls = nil
	}
	e.l.byFd[e.fd] = nil
	err := unix.Close(e.fd)
	e.fd = -1
	e.dropBuf()
	return err
}

// write writes the rest of e's request at now; it reports true when e
// can go on at once (the response was read, or the write failed).
func (e *evConn) write(now time.Time) bool {
	ctx := e.l.ctx
	if ctx.Err() != nil || now.After(e.s.deadline) {
		// The goroutine engine's write would find its deadline passed.
		e.writeFailed(ctx, e.s, e.class, os.ErrDeadlineExceeded)
		e.k, e.at = e.k+1, atSlot
		return true
	}
	var wait bool
	var err error
	switch e.out, wait, err = e.send(e.out); {
	case wait:
		return false
	case err != nil:
		e.writeFailed(ctx, e.s, e.class, err)
		e.k, e.at = e.k+1, atSlot
		return true
	}
	e.at = atReadDone
	return e.startRead()
}

// send writes b as far as e's socket takes it: the bytes left, whether e
// now waits for the socket to take more, and the write's error.
func (e *evConn) send(b []byte) (rest []byte, wait bool, err error) {
	for len(b) > 0 {
		n, err := rawIO(unix.SYS_WRITE, e.fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			e.writable = false
			e.setWait(e.s.deadline)
			return b, true, nil
		case err != nil:
			return b, false, os.NewSyscallError("write", err)
		}
		b = b[n:]
	}
	return b, false, nil
}

// startRead begins reading a response (its next point, atReadDone or
// atOwedDone, is set); it reports true when it ended at once.
func (e *evConn) startRead() bool {
	if e.rr.pace != nil {
		e.rr.pace.start()
	}
	if len(e.buf) > 0 && e.parse(e.buf, errWouldBlock) {
		return true
	}
	if e.readable && e.read() {
		return true
	}
	e.readWait()
	return false
}

// readWait makes e wait for its response's bytes until its read deadline:
// the slot's, moved on by a slow client's pauses. A pause under way
// keeps its own wait.
func (e *evConn) readWait() {
	switch p := e.rr.pace; {
	case e.pausing:
	case p != nil:
		e.setWait(e.s.deadline.Add(p.slept))
	default:
		e.setWait(e.s.deadline)
	}
}

// paused reports whether a slow client, having read what it has so far,
// must pause before it reads on; it then waits until the pause's end.
func (e *evConn) paused() bool {
	p := e.rr.pace
	if p == nil {
		return false
	}
	d := p.pause()
	if d <= 0 {
		return false
	}
	e.pausing, e.pause = true, d
	e.setWait(time.Now().Add(d))
	return true
}

// read reads what the socket has and parses it; it reports true when the
// response was read to its end, or ended.
func (e *evConn) read() bool {
	for {
		if e.paused() {
			return false // a slow client reads on when its pause ends
		}
		tail := errWouldBlock
		var n int
		var err error
		buf := e.l.rbuf
		if p := e.rr.pace; p != nil {
			buf = buf[:p.chunk] // a slow client reads in small reads
		}
		if e.tls != nil {
			n, err = e.recvTLS(buf)
		} else {
			n, err = e.recv(buf)
		}
		switch {
		case err == unix.EAGAIN:
			return false
		case err != nil:
			n, tail = 0, err
		case e.rr.pace != nil:
			e.rr.pace.read(n)
		}
		data := buf[:n]
		if len(e.buf) > 0 {
			e.keep(data)
			data = e.buf
		}
		if e.parse(data, tail) {
			return true
		}
		if len(e.buf) == 0 {
			e.keep(data)
		}
		if !e.readable {
			return false
		}
	}
}

// recv reads what e's socket has into buf: n bytes, or the error EAGAIN
// when it has none now, io.EOF at its close, or the read's error. It says
// in e.readable whether more may wait.
func (e *evConn) recv(buf []byte) (int, error) {
	for {
		n, err := rawIO(unix.SYS_READ, e.fd, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			e.readable = false
			return 0, err
		case err != nil:
			return 0, os.NewSyscallError("read", err)
		case n == 0:
			return 0, io.EOF
		}
		// A short read emptied the socket, unless its close waits behind
		// the data.
		e.readable = n == len(buf) || e.hup
		return n, nil
	}
}

// parse parses data, the response's bytes so far, then tail; it reports
// true when the response is read (or failed), keeping any bytes past it
// for the next.
func (e *evConn) parse(data []byte, tail error) bool {
	status, body, closing, used, more, err := e.rr.parse(data, tail)
	if more {
		return false
	}
	e.res.status, e.res.body, e.res.closing, e.res.err = status, body, closing, err
	rest := data[used:]
	if len(e.buf) > 0 {
		e.buf = e.buf[:copy(e.buf, rest)]
	} else if len(rest) > 0 {
		e.keep(rest)
	}
	if len(e.buf) == 0 {
		e.dropBuf()
	}
	return true
}

// keep appends b to e's unparsed bytes, in a pooled chunk while they fit.
func (e *evConn) keep(b []byte) {
	if e.chunk == nil && e.buf == nil && len(b) <= readBufferSize {
		e.chunk = chunkPool.Get().(*[]byte)
		e.buf = (*e.chunk)[:0]
	}
	if len(e.buf)+len(b) > cap(e.buf) && e.chunk != nil {
		grown := make([]byte, len(e.buf), 2*(len(e.buf)+len(b)))
		copy(grown, e.buf)
		chunkPool.Put(e.chunk)
		e.chunk, e.buf = nil, grown
	}
	e.buf = append(e.buf, b...)
}

// dropBuf gives e's unparsed bytes' memory back.
func (e *evConn) dropBuf() {
	if e.chunk != nil {
		chunkPool.Put(e.chunk)
	}
	e.chunk, e.buf = nil, nil
}

// event takes what epoll said of e's socket and resumes e if that ends its
// wait.
func (e *evConn) event(mask uint32) {
	if mask&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		e.readable = true
	}
	if mask&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		e.hup = true
	}
	if mask&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		e.writable = true
	}
	if !e.waiting {
		return
	}
	switch {
	case e.at == atConnectDone && e.writable:
		done, err := connected(e.fd)
		if !done {
			e.writable = false
			return
		}
		e.connectErr = err
	case e.at == atWrite && e.writable:
		// write goes on below, from drive
	case e.at == atHandshake && (e.readable || e.writable):
		if !e.handshake() {
			return
		}
	case (e.at == atReadDone || e.at == atOwedDone) && e.readable && !e.pausing:
		if !e.read() {
			return
		}
	default:
		return
	}
	e.waiting = false
	if e.at == atWrite {
		if !e.write(time.Now()) {
			return
		}
	}
	e.drive()
}

// expired ends e's wait at its time: a slot's wait is over; a connect,
// write or read ran out of time (or ctx ended), as the goroutine engine's
// deadline ends them.
func (e *evConn) expired() {
	switch e.at {
	case atDue:
		if e.l.ctx.Err() != nil {
			e.slotCancelled(e.k)
			e.end()
			return
		}
	case atConnectDone:
		e.connectErr = os.ErrDeadlineExceeded
	case atHandshake:
		t := e.tls
		t.abandon(os.ErrDeadlineExceeded)
		if t.err == nil {
			t.err = os.ErrDeadlineExceeded // it ended, but its last flight is not all written
		}
		e.r.tls.record(t.tc, t.err, t.began, e.rec) //nolint:errcheck // drive acts on it
	case atWrite:
		e.writeFailed(e.l.ctx, e.s, e.class, os.ErrDeadlineExceeded)
		e.k, e.at = e.k+1, atSlot
	case atReadDone, atOwedDone:
		if e.pausing {
			// A slow client's pause is over: it reads on, its read
			// deadline moved on by the pause.
			e.pausing = false
			e.rr.pace.slept += e.pause
			if e.l.ctx.Err() == nil && (!e.readable || !e.read()) {
				e.readWait()
				return
			}
			if e.l.ctx.Err() != nil {
				e.parse(e.buf, errPaceCancelled)
			}
			break
		}
		e.parse(e.buf, os.ErrDeadlineExceeded)
	default:
		return
	}
	e.drive()
}

// rawIO reads or writes a non-blocking socket without telling the
// runtime it is in a system call: the call never blocks, and the
// runtime's bookkeeping around one costs more than a loopback read.
func rawIO(trap uintptr, fd int, b []byte) (int, error) {
	n, _, errno := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// evHeap is the loop's timers: its connections' waits, soonest first.
type evHeap []*evConn

func (h evHeap) Len() int           { return len(h) }
func (h evHeap) Less(i, j int) bool { return h[i].hkey.Before(h[j].hkey) }
func (h evHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}
func (h *evHeap) Push(x any) {
	e := x.(*evConn)
	e.hidx = len(*h)
	*h = append(*h, e)
}
func (h *evHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.hidx = -1
	return e
}
