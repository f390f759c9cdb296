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
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Target is where the load goes.
type Target struct {
	// URL is an http:// or https:// URL; its path is the request path
	// unless Options.Paths is set.
	URL string `json:"url"`
}

// Header is one request header.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Options is a Load plus how this process generates it.
type Options struct {
	Load

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

	// MeasureFrom, with an auto warm-up, ends the warm-up: the measured
	// window begins at the first time received (see Load.WarmUp). Without
	// one, or before it comes, the warm-up lasts its cap.
	MeasureFrom <-chan time.Time `json:"-"`

	// Steps, when set, opens the connections in steps: none at first, and
	// each count received lets connections up to it open, evenly over
	// Load.Ramp from when it came. Connections not let in by the end of
	// the window never open (NotStarted). A capacity search's stepped run
	// uses it, in one process only.
	Steps <-chan int `json:"-"`

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
	// Errors are the failed requests so far by class, all phases; P99US
	// is the last second's p99 latency of its OK responses (0: none).
	// One process's own: a sharded run's progress has neither.
	Errors map[string]int64 `json:"errors,omitempty"`
	P99US  int64            `json:"p99_us,omitempty"`
	// Latency is every OK response's latency so far in microseconds, all
	// phases (2 significant figures): the callback may read it while it
	// runs, and must not keep it. One process's own, like P99US.
	Latency *hdrhistogram.Histogram `json:"-"`
	// Left is how long the load has to run: to the end of the measured
	// window as it stands (an auto warm-up that has not ended counts to
	// its cap).
	Left time.Duration `json:"left_ns,omitempty"`
	// Stalled is the connections waiting now for an answer (to a request
	// sent, or owed by one that timed out) for more than StallAfter: a
	// starved connection whose timeout has not fired yet shows here
	// before it shows as a failure.
	Stalled int64 `json:"stalled,omitempty"`
}

// StallAfter is how long a connection waits for an answer before
// Progress counts it as stalled.
const StallAfter = time.Second

// Result is everything one run measured. Counts cover the measured window
// only: requests whose intended send time fell in it, and the connections'
// fate during it. Series covers the whole run.
type Result struct {
	Connections `json:"connections"`
	Requests    `json:"requests"`

	// Latency holds the latency in microseconds of every OK response,
	// measured from the request's intended send time (corrected for
	// coordinated omission). ServiceTime holds the same responses measured
	// from the moment the request was really written; the two differ when
	// requests wait behind a stalled server. In closed-loop mode they
	// differ only by the microseconds between a slot's start and its write.
	Latency, ServiceTime *hdrhistogram.Histogram `json:"-"`
	// ConnectTime holds the duration in microseconds of every successful
	// connect, ramp and reconnects included.
	ConnectTime *hdrhistogram.Histogram `json:"-"`
	// TLS is nil for http:// targets.
	TLS *TLS `json:"-"`
	// Classes is per path class of a mix (Load.Mix), in the order of the
	// most requested first; nil without a mix.
	Classes []ClassResult `json:"-"`
	// Groups are the fast and the slow clients apart, when some are slow
	// (Load.Slow); nil otherwise.
	Groups []GroupResult `json:"-"`
	// PerShard is each generator process's share, when there were several.
	PerShard []ShardSummary `json:"-"`
	// OpenedIn is how long after the start the last connection first
	// opened; zero when some never did.
	OpenedIn time.Duration `json:"-"`
	Series   []Point       `json:"-"` // one point per second of the whole run
	Measured time.Duration `json:"-"` // the measured window as it really ran
	Complete bool          `json:"-"` // false when the run was cancelled before the end
	Shards   int           `json:"-"` // processes that generated the load
	// Engine is the generator engine that drove the connections:
	// EngineLoop or EngineGoroutine.
	Engine string `json:"-"`
	// Fleet names where the shards ran when not in this host's processes
	// ("swarm"); "" otherwise. Set by the fleet's generator.
	Fleet string `json:"-"`
	// MeasureStart is when the measured window began, counted from
	// Started: the ramp plus the warm-up as it really ran (an auto
	// warm-up ends when the server settled).
	MeasureStart time.Duration `json:"-"`
	// Started is when the schedule began (its first connection's open
	// time): every offset of the run, the series' T included, counts from
	// it. Shards share it.
	Started time.Time `json:"-"`
	// CPUs is how much CPU the generator's processes could use (CPULimit:
	// their affinity, or a cgroup quota); with the series' CPUMS, how busy
	// the generator was.
	CPUs float64 `json:"-"`
}

