package bench

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/valyala/fasthttp"
)

// responseReader reads one connection's responses. It waits for the first
// bytes of a response without holding a buffer: the read syscall runs in
// RawConn.Read's callback, which borrows a buffer from a pool only once the
// socket has data. The bufio.Reader fasthttp parses from is borrowed too,
// only while a response is being read. Thousands of connections that are
// waiting for an answer then cost no buffer each.
type responseReader struct {
	conn   Conn
	raw    syscall.RawConn // nil when conn has no file descriptor (tests)
	readFn func(uintptr) bool

	// readFd's arguments and results.
	dst       []byte
	borrowing bool // readFd reads into a chunk it borrows
	n         int
	err       error

	chunk   *[]byte // borrowed, backs pending
	pending []byte  // bytes read but not yet handed to the bufio.Reader
	kept    *bufio.Reader
	started bool      // the last read got at least one byte of its response
	head    bool      // the requests are HEAD: responses carry no body
	pace    *pacer    // a slow client's: nil reads at full speed
	mem     memSource // parse's source
}

// readBufferSize holds a response head; fasthttp reports a larger head as
// bad_response ("small read buffer").
const readBufferSize = 4096

var (
	readerPool   = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}
	chunkPool    = sync.Pool{New: func() any { b := make([]byte, readBufferSize); return &b }}
	responsePool = sync.Pool{New: func() any { return new(fasthttp.Response) }}
)

func (rr *responseReader) reset(c Conn) {
	rr.release()
	rr.conn, rr.raw = c, nil
	if rr.pace != nil {
		rr.pace.conn = c // whose read deadline the pauses move
	}
	if sc, ok := c.(syscall.Conn); ok {
		rr.raw, _ = sc.SyscallConn()
	}
	if rr.readFn == nil {
		rr.readFn = rr.readFd // one method value per connection, not per read
	}
}

// release returns everything borrowed; the connection is closing.
func (rr *responseReader) release() {
	if rr.kept != nil {
		rr.kept.Reset(nil)
		readerPool.Put(rr.kept)
		rr.kept = nil
	}
	rr.putChunk()
}

func (rr *responseReader) putChunk() {
	if rr.chunk != nil {
		chunkPool.Put(rr.chunk)
		rr.chunk, rr.pending = nil, nil
	}
}

// readFd is RawConn.Read's callback: it returns false to wait for the
// socket to become readable.
func (rr *responseReader) readFd(fd uintptr) bool {
	if rr.borrowing && rr.chunk == nil {
		rr.chunk = chunkPool.Get().(*[]byte)
		rr.dst = *rr.chunk
		if rr.pace != nil {
			rr.dst = rr.dst[:rr.pace.chunk]
		}
	}
	for {
		n, err := syscall.Read(int(fd), rr.dst)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			if rr.borrowing {
				rr.putChunk()
			}
			return false
		case err != nil:
			rr.n, rr.err = 0, os.NewSyscallError("read", err)
		case n == 0:
			rr.n, rr.err = 0, io.EOF
		default:
			rr.n, rr.err = n, nil
		}
		return true
	}
}

// Read feeds the bufio.Reader: first the pending bytes, then the socket.
func (rr *responseReader) Read(p []byte) (int, error) {
	if len(rr.pending) > 0 {
		n := copy(p, rr.pending)
		rr.pending = rr.pending[n:]
		if len(rr.pending) == 0 {
			rr.putChunk()
		}
		return n, nil
	}
	if rr.pace != nil {
		if err := rr.pace.wait(); err != nil {
			return 0, err
		}
		p = p[:min(len(p), rr.pace.chunk)]
	}
	n, err := rr.readConn(p)
	if rr.pace != nil {
		rr.pace.read(n)
	}
	return n, err
}

// readConn reads from the socket into p.
func (rr *responseReader) readConn(p []byte) (int, error) {
	if rr.raw == nil {
		return rr.conn.Read(p)
	}
	rr.dst, rr.borrowing = p, false
	err := rr.raw.Read(rr.readFn)
	rr.dst = nil
	if err != nil {
		return 0, err
	}
	return rr.n, rr.err
}

// read reads one response and returns its status code and whether the
// server announced it will close the connection. A reset or close before
// the first byte keeps its own class (fasthttp would report either as a
// plain io.EOF).
func (rr *responseReader) read() (status, body int, closing bool, err error) {
	rr.started = false
	if rr.pace != nil {
		rr.pace.start()
	}
	br := rr.kept
	if br == nil {
		if rr.raw != nil {
			rr.borrowing = true
			err := rr.raw.Read(rr.readFn)
			rr.borrowing = false
			if err == nil {
				err = rr.err
			}
			if err != nil {
				rr.putChunk()
				return 0, 0, false, err
			}
			rr.pending = (*rr.chunk)[:rr.n]
			rr.dst = nil
			if rr.pace != nil {
				rr.pace.read(rr.n)
			}
		}
		br = readerPool.Get().(*bufio.Reader)
		br.Reset(rr)
	}
	resp := getResponse(rr.head)
	if _, err = br.Peek(1); err == nil {
		rr.started = true
		err = resp.Read(br)
	}
	status, body, closing = resp.StatusCode(), len(resp.Body()), resp.ConnectionClose()
	resp.Reset()
	responsePool.Put(resp)
	if err == nil && (br.Buffered() > 0 || len(rr.pending) > 0) {
		rr.kept = br // more bytes than one response: keep them in order
		return status, body, closing, nil
	}
	rr.kept = nil
	br.Reset(nil)
	readerPool.Put(br)
	rr.putChunk()
	return status, body, closing, err
}

