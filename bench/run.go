// Package bench is loadcheck's load generator. It opens exactly the
// requested number of keep-alive connections, sends requests on each at a
// fixed rate, and accounts for every connection and every request.
//
// A failed request is data, not an error: Run returns an error only when the
// run cannot be set up.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"
)

// Target is where the load goes.
type Target struct {
	// URL is an http:// URL; its path is the request path unless
	// Options.Path is set.
	URL string
}

// Options is the load shape.
type Options struct {
	Connections int
	Ramp        time.Duration // connection opens are spread evenly over Ramp
	WarmUp      time.Duration // after the ramp; sent but not measured
	Duration    time.Duration // the measured window
	RatePerConn float64       // requests per second on each connection
	// Timeout bounds each request from its intended send time: a response
	// that has not fully arrived by then is dropped as read_timeout.
	Timeout time.Duration
	// Path overrides the URL's path when not empty.
	Path string
	// Progress, when set, is called about once a second from a separate
	// goroutine with a snapshot of the run.
	Progress func(Progress)
}

// Phase names where a run is.
type Phase string

// The phases of a run, in order.
const (
	PhaseRamp    Phase = "ramp"
	PhaseWarmUp  Phase = "warm-up"
	PhaseMeasure Phase = "measure"
	PhaseDrain   Phase = "drain"
)

// Progress is a live snapshot for progress displays.
type Progress struct {
	Phase    Phase
	Elapsed  time.Duration
	Open     int64 // connections open now
	OK       int64 // responses so far, all phases
	Failed   int64 // failed requests so far, all phases
	Measured bool
}

// Result is everything one run measured. Counts cover the measured window
// only: requests whose intended send time fell in it, and the connections'
// fate during it.
type Result struct {
	Target         int // connections asked for
	Established    int // connections whose connect() succeeded at least once
	Served         int // held open through the window, every request answered in time
	PartlyServed   int // some requests answered, some not, or reconnected in the window
	Starved        int // not one response in the window (includes NeverConnected)
	NeverConnected int // never completed a connect: part of Starved
	Reconnects     int64

	// Sent counts every request the schedule called for in the window.
	// Sent == OK + Dropped + InFlight, always.
	Sent, OK, Dropped, InFlight int64
	Errors                      map[string]int64  // dropped requests by class
	ErrorSamples                map[string]string // first error message seen per class

	// Latency holds the latency in microseconds of every OK response,
	// measured from the request's intended send time.
	Latency  *hdrhistogram.Histogram
	Measured time.Duration // the measured window as it really ran
	Complete bool          // false when the run was cancelled before the end
}

// maxLatencyUS is the histogram's range; the timeout is clamped to it.
const maxLatencyUS = 10 * 60 * 1e6

// NewHistogram returns an empty latency histogram in microseconds with 3
// significant figures, the shape every Result uses.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, maxLatencyUS, 3)
}

// DroppedPct is the share of sent requests that were dropped, in percent.
func (r *Result) DroppedPct() float64 {
	if r.Sent == 0 {
		return 0
	}
	return 100 * float64(r.Dropped) / float64(r.Sent)
}

// connStat is one connection's fate in the measured window. Each is written
// only by its own connection goroutine and read after they all end.
type connStat struct {
	ok, failed, inFlight int64
	errs                 [numClasses]int64
	everConnected        bool
	brokenInWindow       bool // closed, timed out or reconnected during the window
	reconnects           int64
}

// sample is one measured outcome handed to the collector.
type sample struct {
	latencyUS int64
	class     Class
	ok        bool
	errMsg    string // set only for the first few failures of a class
}

type runner struct {
	opts      Options
	addr      string
	request   []byte
	start     time.Time
	measureAt time.Time
	endAt     time.Time
	stats     []connStat
	samples   chan sample
	// scheduled counts connections whose schedule is still running; allDone
	// closes when it reaches zero. No connection is closed before that: a
	// connection that closed as soon as its own last request was answered
	// would free a server slot while others are still being measured, and
	// the server would then serve connections it had starved all along.
	scheduled sync.WaitGroup
	allDone   chan struct{}
	open      atomic.Int64
	okAll     atomic.Int64
	failedAll atomic.Int64
	// sampled marks classes whose message the collector already has, so that
	// workers send a message string only the first time.
	sampled [numClasses]atomic.Bool
}

// Validate reports the first problem with the options.
func (o Options) Validate() error {
	switch {
	case o.Connections <= 0:
		return fmt.Errorf("connections must be at least 1, got %d", o.Connections)
	case o.Ramp < 0 || o.WarmUp < 0:
		return fmt.Errorf("ramp and warm-up must not be negative")
	case o.Duration <= 0:
		return fmt.Errorf("duration must be positive, got %s", o.Duration)
	case o.RatePerConn <= 0:
		return fmt.Errorf("rate per connection must be positive, got %g", o.RatePerConn)
	case o.Timeout <= 0:
		return fmt.Errorf("timeout must be positive, got %s", o.Timeout)
	}
	return nil
}