// Connections accounts for every target connection:
// Target == Served + PartlyServed + Starved. The JSON names are those of
// the result schema (loadcheck.result/v1).
type Connections struct {
	Target         int   `json:"target"`          // connections asked for
	Established    int   `json:"established"`     // connect() succeeded at least once
	Served         int   `json:"served"`          // held open through the window, every request answered in time
	PartlyServed   int   `json:"partly_served"`   // some requests answered, some not, or reconnected in the window
	Starved        int   `json:"starved"`         // not one response in the window (includes NeverConnected)
	NeverConnected int   `json:"never_connected"` // never completed a connect: part of Starved
	Reconnects     int64 `json:"reconnects"`
	// IdleReopens counts connections the server had closed while they
	// were idle between two requests (its KeepAliveTimeout), found closed
	// before the next request and opened again for it, as a browser does:
	// not failures, and not counted in Reconnects.
	IdleReopens int64 `json:"idle_reopens,omitempty"`
	// ClientReopens counts sockets the load closed itself after
	// Load.RequestsPerConnection answers and opened again for the next
	// request (churn): not failures, and not counted in Reconnects; a
	// churned connection is served when every request was answered.
	ClientReopens int64 `json:"client_reopens,omitempty"`
	// ClosedAtEnd counts connections the server had closed when the
	// window ended, after their last answer: not held, so not served.
	ClosedAtEnd int `json:"closed_at_end,omitempty"`
	// NotStarted counts connections whose open time never came because
	// the run was interrupted first: neither starved nor served. Then
	// Target == Served + PartlyServed + Starved + NotStarted.
	NotStarted int `json:"not_started,omitempty"`
}

// Requests accounts for every request the schedule called for in the
// measured window: Sent == OK + Dropped + InFlight, always.
type Requests struct {
	Sent     int64 `json:"sent"`
	OK       int64 `json:"ok"`
	Dropped  int64 `json:"dropped"`
	InFlight int64 `json:"in_flight"`
	// BytesRead is the body bytes of the OK responses, every byte read.
	BytesRead int64 `json:"bytes_read"`
	// DroppedPct is Dropped / Sent in percent, unrounded: verdicts compare
	// it with their limits as it is, reports round it for display.
	DroppedPct float64           `json:"dropped_pct"`
	Errors     map[string]int64  `json:"errors"`                  // dropped requests by class
	Samples    map[string]string `json:"error_samples,omitempty"` // first error message seen per class
	// LateSends counts the measured requests the generator itself sent
	// more than a tenth of their interval after they were due, on a
	// connection that was free (open model): the load offered was less
	// than the schedule's, the generator's fault, never the server's.
	LateSends int64 `json:"late_sends,omitempty"`
}

// setDroppedPct derives DroppedPct from the counts.
func (q *Requests) setDroppedPct() {
	q.DroppedPct = 0
	if q.Sent > 0 {
		q.DroppedPct = 100 * float64(q.Dropped) / float64(q.Sent)
	}
}

// maxLatencyUS is the histogram's range; the timeout is clamped to it.
const maxLatencyUS = 10 * 60 * 1e6

// NewHistogram returns an empty latency histogram in microseconds with 3
// significant figures, the shape every Result uses.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, maxLatencyUS, 3)
}