// getResponse takes a fasthttp.Response from the pool for one read: head
// says the request was a HEAD, whose response's Content-Length describes a
// body it does not send. Header names are left as they came: only the
// status, the body's length and Connection: close are read, and fasthttp
// finds those whatever their case.
func getResponse(head bool) *fasthttp.Response {
	resp := responsePool.Get().(*fasthttp.Response)
	resp.SkipBody = head
	resp.Header.DisableNormalizing()
	return resp
}

// errWouldBlock ends the bytes parse is given when the socket may still
// bring more: a parse that reaches it needs more bytes.
var errWouldBlock = errors.New("no more bytes yet")

// memSource is what parse's bufio.Reader reads: the bytes read so far,
// then tail.
type memSource struct {
	data []byte
	tail error
	hit  bool // the reader asked past the bytes
}

func (m *memSource) Read(p []byte) (int, error) {
	if len(m.data) == 0 {
		m.hit = true
		return 0, m.tail
	}
	n := copy(p, m.data)
	m.data = m.data[n:]
	return n, nil
}

// parse reads one response from data, the bytes read so far, followed by
// tail: errWouldBlock while the socket may bring more, or what ended the
// reading (io.EOF at the server's close, a read error, a deadline). It is
// the event loop's read: the same fasthttp parse as read's, over bytes
// already in memory, so that a response, a bad one or a cut one is judged
// the same by either engine. more reports that the response needs bytes
// not read yet; used is how many bytes of data it took.
func (rr *responseReader) parse(data []byte, tail error) (status, body int, closing bool, used int, more bool, err error) {
	rr.started = len(data) > 0
	if !rr.head {
		s, b, c, u, m, ok := quickResponse(data)
		if ok && (!m || tail == errWouldBlock) {
			return s, b, c, u, m, nil
		}
	}
	return rr.parseFasthttp(data, tail)
}

// parseFasthttp is parse by fasthttp alone.
func (rr *responseReader) parseFasthttp(data []byte, tail error) (status, body int, closing bool, used int, more bool, err error) {
	rr.started = false
	rr.mem = memSource{data: data, tail: tail}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(&rr.mem)
	resp := getResponse(rr.head)
	if _, err = br.Peek(1); err == nil {
		rr.started = true
		err = resp.Read(br)
	}
	status, body, closing = resp.StatusCode(), len(resp.Body()), resp.ConnectionClose()
	used = len(data) - len(rr.mem.data) - br.Buffered()
	more = err != nil && rr.mem.hit && tail == errWouldBlock
	resp.Reset()
	responsePool.Put(resp)
	br.Reset(nil)
	readerPool.Put(br)
	rr.mem = memSource{}
	return status, body, closing, used, more, err
}

// quickHeadMax is the longest head quickResponse takes, well inside the
// read buffer that bounds fasthttp's.
const quickHeadMax = 2048

// quickResponse reads the plainest response there is without fasthttp:
// HTTP/1.1, a status of 200 to 599 other than 204 and 304, header names of
// letters, digits and dashes, printable values, one Content-Length, no
// Transfer-Encoding, and Connection absent, close or keep-alive, the head
// complete in data and at most quickHeadMax bytes. ok false means "ask
// fasthttp": anything else. more: the body is not all in data yet. For
// every response it takes, its answer is fasthttp's (FuzzQuickResponse);
// it saves the event loop a third of its own CPU per response.
func quickResponse(data []byte) (status, body int, closing bool, used int, more, ok bool) {
	const proto = "HTTP/1.1 "
	if len(data) < len(proto)+4 || string(data[:len(proto)]) != proto {
		return
	}
	d := data[len(proto):]
	for _, c := range d[:3] {
		if c < '0' || c > '9' {
			return
		}
		status = status*10 + int(c-'0')
	}
	if d[3] != ' ' || status < 200 || status > 599 || status == 204 || status == 304 {
		return
	}
	pos, length := 0, -1
	for first := true; ; first = false {
		eol := bytes.IndexByte(data[pos:], '\n')
		if eol < 1 || data[pos+eol-1] != '\r' || pos+eol+1 > quickHeadMax {
			return
		}
		line := data[pos : pos+eol-1]
		pos += eol + 1
		if first {
			if !printable(line) {
				return
			}
			continue
		}
		if len(line) == 0 {
			break // the end of the head
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 1 {
			return
		}
		name, value := line[:colon], trimSpace(line[colon+1:])
		for _, c := range name {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return
			}
		}
		if !printable(value) {
			return
		}
		switch { // lengths first: most names are none of these
		case len(name) == 14 && bytes.EqualFold(name, []byte("Content-Length")):
			if length >= 0 || len(value) == 0 || len(value) > 9 {
				return
			}
			length = 0
			for _, c := range value {
				if c < '0' || c > '9' {
					return
				}
				length = length*10 + int(c-'0')
			}
		case len(name) == 17 && bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return
		case len(name) == 10 && bytes.EqualFold(name, []byte("Connection")):
			switch {
			case bytes.EqualFold(value, []byte("close")):
				closing = true
			case !bytes.EqualFold(value, []byte("keep-alive")):
				return
			}
		}
	}
	if length < 0 {
		return
	}
	if len(data)-pos < length {
		return status, 0, closing, 0, true, true
	}
	return status, length, closing, pos + length, false, true
}

// trimSpace trims spaces and tabs from both ends of b.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// printable reports whether b is all printable ASCII or tabs.
func printable(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c > '~' {
			return false
		}
	}
	return true
}