// buildRequest renders the request once with fasthttp; every send writes
// these bytes.
func buildRequest(t Target, path string) (addr string, raw []byte, err error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		return "", nil, fmt.Errorf("parse target URL %q: %w", t.URL, err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return "", nil, fmt.Errorf("target URL %q: want http://HOST:PORT/PATH", t.URL)
	}
	addr = u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	if path == "" {
		path = u.RequestURI()
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(fasthttp.MethodGet)
	req.SetRequestURI(path)
	req.Header.SetHost(u.Host)
	req.Header.Set("User-Agent", "loadcheck")
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := req.Write(w); err != nil {
		return "", nil, fmt.Errorf("render request: %w", err)
	}
	if err := w.Flush(); err != nil {
		return "", nil, fmt.Errorf("render request: %w", err)
	}
	return addr, buf.Bytes(), nil
}

// Run drives the load described by opts against t and returns what it
// measured. Cancelling ctx stops the run early; the result then has
// Complete == false and counts unfinished requests as InFlight.
func Run(ctx context.Context, t Target, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	addr, raw, err := buildRequest(t, opts.Path)
	if err != nil {
		return nil, err
	}
	r := &runner{
		opts:    opts,
		addr:    addr,
		request: raw,
		stats:   make([]connStat, opts.Connections),
		samples: make(chan sample, 4096),
	}
	r.start = time.Now()
	r.measureAt = r.start.Add(opts.Ramp + opts.WarmUp)
	r.endAt = r.measureAt.Add(opts.Duration)

	res := &Result{
		Target:       opts.Connections,
		Errors:       map[string]int64{},
		ErrorSamples: map[string]string{},
		Latency:      NewHistogram(),
	}
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for s := range r.samples {
			if s.ok {
				_ = res.Latency.RecordValue(min(max(s.latencyUS, 1), maxLatencyUS))
				continue
			}
			if s.errMsg != "" {
				if _, ok := res.ErrorSamples[s.class.String()]; !ok {
					res.ErrorSamples[s.class.String()] = s.errMsg
				}
			}
		}
	}()

	stopProgress := make(chan struct{})
	var progressDone sync.WaitGroup
	if opts.Progress != nil {
		progressDone.Add(1)
		go func() {
			defer progressDone.Done()
			r.reportProgress(stopProgress)
		}()
	}

	r.allDone = make(chan struct{})
	r.scheduled.Add(opts.Connections)
	go func() {
		r.scheduled.Wait()
		close(r.allDone)
	}()
	var wg sync.WaitGroup
	for i := range opts.Connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.connection(ctx, i)
		}()
	}
	wg.Wait()
	close(r.samples)
	<-collected
	close(stopProgress)
	progressDone.Wait()

	r.summarize(res)
	res.Complete = ctx.Err() == nil
	end := time.Now()
	if end.After(r.endAt) {
		end = r.endAt
	}
	res.Measured = max(end.Sub(r.measureAt), 0)
	return res, nil
}

func (r *runner) reportProgress(stop <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			p := Progress{
				Elapsed: now.Sub(r.start),
				Open:    r.open.Load(),
				OK:      r.okAll.Load(),
				Failed:  r.failedAll.Load(),
			}
			switch {
			case now.Before(r.start.Add(r.opts.Ramp)):
				p.Phase = PhaseRamp
			case now.Before(r.measureAt):
				p.Phase = PhaseWarmUp
			case now.Before(r.endAt):
				p.Phase, p.Measured = PhaseMeasure, true
			default:
				p.Phase = PhaseDrain
			}
			r.opts.Progress(p)
		}
	}
}

// summarize folds the per-connection stats into res.
func (r *runner) summarize(res *Result) {
	for i := range r.stats {
		s := &r.stats[i]
		res.OK += s.ok
		res.Dropped += s.failed
		res.InFlight += s.inFlight
		res.Reconnects += s.reconnects
		for c, n := range s.errs {
			if n > 0 {
				res.Errors[Class(c).String()] += n
			}
		}
		if s.everConnected {
			res.Established++
		}
		switch {
		case s.ok == 0:
			res.Starved++
			if !s.everConnected {
				res.NeverConnected++
			}
		case s.failed == 0 && s.inFlight == 0 && !s.brokenInWindow:
			res.Served++
		default:
			res.PartlyServed++
		}
	}
	res.Sent = res.OK + res.Dropped + res.InFlight
}