// connStat is one connection's fate in the measured window. Each is written
// only by its own connection goroutine and read after they all end.
type connStat struct {
	ok, failed, inFlight int64
	errs                 [numClasses]int64
	reconnects           int64
	idleReopens          int64
	clientReopens        int64
	bytes                int64         // body bytes of the window's OK responses
	firstOpen            time.Duration // since start; 0 until connected
	everConnected        bool
	brokenInWindow       bool // closed, timed out or reconnected during the window
	closedAtEnd          bool // found closed by the server at the window's end
	started              bool // its schedule began: false when cancelled before its open time
	slow                 bool // a slow client (Load.Slow)
	// waitingSince is when the answer it waits for now was asked for
	// (UnixNano), 0 when it waits for none; read by the series ticker.
	waitingSince atomic.Int64
}

// recorder is one lock-protected set of histograms. Connections record into
// recorder id % len: with a few more recorders than cores the locks are
// almost never contended, and no sample crosses a channel.
type recorder struct {
	mu                 sync.Mutex
	latency, service   *hdrhistogram.Histogram
	connect, thisSecnd *hdrhistogram.Histogram
	handshake          *hdrhistogram.Histogram   // TLS handshakes
	classes            []classStat               // per path class, with a mix
	groups             []*hdrhistogram.Histogram // latency of fast [0] and slow [1] clients, with slow ones
	_                  [64]byte                  // keep neighbours' locks off this cache line
}

// classStat is one path class's window in one recorder.
type classStat struct {
	ok, dropped int64
	latency     *hdrhistogram.Histogram
}

// GroupResult is one group of clients (fast or slow, see SlowClients):
// its connections' fate and its window's requests, as in Result.
type GroupResult struct {
	Group string
	Connections
	Requests
	Latency *hdrhistogram.Histogram
}

// ClassResult is one path class of a mix: its window's OK responses
// (with their latency) and the requests dropped after they were sent.
type ClassResult struct {
	Class       string                  `json:"class"`
	OK, Dropped int64                   `json:"-"`
	Latency     *hdrhistogram.Histogram `json:"-"`
}

type runner struct {
	opts     Options
	loop     bool       // the event-loop engine drives the connections
	tls      *tlsClient // nil for http://
	h2       *h2Client  // nil unless the load speaks HTTP/2
	addr     string
	requests [][]byte
	heads    []bool // requests[i] is a HEAD: its answer has no body
	// With a mix: the cycle of request indexes, the next position in it,
	// each request's class and the class names.
	cycle      []int
	cyclePos   atomic.Int64
	classOf    []int
	classNames []string
	dialer     *dialer
	start      time.Time
	cpuAtStart time.Duration // the process's CPU time when the run began (processCPU)
	rampEnd    time.Time
	// measureOff is when the measured window begins, counted from start.
	// An auto warm-up starts at its cap and moves earlier, once, when the
	// caller says the server has settled; slots are judged against it only
	// when they fall due, after any move.
	measureOff atomic.Int64
	ids        []int // the connection ids this process drives
	// opens are the connections' open times in a stepped run; let is how
	// many the steps so far let in, the last step from stepFrom at stepAt.
	opens         []time.Time
	let, stepFrom int
	stepAt        time.Time
	stats         []connStat
	recs          []recorder
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
	lateAll   atomic.Int64 // answers that came after their request timed out
	// sendLateMax is the latest this second the generator reached a due
	// slot on a free connection (µs); lateSends counts the measured slots
	// it reached more than a tenth of their interval late (see
	// Requests.LateSends).
	sendLateMax   atomic.Int64
	lateSends     atomic.Int64
	reconnectsAll atomic.Int64
	errsAll       [numClasses]atomic.Int64
	samplesMu     sync.Mutex
	samples       map[string]string
	sampled       [numClasses]atomic.Bool
}

// Validate reports the first problem with the options.
func (o Options) Validate() error {
	if err := o.Load.Validate(); err != nil {
		return err
	}
	switch {
	case o.Shards < 0 || o.Shard < 0 || (o.Shard > 0 && o.Shard >= o.Shards):
		return fmt.Errorf("shard %d of %d does not exist", o.Shard, o.Shards)
	case o.Steps != nil && o.Shards > 1:
		return fmt.Errorf("a stepped run needs one generator process, not %d", o.Shards)
	case o.SourceAddrs < 0 || o.SourceAddrs > 250:
		return fmt.Errorf("source addresses must be within 0..250, got %d", o.SourceAddrs)
	}
	return nil
}

