// Package bench is loadcheck's load generator. It opens exactly the
// requested number of keep-alive connections, sends requests on each at a
// fixed rate (open model) or back to back (closed loop), and accounts for
// every connection and every request.
//
// A failed request is data, not an error: Run returns an error only when the
// run cannot be set up.
package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Target is where the load goes.
type Target struct {
	// URL is an http:// URL; its path is the request path unless
	// Options.Paths is set.
	URL string `json:"url"`
}

// Header is one request header.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Options is the load shape.
type Options struct {
	Connections int           `json:"connections"`
	Ramp        time.Duration `json:"ramp_ns"` // connection opens are spread evenly over Ramp
	// ConnectRate, when positive, opens this many connections per second
	// instead: the ramp becomes Connections/ConnectRate.
	ConnectRate float64       `json:"connect_rate,omitempty"`
	WarmUp      time.Duration `json:"warmup_ns"`   // after the ramp; sent but not measured
	Duration    time.Duration `json:"duration_ns"` // the measured window
	// RatePerConn is requests per second on each connection (open model):
	// request k of a connection is due at its open time + k/RatePerConn,
	// whether or not the server kept up.
	RatePerConn float64 `json:"rate_per_conn,omitempty"`
	// ClosedLoop sends each connection's next request as soon as the last
	// response arrives, like wrk. RatePerConn must then be 0.
	ClosedLoop bool `json:"closed_loop,omitempty"`
	// Timeout bounds each request from its intended send time: a response
	// that has not fully arrived by then is dropped as read_timeout.
	Timeout time.Duration `json:"timeout_ns"`

	// Request shape. Method defaults to GET. Paths, when set, are used in
	// turn on each connection (connection i starts at path i mod len);
	// otherwise the URL's path is used.
	Method  string   `json:"method,omitempty"`
	Paths   []string `json:"paths,omitempty"`
	Headers []Header `json:"headers,omitempty"`
	Body    []byte   `json:"body,omitempty"`

	// SourceAddrs spreads connections to a loopback target over this many
	// source addresses (127.0.0.2 upwards), so that more connections fit
	// than one address has ephemeral ports. 0 chooses automatically.
	SourceAddrs int `json:"source_addrs,omitempty"`

	// StartAt, when set, is the wall-clock time the run starts (shards of
	// one run share it). Zero means now.
	StartAt time.Time `json:"start_at,omitzero"`
	// Shard and Shards split one run over processes: this process drives
	// connections i with i % Shards == Shard. Zero Shards means 1.
	Shard  int `json:"shard,omitempty"`
	Shards int `json:"shards,omitempty"`

	// Progress, when set, is called about once a second from a separate
	// goroutine with a snapshot of the run.
	Progress func(Progress) `json:"-"`

	// dial replaces the network, and maxSlots ends each connection after
	// that many slots, in benchmarks of the hot path.
	dial     func(ctx context.Context, id int) (Conn, error)
	maxSlots int
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
	Phase    Phase         `json:"phase"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Open     int64         `json:"open"`   // connections open now
	OK       int64         `json:"ok"`     // responses so far, all phases
	Failed   int64         `json:"failed"` // failed requests so far, all phases
	Measured bool          `json:"measured"`
}

// Result is everything one run measured. Counts cover the measured window
// only: requests whose intended send time fell in it, and the connections'
// fate during it. Series covers the whole run.
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
	// measured from the request's intended send time (corrected for
	// coordinated omission). ServiceTime holds the same responses measured
	// from the moment the request was really written; the two differ when
	// requests wait behind a stalled server. In closed-loop mode they
	// differ only by the microseconds between a slot's start and its write.
	Latency, ServiceTime *hdrhistogram.Histogram
	// ConnectTime holds the duration in microseconds of every successful
	// connect, ramp and reconnects included.
	ConnectTime *hdrhistogram.Histogram
	// OpenedIn is how long after the start the last connection first
	// opened; zero when some never did.
	OpenedIn time.Duration
	Series   []Point       // one point per second of the whole run
	Measured time.Duration // the measured window as it really ran
	Complete bool          // false when the run was cancelled before the end
	Shards   int           // processes that generated the load
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
	reconnects           int64
	firstOpen            time.Duration // since start; 0 until connected
	everConnected        bool
	brokenInWindow       bool // closed, timed out or reconnected during the window
}

// recorder is one lock-protected set of histograms. Connections record into
// recorder id % len: with a few more recorders than cores the locks are
// almost never contended, and no sample crosses a channel.
type recorder struct {
	mu                 sync.Mutex
	latency, service   *hdrhistogram.Histogram
	connect, thisSecnd *hdrhistogram.Histogram
	_                  [64]byte // keep neighbours' locks off this cache line
}

type runner struct {
	opts      Options
	addr      string
	requests  [][]byte
	dialer    *dialer
	start     time.Time
	rampEnd   time.Time
	measureAt time.Time
	endAt     time.Time
	ids       []int // the connection ids this process drives
	stats     []connStat
	recs      []recorder
	// scheduled counts connections whose schedule is still running; allDone
	// closes when it reaches zero. No connection is closed before that: a
	// connection that closed as soon as its own last request was answered
	// would free a server slot while others are still being measured, and
	// the server would then serve connections it had starved all along.
	scheduled     sync.WaitGroup
	allDone       chan struct{}
	open          atomic.Int64
	okAll         atomic.Int64
	failedAll     atomic.Int64
	lateAll       atomic.Int64 // answers that came after their request timed out
	reconnectsAll atomic.Int64
	errsAll       [numClasses]atomic.Int64
	samplesMu     sync.Mutex
	samples       map[string]string
	sampled       [numClasses]atomic.Bool
}

// Validate reports the first problem with the options.
func (o Options) Validate() error {
	switch {
	case o.Connections <= 0:
		return fmt.Errorf("connections must be at least 1, got %d", o.Connections)
	case o.Ramp < 0 || o.WarmUp < 0:
		return fmt.Errorf("ramp and warm-up must not be negative")
	case o.ConnectRate < 0:
		return fmt.Errorf("connect rate must not be negative, got %g", o.ConnectRate)
	case o.Duration <= 0:
		return fmt.Errorf("duration must be positive, got %s", o.Duration)
	case o.ClosedLoop && o.RatePerConn != 0:
		return fmt.Errorf("closed loop sends as fast as responses come back; leave the rate per connection at 0 (got %g)", o.RatePerConn)
	case !o.ClosedLoop && o.RatePerConn <= 0:
		return fmt.Errorf("rate per connection must be positive, got %g (or use closed loop)", o.RatePerConn)
	case o.Timeout <= 0:
		return fmt.Errorf("timeout must be positive, got %s", o.Timeout)
	case o.Shards < 0 || o.Shard < 0 || (o.Shard > 0 && o.Shard >= o.Shards):
		return fmt.Errorf("shard %d of %d does not exist", o.Shard, o.Shards)
	case o.SourceAddrs < 0 || o.SourceAddrs > 250:
		return fmt.Errorf("source addresses must be within 0..250, got %d", o.SourceAddrs)
	}
	for _, p := range o.Paths {
		if len(p) == 0 || p[0] != '/' {
			return fmt.Errorf("path must start with /, got %q", p)
		}
	}
	return nil
}

// ramp is the time over which connections open.
func (o Options) ramp() time.Duration {
	if o.ConnectRate > 0 {
		return time.Duration(float64(o.Connections) / o.ConnectRate * float64(time.Second))
	}
	return o.Ramp
}

// Run drives the load described by opts against t and returns what it
// measured. Cancelling ctx stops the run early; the result then has
// Complete == false and counts unfinished requests as InFlight.
func Run(ctx context.Context, t Target, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Shards == 0 {
		opts.Shards = 1
	}
	addr, raws, err := buildRequests(t, opts)
	if err != nil {
		return nil, err
	}
	r := &runner{opts: opts, addr: addr, requests: raws, samples: map[string]string{}}
	if r.dialer, err = newDialer(addr, opts); err != nil {
		return nil, err
	}
	for id := opts.Shard; id < opts.Connections; id += opts.Shards {
		r.ids = append(r.ids, id)
	}
	r.stats = make([]connStat, len(r.ids))
	r.recs = make([]recorder, min(len(r.ids), 2*runtime.GOMAXPROCS(0)+2))
	for i := range r.recs {
		r.recs[i].latency, r.recs[i].service, r.recs[i].connect = NewHistogram(), NewHistogram(), NewHistogram()
		r.recs[i].thisSecnd = newSecondHistogram()
	}
	r.start = time.Now()
	if !opts.StartAt.IsZero() {
		r.start = r.start.Add(time.Until(opts.StartAt)) // keep the monotonic clock
	}
	r.rampEnd = r.start.Add(opts.ramp())
	r.measureAt = r.rampEnd.Add(opts.WarmUp)
	r.endAt = r.measureAt.Add(opts.Duration)

	series := newSeriesTicker(r)
	r.allDone = make(chan struct{})
	r.scheduled.Add(len(r.ids))
	go func() {
		r.scheduled.Wait()
		close(r.allDone)
	}()
	// Each connection's goroutine starts at its open time, not before:
	// thousands of goroutines that all wake at once would queue behind the
	// busy ones in Go's scheduler and open seconds late.
	var wg sync.WaitGroup
	timer := time.NewTimer(time.Hour)
	for i := range r.ids {
		if !sleepUntil(ctx, timer, r.openAt(r.ids[i])) {
			r.scheduled.Add(-(len(r.ids) - i)) // never started
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.connection(ctx, i)
		}()
	}
	wg.Wait()
	points := series.stop()

	res := r.summarize()
	res.Series = points
	res.Complete = ctx.Err() == nil
	end := time.Now()
	if end.After(r.endAt) {
		end = r.endAt
	}
	res.Measured = max(end.Sub(r.measureAt), 0)
	return res, nil
}

// openAt is when connection id opens: the opens are spread evenly over the
// ramp, in id order across all shards.
func (r *runner) openAt(id int) time.Time {
	return r.start.Add(time.Duration(int64(r.rampEnd.Sub(r.start)) * int64(id) / int64(r.opts.Connections)))
}

// phaseAt names the phase at time now.
func (r *runner) phaseAt(now time.Time) Phase {
	switch {
	case now.Before(r.rampEnd):
		return PhaseRamp
	case now.Before(r.measureAt):
		return PhaseWarmUp
	case now.Before(r.endAt):
		return PhaseMeasure
	}
	return PhaseDrain
}

// summarize folds the per-connection stats and the recorders into a Result.
func (r *runner) summarize() *Result {
	res := &Result{
		Target:       len(r.ids),
		Errors:       map[string]int64{},
		ErrorSamples: r.samples,
		Latency:      NewHistogram(),
		ServiceTime:  NewHistogram(),
		ConnectTime:  NewHistogram(),
		Shards:       1,
	}
	for i := range r.recs {
		res.Latency.Merge(r.recs[i].latency)
		res.ServiceTime.Merge(r.recs[i].service)
		res.ConnectTime.Merge(r.recs[i].connect)
	}
	allOpened := true
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
			res.OpenedIn = max(res.OpenedIn, s.firstOpen)
		} else {
			allOpened = false
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
	if !allOpened {
		res.OpenedIn = 0
	}
	res.Sent = res.OK + res.Dropped + res.InFlight
	return res
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
	if ctx.Err() != nil {
		if measured {
			st.inFlight++ // cut short by cancellation, not by the server
		}
		return
	}
	r.failedAll.Add(1)
	r.errsAll[c].Add(1)
	if !measured {
		return
	}
	st.failed++
	st.errs[c]++
	st.brokenInWindow = true
	if err != nil && !r.sampled[c].Load() && r.sampled[c].CompareAndSwap(false, true) {
		r.samplesMu.Lock()
		r.samples[c.String()] = err.Error()
		r.samplesMu.Unlock()
	}
}

// succeed accounts one OK response.
func (r *runner) succeed(rec *recorder, st *connStat, measured bool, latency, service time.Duration) {
	r.okAll.Add(1)
	us := min(max(latency.Microseconds(), 1), maxLatencyUS)
	rec.mu.Lock()
	_ = rec.thisSecnd.RecordValue(us)
	if measured {
		_ = rec.latency.RecordValue(us)
		_ = rec.service.RecordValue(min(max(service.Microseconds(), 1), maxLatencyUS))
	}
	rec.mu.Unlock()
	if measured {
		st.ok++
	}
}

// closedLoopRetry is how long a closed-loop connection waits after a failed
// connect before it tries again, so that a dead server is not hammered and
// the counts stay meaningful.
const closedLoopRetry = 100 * time.Millisecond

// connection runs one connection's schedule. In the open model slot k is
// due at openAt + k/rate; in closed loop the next slot is due when the last
// one ended. Every slot whose due time falls in the measured window ends as
// exactly one of ok, failed (with a class) or in flight.
func (r *runner) connection(ctx context.Context, idx int) {
	id := r.ids[idx]
	st := &r.stats[idx]
	rec := &r.recs[idx%len(r.recs)]
	openAt := r.openAt(id)
	var interval time.Duration
	if !r.opts.ClosedLoop {
		interval = time.Duration(float64(time.Second) / r.opts.RatePerConn)
	}
	timeout := r.opts.Timeout

	var (
		conn      Conn
		rr        responseReader
		stopWatch func() bool
		awaiting  bool // a response to a timed-out request is still owed
		answered  int  // responses read on this socket
		retryAt   time.Time
	)
	closeConn := func() {
		if conn != nil {
			stopWatch()
			conn.Close()
			conn = nil
			rr.release()
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
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	if !sleepUntil(ctx, timer, openAt) {
		return
	}

	for k := 0; ; k++ {
		// now is read once per step and reused; prevEnd is when this
		// connection finished its previous slot.
		var due, now, prevEnd time.Time
		if r.opts.ClosedLoop {
			if !sleepUntil(ctx, timer, retryAt) {
				return
			}
			now = time.Now()
			due, prevEnd = now, now
			if k == 0 {
				// A generator too busy to open on time shows as client_late.
				due, prevEnd = openAt, openAt
			}
		} else {
			prevEnd = time.Now()
			due = openAt.Add(time.Duration(k) * interval)
			if !sleepUntil(ctx, timer, due) {
				return
			}
			now = time.Now()
		}
		if !due.Before(r.endAt) || (r.opts.maxSlots > 0 && k >= r.opts.maxSlots) {
			return
		}
		measured := !due.Before(r.measureAt)
		deadline := due.Add(timeout)

		if awaiting {
			// An earlier request timed out and its response is still owed:
			// HTTP/1.1 cannot send this one before it arrives. Keep waiting,
			// on the same connection, until this slot's own deadline.
			_ = conn.SetReadDeadline(deadline)
			switch _, closing, err := rr.read(); {
			case err == nil:
				awaiting = false // late answer to a request already counted as dropped
				r.lateAll.Add(1)
				if closing {
					closeConn()
				}
			case isTimeout(err) && ctx.Err() == nil:
				r.fail(ctx, st, measured, QueueTimeout, nil)
				continue
			default:
				awaiting = false
				closeConn() // the connection died while we waited; reconnect below
			}
			now = time.Now()
			prevEnd = now
		}
		if now.After(deadline) {
			if prevEnd.After(deadline) {
				// The connection was busy with earlier requests until past
				// this one's timeout: it could never have been answered in time.
				r.fail(ctx, st, measured, QueueTimeout, nil)
			} else {
				// Nothing held this slot up but the generator: it was too busy
				// to reach it in time. Never the server's fault.
				r.fail(ctx, st, measured, ClientLate, nil)
			}
			continue
		}
		if conn == nil {
			began := time.Now()
			c, stop, err := r.dial(ctx, id, deadline)
			if err != nil {
				r.fail(ctx, st, measured, classifyConnect(err), err)
				retryAt = time.Now().Add(closedLoopRetry)
				continue
			}
			connected := time.Now()
			rec.mu.Lock()
			_ = rec.connect.RecordValue(max(connected.Sub(began).Microseconds(), 1))
			rec.mu.Unlock()
			// Cancellation interrupts a blocked read or write at once.
			conn, stopWatch = c, stop
			r.open.Add(1)
			if st.everConnected {
				st.reconnects++
				r.reconnectsAll.Add(1)
				if measured {
					st.brokenInWindow = true
				}
			} else {
				st.everConnected = true
				st.firstOpen = max(connected.Sub(r.start), 1)
			}
			rr.reset(conn)
			answered = 0
			now = connected
		}

		sentAt := now
		_ = conn.SetDeadline(deadline)
		if _, err := conn.Write(r.requests[(id+k)%len(r.requests)]); err != nil {
			r.fail(ctx, st, measured, classifyIO(err, false), err)
			closeConn()
			continue
		}
		status, closing, err := rr.read()
		if err != nil {
			c := classifyIO(err, true)
			if (c == Reset || c == ClosedByServer) && answered > 0 && !rr.started {
				// A kept-alive connection the server had already closed: our
				// request met its FIN (EOF) or, if the close got there first,
				// its RST. Either way the server closed an idle connection;
				// the class must not depend on that race.
				c = ClosedByServer
			}
			r.fail(ctx, st, measured, c, err)
			if isTimeout(err) && ctx.Err() == nil {
				// Keep the connection: a client holding N connections does not
				// churn them, and a server that queued this one may still answer.
				awaiting = true
			} else {
				closeConn()
			}
			continue
		}
		answered++
		done := time.Now()
		if c, bad := classifyStatus(status); bad {
			r.fail(ctx, st, measured, c, statusError(status))
		} else {
			r.succeed(rec, st, measured, done.Sub(due), done.Sub(sentAt))
		}
		if closing {
			// The server announced it is closing (keep-alive limit reached):
			// the connection was not held.
			closeConn()
		}
	}
}

type statusError int

func (e statusError) Error() string { return fmt.Sprintf("HTTP %d", int(e)) }

// dial opens connection id's socket, bounded by deadline, and returns it
// with the function that stops its cancellation watch.
func (r *runner) dial(ctx context.Context, id int, deadline time.Time) (Conn, func() bool, error) {
	if r.opts.dial == nil {
		return r.dialer.dial(ctx, id, deadline)
	}
	c, err := r.opts.dial(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return c, context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) }), nil
}
