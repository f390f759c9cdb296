package bench

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/valyala/fasthttp"
)

// Class is the cause of a dropped request. There is no catch-all "error":
// an error that fits no known class is Unclassified, and its first message is
// kept in Result.Samples so that a new class can be added for it.
type Class uint8

// The error classes. Their String forms are the keys of Result.Errors and of
// the JSON result.
const (
	ConnectTimeout Class = iota
	ConnectRefused
	PortsExhausted // EADDRNOTAVAIL: the client ran out of ephemeral ports
	ClientNofile   // EMFILE/ENFILE: the client ran out of file descriptors
	Reset
	ClosedByServer
	ReadTimeout
	WriteTimeout
	QueueTimeout // the request's slot passed its timeout while its connection was still busy
	ClientLate   // the generator reached the slot after its timeout, or woke long past a deadline to find the answer waiting: client-limited, not the server
	HTTP4xx
	HTTP5xx
	BadResponse  // the bytes that came back were not a valid HTTP response
	TLSHandshake // the TLS handshake failed (https:// targets)
	// HTTP/2's own (Load.Protocol h2 or h2c).
	RefusedStream // the server reset the stream with REFUSED_STREAM: not processed, safe to retry
	StreamReset   // the server reset the stream with another error code (kept in the sample)
	GoAway        // the server's GOAWAY left the stream unprocessed (above its last stream id), or the connection closed after one
	FlowStall     // the request's body was still waiting for the server's flow-control window at its timeout
	SettingsWait  // the server sent not one byte, so not its SETTINGS, within the request's timeout
	Unclassified
	numClasses
)

var classNames = [numClasses]string{
	"connect_timeout", "connect_refused", "ports_exhausted", "client_nofile",
	"reset", "closed_by_server", "read_timeout", "write_timeout", "queue_timeout", "client_late",
	"http_4xx", "http_5xx", "bad_response", "tls_handshake",
	"refused_stream", "stream_reset", "goaway", "flow_control_stall", "settings_timeout", "unclassified",
}

func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return "unknown"
}

// classifyConnect names the cause of a failed connect.
func classifyConnect(err error) Class {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return ConnectRefused
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return PortsExhausted
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return ClientNofile
	case errors.Is(err, syscall.ECONNRESET):
		return Reset
	case isTimeout(err):
		return ConnectTimeout
	}
	return Unclassified
}

// classifyIO names the cause of a failed write or read on an open
// connection.
func classifyIO(err error, reading bool) Class {
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return Reset
	case errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, fasthttp.ErrConnectionClosed):
		return ClosedByServer
	case isTimeout(err) && reading:
		return ReadTimeout
	case isTimeout(err):
		return WriteTimeout
	}
	var perr *fasthttp.ErrSmallBuffer
	if errors.As(err, &perr) {
		return BadResponse
	}
	if reading && !isNetError(err) {
		// fasthttp's parse errors are plain errors: the server sent bytes that
		// are not HTTP.
		return BadResponse
	}
	return Unclassified
}

// classifyStatus returns the class of an HTTP status, and false for a
// success (1xx-3xx).
func classifyStatus(code int) (Class, bool) {
	switch {
	case code >= 500:
		return HTTP5xx, true
	case code >= 400:
		return HTTP4xx, true
	}
	return 0, false
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isNetError(err error) bool {
	var ne net.Error
	var se syscall.Errno
	return errors.As(err, &ne) || errors.As(err, &se)
}