// Run drives the load described by opts against t and returns what it
// measured. Cancelling ctx stops the run early; the result then has
// Complete == false and counts unfinished requests as InFlight.
func Run(ctx context.Context, t Target, opts Options) (*Result, error) {
	r, err := newRunner(t, opts)
	if err != nil {
		return nil, err
	}
	opts = r.opts
	if r.tls != nil && opts.dial == nil {
		r.tls.offerServersGroup(ctx, r.addr)
	}
	r.start, r.cpuAtStart = time.Now(), processCPU()
	if !opts.StartAt.IsZero() {
		r.start = r.start.Add(time.Until(opts.StartAt)) // keep the monotonic clock
	}
	r.rampEnd = r.start.Add(opts.ramp())
	r.measureOff.Store(int64(opts.MeasureStart()))
	if opts.WarmUp == WarmUpAuto && opts.MeasureFrom != nil {
		go r.settle(ctx, opts.MeasureFrom)
	}

	r.allDone = make(chan struct{})
	var wg sync.WaitGroup
	var loops []*evLoop
	if r.loop {
		// Before anything that outlives a failed start: the series ticker
		// and the watch of the schedules' end.
		if loops, err = startLoops(ctx, r, &wg, min(runtime.GOMAXPROCS(0), len(r.ids))); err != nil {
			return nil, err
		}
		if r.tls != nil && os.Getenv("GOGC") == "" {
			// Thousands of handshakes at once leave garbage that the
			// default target (100 %) lets pile up to the heap's live
			// size again: at 50 % the peak RSS at 4000 connections is
			// about 15 % lower for no measurable CPU
			// (bench/perf/README.md). GOGC, when set, decides.
			defer debug.SetGCPercent(debug.SetGCPercent(tlsLoopGC))
		}
	}
	series := newSeriesTicker(r)
	r.scheduled.Add(len(r.ids))
	go func() {
		r.scheduled.Wait()
		// Schedules that ran to the window's end hold every connection
		// until the series has its point there (at most a second), so that
		// point counts them open. Schedules that ended early (a benchmark's
		// slot limit) have no such point to wait for.
		if !time.Now().Before(r.endAt()) {
			select {
			case <-series.endTaken:
			case <-ctx.Done():
			case <-time.After(1100 * time.Millisecond):
			}
		}
		close(r.allDone)
	}()
	r.schedule(ctx, &wg, loops)
	stopLoops(loops)
	wg.Wait()
	return r.result(ctx, series.stop()), nil
}

