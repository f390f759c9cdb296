package bench

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/docker/go-units"
)

// SlowClients makes a share of the connections slow readers, as phones on
// slow links are: each reads its responses at ReadRate bytes a second, in
// small paced reads, through a small receive buffer (SO_RCVBUF), so that
// httpd's writes wait on it once the kernel's socket buffers are full (on
// loopback they take a 100 KB answer whole: docs/findings/
// 2026-11-27-workloads.md).
//
// A slow client's own pauses are its own: the read deadline moves on by
// each pause (the timeout judges the server, not the client's chosen
// pace), and its schedule moves back by them (it sends its next request
// no sooner than its rate says after it finished reading), so a 100 KB
// answer read at 16 KB/s is not a failure of the slots that fall while
// it reads. Results are kept per group (Result.Groups): fast and slow.
type SlowClients struct {
	// Pct is the share of the connections that are slow, in percent:
	// connection i is slow when floor((i+1)·Pct/100) > floor(i·Pct/100),
	// which spreads them evenly over the ids (and so over the ramp).
	Pct float64 `json:"pct"`
	// ReadRate is each slow client's read rate, in bytes a second.
	ReadRate int64 `json:"read_bytes_per_s"`
	// RecvBuffer is the slow clients' SO_RCVBUF in bytes (the kernel
	// doubles it); 0 means DefaultSlowRecvBuffer.
	RecvBuffer int `json:"recv_buffer_bytes,omitempty"`
}

// DefaultSlowRecvBuffer is a slow client's receive buffer unless set.
const DefaultSlowRecvBuffer = 4096

// Set reports whether any connection is slow.
func (s SlowClients) Set() bool { return s.Pct > 0 }

// Is reports whether connection id is a slow client.
func (s SlowClients) Is(id int) bool {
	if s.Pct <= 0 {
		return false
	}
	return math.Floor(float64(id+1)*s.Pct/100) > math.Floor(float64(id)*s.Pct/100)
}

// Count is how many of n connections are slow.
func (s SlowClients) Count(n int) int {
	if s.Pct <= 0 {
		return 0
	}
	return int(math.Floor(float64(n) * s.Pct / 100))
}

func (s SlowClients) recvBuffer() int {
	if s.RecvBuffer > 0 {
		return s.RecvBuffer
	}
	return DefaultSlowRecvBuffer
}

// Validate reports the first problem, naming the field as in a scenario's
// workload.slow_clients.
func (s SlowClients) Validate() error {
	switch {
	case s.Pct < 0 || s.Pct > 100 || math.IsNaN(s.Pct):
		return bad("share", "want a share of the connections from 0%% to 100%%, got %g%%", s.Pct)
	case s.Pct > 0 && s.ReadRate < 64:
		return bad("read_rate", "want a read rate of at least 64 bytes a second, such as 16k, got %d", s.ReadRate)
	case s.RecvBuffer != 0 && (s.RecvBuffer < 1024 || s.RecvBuffer > 1<<20):
		return bad("recv_buffer", "want 1k to 1m, got %d bytes", s.RecvBuffer)
	}
	return nil
}

// Describe is the slow clients as a person writes them.
func (s SlowClients) Describe(n int) string {
	return fmt.Sprintf("%d of %d connections (%g%%) read at %s/s", s.Count(n), n, s.Pct, units.BytesSize(float64(s.ReadRate)))
}

// pacer paces one slow client's reads.
type pacer struct {
	rate  float64 // bytes a second
	chunk int     // the most one read takes
	timer *time.Timer
	done  <-chan struct{} // the run's cancellation
	conn  Conn
	// deadline is the slot's read deadline as set; the socket's is
	// deadline + slept.
	deadline time.Time
	// This response's: when its first byte came, the bytes read, and the
	// time spent pausing.
	began time.Time
	got   int64
	slept time.Duration
}

func newPacer(s SlowClients, done <-chan struct{}) *pacer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &pacer{rate: float64(s.ReadRate), chunk: min(max(int(s.ReadRate/10), 512), readBufferSize), timer: t, done: done}
}

// start begins a response.
func (p *pacer) start() { p.began, p.got, p.slept = time.Time{}, 0, 0 }

// read counts n bytes just read.
func (p *pacer) read(n int) {
	if p.began.IsZero() {
		p.began = time.Now()
	}
	p.got += int64(n)
}

// pause is how long the client must wait before it reads on, for the
// bytes read so far to be due at the rate: 0 or less when it need not.
func (p *pacer) pause() time.Duration {
	if p.began.IsZero() {
		return 0
	}
	return time.Until(p.began.Add(time.Duration(float64(p.got) / p.rate * float64(time.Second))))
}

// wait pauses for pause(), and moves the socket's read deadline on by the
// pause. It fails only when the run is cancelled.
func (p *pacer) wait() error {
	d := p.pause()
	if d <= 0 {
		return nil
	}
	p.timer.Reset(d)
	select {
	case <-p.done:
		p.timer.Stop()
		return errPaceCancelled
	case <-p.timer.C:
	}
	p.slept += d
	if !p.deadline.IsZero() {
		_ = p.conn.SetReadDeadline(p.deadline.Add(p.slept))
	}
	select { // cancelled while the deadline moved: the watch's "now" wins
	case <-p.done:
		_ = p.conn.SetDeadline(time.Now())
		return errPaceCancelled
	default:
	}
	return nil
}

// errPaceCancelled ends a paced read when the run is cancelled; fail()
// counts the request in flight then, whatever the error.
var errPaceCancelled = errors.New("slow client's read: run cancelled")