// sleepUntil waits for t or ctx on the caller's timer, which it reuses so
// that a connection allocates no timer per request; it reports whether t was
// reached.
func sleepUntil(ctx context.Context, timer *time.Timer, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer.Reset(d) // Go 1.23+: Reset needs no drain
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// fail accounts one failed request of connection st.
func (r *runner) fail(ctx context.Context, st *connStat, measured bool, c Class, err error) {
	r.failedAll.Add(1)
	if !measured {
		return
	}
	if ctx.Err() != nil {
		st.inFlight++ // cut short by cancellation, not by the server
		return
	}
	st.failed++
	st.errs[c]++
	st.brokenInWindow = true
	if err != nil && !r.sampled[c].Load() && r.sampled[c].CompareAndSwap(false, true) {
		r.samples <- sample{class: c, errMsg: err.Error()}
	}
}

// readResponse reads one response. It peeks first so that a reset or close
// before the first byte keeps its own class: fasthttp reports every
// first-byte failure as io.EOF.
func (r *runner) readResponse(br *bufio.Reader, resp *fasthttp.Response) error {
	if _, err := br.Peek(1); err != nil {
		return err
	}
	return resp.Read(br)
}

// connection runs one connection's schedule: slot k is due at
// openAt + k/rate. Every slot whose due time falls in the measured window
// ends as exactly one of ok, failed (with a class) or in flight.
func (r *runner) connection(ctx context.Context, id int) {
	st := &r.stats[id]
	n := r.opts.Connections
	openAt := r.start.Add(time.Duration(int64(r.opts.Ramp) * int64(id) / int64(n)))
	interval := time.Duration(float64(time.Second) / r.opts.RatePerConn)
	timeout := r.opts.Timeout

	var (
		conn      net.Conn
		br        *bufio.Reader
		resp      fasthttp.Response
		stopWatch func() bool
		awaiting  bool // a response to a timed-out request is still owed
	)
	closeConn := func() {
		if conn != nil {
			stopWatch()
			conn.Close()
			conn = nil
			awaiting = false
			r.open.Add(-1)
		}
	}
	defer closeConn()
	defer func() {
		r.scheduled.Done()
		select { // hold the connection until every schedule has ended
		case <-r.allDone:
		case <-ctx.Done():
		}
	}()
	dialer := net.Dialer{}
	timer := time.NewTimer(time.Hour)
	timer.Stop()

	for k := 0; ; k++ {
		due := openAt.Add(time.Duration(k) * interval)
		if !due.Before(r.endAt) {
			return
		}
		if !sleepUntil(ctx, timer, due) {
			return
		}
		measured := !due.Before(r.measureAt)
		deadline := due.Add(timeout)

		if awaiting {
			// An earlier request timed out and its response is still owed:
			// HTTP/1.1 cannot send this one before it arrives. Keep waiting,
			// on the same connection, until this slot's own deadline.
			_ = conn.SetReadDeadline(deadline)
			switch err := r.readResponse(br, &resp); {
			case err == nil:
				awaiting = false // late answer to a request already counted as dropped
				if resp.ConnectionClose() {
					closeConn()
				}
			case isTimeout(err) && ctx.Err() == nil:
				r.fail(ctx, st, measured, QueueTimeout, nil)
				continue
			default:
				awaiting = false
				closeConn() // the connection died while we waited; reconnect below
			}
		}
		if time.Now().After(deadline) {
			// The connection was busy with earlier requests until past this
			// one's timeout: it could never have been answered in time.
			r.fail(ctx, st, measured, QueueTimeout, nil)
			continue
		}
		if conn == nil {
			dctx, cancel := context.WithDeadline(ctx, deadline)
			c, err := dialer.DialContext(dctx, "tcp", r.addr)
			cancel()
			if err != nil {
				r.fail(ctx, st, measured, classifyConnect(err), err)
				continue
			}
			conn = c
			// Cancellation interrupts a blocked read or write at once.
			stopWatch = context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
			r.open.Add(1)
			if st.everConnected {
				st.reconnects++
				if measured {
					st.brokenInWindow = true
				}
			}
			st.everConnected = true
			if br == nil {
				br = bufio.NewReaderSize(conn, 4096)
			} else {
				br.Reset(conn)
			}
		}

		_ = conn.SetDeadline(deadline)
		if _, err := conn.Write(r.request); err != nil {
			r.fail(ctx, st, measured, classifyIO(err, false), err)
			closeConn()
			continue
		}
		if err := r.readResponse(br, &resp); err != nil {
			r.fail(ctx, st, measured, classifyIO(err, true), err)
			if isTimeout(err) && ctx.Err() == nil {
				// Keep the connection: a client holding N connections does not
				// churn them, and a server that queued this one may still answer.
				awaiting = true
			} else {
				closeConn()
			}
			continue
		}
		latency := time.Since(due)
		if c, bad := classifyStatus(resp.StatusCode()); bad {
			r.fail(ctx, st, measured, c, fmt.Errorf("HTTP %d", resp.StatusCode()))
		} else {
			r.okAll.Add(1)
			if measured {
				st.ok++
				r.samples <- sample{ok: true, latencyUS: latency.Microseconds()}
			}
		}
		if resp.ConnectionClose() {
			// The server announced it is closing (keep-alive limit reached):
			// the connection was not held.
			closeConn()
		}
	}
}