// newRunner checks opts and readies a run of them against t: its
// requests, dialer, engine, this process's connections and their
// recorders.
func newRunner(t Target, opts Options) (*runner, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Shards == 0 {
		opts.Shards = 1
	}
	addr, raws, heads, err := buildRequests(t, opts)
	if err != nil {
		return nil, err
	}
	r := &runner{opts: opts, addr: addr, requests: raws, heads: heads, samples: map[string]string{}}
	if len(opts.Mix) > 0 {
		if opts.Shards > 1 {
			return nil, fmt.Errorf("a request mix runs in one generator process for now, not %d: lower -c below what one process can open", opts.Shards)
		}
		r.cycle = expandMix(opts.Mix)
		r.classNames, r.classOf = mixClasses(opts.Mix)
	}
	if opts.Slow.Set() && opts.Shards > 1 {
		return nil, fmt.Errorf("slow clients run in one generator process for now, not %d: lower -c below what one process can open", opts.Shards)
	}
	if r.tls, err = tlsFor(t, opts); err != nil {
		return nil, err
	}
	if opts.HTTP2() {
		if r.h2, err = newH2Client(t, opts); err != nil {
			return nil, err
		}
		if r.tls != nil {
			r.tls.cfg.NextProtos = []string{"h2", "http/1.1"} // as browsers offer: a server without h2 says so by choosing HTTP/1.1
		}
	}
	if r.dialer, err = newDialer(addr, opts); err != nil {
		return nil, err
	}
	if r.loop, err = r.loopEngine(); err != nil {
		return nil, err
	}
	for id := opts.Shard; id < opts.Connections; id += opts.Shards {
		r.ids = append(r.ids, id)
	}
	r.stats = make([]connStat, len(r.ids))
	for i, id := range r.ids {
		r.stats[i].slow = opts.Slow.Is(id)
	}
	r.recs = make([]recorder, min(len(r.ids), 2*runtime.GOMAXPROCS(0)+2))
	for i := range r.recs {
		r.recs[i].latency, r.recs[i].service, r.recs[i].connect = NewHistogram(), NewHistogram(), NewHistogram()
		r.recs[i].handshake = NewHistogram()
		for range r.classNames {
			r.recs[i].classes = append(r.recs[i].classes, classStat{latency: NewHistogram()})
		}
		r.recs[i].thisSecnd = newSecondHistogram()
		if opts.Slow.Set() {
			r.recs[i].groups = []*hdrhistogram.Histogram{NewHistogram(), NewHistogram()}
		}
	}
	return r, nil
}

// schedule starts each of this process's connections at its open time
// (or, in a stepped run, when its step lets it in) on the event loops or
// a goroutine each, until ctx ends.
func (r *runner) schedule(ctx context.Context, wg *sync.WaitGroup, loops []*evLoop) {
	// Each connection's goroutine starts at its open time, not before:
	// thousands of goroutines that all wake at once would queue behind the
	// busy ones in Go's scheduler and open seconds late.
	timer := time.NewTimer(time.Hour)
	if r.opts.Steps != nil {
		r.opens = make([]time.Time, len(r.ids))
	}
	for i := range r.ids {
		at, ok := r.openAt(r.ids[i]), true
		if r.opens != nil {
			at, ok = r.admit(ctx, timer, r.ids[i])
			r.opens[i] = at
		}
		if !ok || !sleepUntil(ctx, timer, at) {
			r.scheduled.Add(-(len(r.ids) - i)) // never started
			break
		}
		wg.Add(1)
		if loops != nil {
			loops[i%len(loops)].add(i)
			continue
		}
		go func() {
			defer wg.Done()
			if r.h2 != nil {
				r.h2connection(ctx, i)
				return
			}
			r.connection(ctx, i)
		}()
	}
}

// result is the run's Result once every connection is done: the
// accounting, the series, the engine and the window as it really ran.
func (r *runner) result(ctx context.Context, points []Point) *Result {
	res := r.summarize()
	res.Series, res.Started = points, r.start
	res.Engine = EngineGoroutine
	if r.loop {
		res.Engine = EngineLoop
	}
	res.Complete = ctx.Err() == nil
	end := time.Now()
	if end.After(r.endAt()) {
		end = r.endAt()
	}
	res.Measured = max(end.Sub(r.measureAt()), 0)
	res.MeasureStart = time.Duration(r.measureOff.Load())
	return res
}

// measureAt is when the measured window begins; endAt when it ends.
func (r *runner) measureAt() time.Time {
	return r.start.Add(time.Duration(r.measureOff.Load()))
}

func (r *runner) endAt() time.Time { return r.measureAt().Add(r.opts.Duration) }

// settleMargin is the least time between a move of the window's start and
// the new start: no connection judges a slot that late against the old
// one, and shards all receive the new start before it comes.
const settleMargin = 50 * time.Millisecond

// settle ends an auto warm-up at the first time from ch: the measured
// window then begins there (or settleMargin from now, if that is later),
// never after the cap it began with.
func (r *runner) settle(ctx context.Context, ch <-chan time.Time) {
	select {
	case <-ctx.Done():
	case at, ok := <-ch:
		if !ok {
			return
		}
		off := max(at.Sub(r.start), time.Since(r.start)+settleMargin, r.rampEnd.Sub(r.start))
		if off < time.Duration(r.measureOff.Load()) {
			r.measureOff.Store(int64(off))
		}
	}
}

// openTime is when the connection at index idx of this process opens.
func (r *runner) openTime(idx int) time.Time {
	if r.opens != nil {
		return r.opens[idx]
	}
	return r.openAt(r.ids[idx])
}

// openAt is when connection id opens: the opens are spread evenly over the
// ramp, in id order across all shards.
func (r *runner) openAt(id int) time.Time {
	return r.start.Add(time.Duration(int64(r.rampEnd.Sub(r.start)) * int64(id) / int64(r.opts.Connections)))
}

// admit waits in a stepped run until a step lets connection id in, and
// returns when it opens; false when the run ends first.
func (r *runner) admit(ctx context.Context, timer *time.Timer, id int) (time.Time, bool) {
	for id >= r.let {
		timer.Reset(time.Until(r.endAt()))
		select {
		case <-ctx.Done():
			timer.Stop()
			return time.Time{}, false
		case <-timer.C:
			return time.Time{}, false
		case n, ok := <-r.opts.Steps:
			timer.Stop()
			if !ok {
				return time.Time{}, false
			}
			if n > r.let {
				r.stepFrom, r.let, r.stepAt = r.let, min(n, r.opts.Connections), time.Now()
			}
		}
	}
	return r.stepAt.Add(time.Duration(int64(r.opts.ramp()) * int64(id-r.stepFrom) / int64(r.let-r.stepFrom))), true
}

// phaseAt names the phase at time now.
func (r *runner) phaseAt(now time.Time) Phase {
	switch {
	case now.Before(r.rampEnd):
		return PhaseRamp
	case now.Before(r.measureAt()):
		return PhaseWarmUp
	case now.Before(r.endAt()):
		return PhaseMeasure
	}
	return PhaseDrain
}

// summarize folds the per-connection stats and the recorders into a Result.
func (r *runner) summarize() *Result {
	res := &Result{
		Requests:    Requests{Errors: map[string]int64{}, Samples: r.samples},
		Latency:     NewHistogram(),
		ServiceTime: NewHistogram(),
		ConnectTime: NewHistogram(),
		Shards:      1,
		TLS:         r.tls.result(r.recs),
	}
	for k, name := range r.classNames {
		cr := ClassResult{Class: name, Latency: NewHistogram()}
		for i := range r.recs {
			cs := r.recs[i].classes[k]
			cr.OK, cr.Dropped = cr.OK+cs.ok, cr.Dropped+cs.dropped
			cr.Latency.Merge(cs.latency)
		}
		res.Classes = append(res.Classes, cr)
	}
	for i := range r.recs {
		res.Latency.Merge(r.recs[i].latency)
		res.ServiceTime.Merge(r.recs[i].service)
		res.ConnectTime.Merge(r.recs[i].connect)
	}
	res.OpenedIn = r.fold(&res.Connections, &res.Requests, func(*connStat) bool { return true })
	res.Requests.LateSends, res.CPUs = r.lateSends.Load(), CPULimit()
	if r.opts.Slow.Set() {
		for g, name := range []string{"fast", "slow"} {
			gr := GroupResult{Group: name, Requests: Requests{Errors: map[string]int64{}}, Latency: NewHistogram()}
			r.fold(&gr.Connections, &gr.Requests, func(s *connStat) bool { return s.slow == (g == 1) })
			for i := range r.recs {
				gr.Latency.Merge(r.recs[i].groups[g])
			}
			res.Groups = append(res.Groups, gr)
		}
	}
	return res
}

// fold adds the stats of the connections that in picks to c and q, and
// returns when the last of them first opened (zero when one never did).
func (r *runner) fold(c *Connections, q *Requests, in func(*connStat) bool) (openedIn time.Duration) {
	allOpened := true
	for i := range r.stats {
		s := &r.stats[i]
		if !in(s) {
			continue
		}
		c.Target++
		q.OK += s.ok
		q.Dropped += s.failed
		q.InFlight += s.inFlight
		c.Reconnects += s.reconnects
		c.IdleReopens += s.idleReopens
		c.ClientReopens += s.clientReopens
		q.BytesRead += s.bytes
		for cl, n := range s.errs {
			if n > 0 {
				q.Errors[Class(cl).String()] += n
			}
		}
		if s.closedAtEnd {
			c.ClosedAtEnd++
		}
		if s.everConnected {
			c.Established++
			openedIn = max(openedIn, s.firstOpen)
		} else {
			allOpened = false
		}
		switch {
		case !s.started:
			c.NotStarted++
		case s.ok == 0:
			c.Starved++
			if !s.everConnected {
				c.NeverConnected++
			}
		case s.failed == 0 && s.inFlight == 0 && !s.brokenInWindow:
			c.Served++
		default:
			c.PartlyServed++
		}
	}
	q.Sent = q.OK + q.Dropped + q.InFlight
	q.setDroppedPct()
	if !allOpened {
		return 0
	}
	return openedIn
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
func (r *runner) succeed(rec *recorder, st *connStat, measured bool, latency, service time.Duration, body, class int) {
	r.okAll.Add(1)
	us := min(max(latency.Microseconds(), 1), maxLatencyUS)
	rec.mu.Lock()
	_ = rec.thisSecnd.RecordValue(us)
	if measured {
		_ = rec.latency.RecordValue(us)
		if rec.groups != nil {
			_ = rec.groups[b2i(st.slow)].RecordValue(us)
		}
		_ = rec.service.RecordValue(min(max(service.Microseconds(), 1), maxLatencyUS))
		if class >= 0 {
			rec.classes[class].ok++
			_ = rec.classes[class].latency.RecordValue(us)
		}
	}
	rec.mu.Unlock()
	if measured {
		st.ok++
		st.bytes += int64(body)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// closedLoopRetry is how long a closed-loop connection waits after a failed
// connect before it tries again, so that a dead server is not hammered and
// the counts stay meaningful.
const closedLoopRetry = 100 * time.Millisecond

type statusError int

func (e statusError) Error() string { return fmt.Sprintf("HTTP %d", int(e)) }

// rcvbuf is the receive buffer connection id's sockets ask for: a slow
// client's small one, else 0 (the kernel's).
func (r *runner) rcvbuf(id int) int {
	if r.opts.Slow.Is(id) {
		return r.opts.Slow.recvBuffer()
	}
	return 0
}

// dial opens connection id's socket, bounded by deadline, and returns it
// with the function that stops its cancellation watch.
func (r *runner) dial(ctx context.Context, id int, deadline time.Time) (Conn, func() bool, error) {
	if r.opts.dial == nil {
		return r.dialer.dial(ctx, id, deadline, r.rcvbuf(id))
	}
	c, err := r.opts.dial(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return c, context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) }), nil
}

// tlsLoopGC is the garbage collector's target while the event loops
// drive a TLS load (runtime/debug.SetGCPercent), unless GOGC is set.
const tlsLoopGC = 50

// The generator's engines (Options.Engine).
const (
	EngineAuto      = "auto"
	EngineLoop      = "epoll"
	EngineGoroutine = "goroutine"
)

// testEngine replaces the automatic choice in this package's tests
// (LOADCHECK_TEST_ENGINE), so that one test suite checks both engines.
var testEngine string

// loopEngine decides whether the event loops drive the connections.
// A benchmark's in-memory peer (Options.dial) has no socket for a loop.
func (r *runner) loopEngine() (bool, error) {
	l := r.opts.Load
	if l.Engine == "" {
		l.Engine = testEngine
	}
	https := r.tls != nil
	if err := l.CheckEngine(https); err != nil {
		return false, err
	}
	return l.Engine != EngineGoroutine && r.opts.dial == nil && l.loopRefusal() == "", nil
}
