package bench

// One run can be split over several processes ("shards"), each under the
// per-process file-descriptor limit: shard j of S drives connections
// j, j+S, j+2S, … of the same global schedule, from a common wall-clock
// start. Each shard prints JSON lines on stdout (ShardLine, schema
// ShardSchema): progress about once a second, then one final result whose
// histograms are HdrHistogram's compressed V2 encoding, so that the parent
// merges them without loss. The same format can later carry shards from
// other machines.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// ShardSchema versions the shard request and line formats.
const ShardSchema = "loadcheck.shard/v1"

// ShardRequest is what a shard process reads on stdin.
type ShardRequest struct {
	Schema  string  `json:"schema"`
	Target  Target  `json:"target"`
	Options Options `json:"options"`
	// Version is the coordinator's loadcheck version, for shards of a
	// fleet: `loadcheck shard` of another version refuses the request.
	Version string `json:"version,omitempty"`
	// Clock is the coordinator's clock (ClockHandler), for shards on
	// other hosts: the shard reads it before any load and stops when its
	// own clock is more than MaxClockSkew off.
	Clock string `json:"clock,omitempty"`
	// Thresholds is the coordinator's pass rule, opaque to the generator:
	// whoever merges the shards (loadcheck merge) judges by it, so that a
	// planned load is judged as the run that planned it would be.
	Thresholds json.RawMessage `json:"thresholds,omitempty"`
}

// ShardControl is a line the parent writes on a shard's stdin after its
// request: MeasureFrom ends an auto warm-up there.
type ShardControl struct {
	MeasureFrom time.Time `json:"measure_from"`
}

// ShardLine is one line a shard process writes on stdout.
type ShardLine struct {
	Schema string `json:"schema"`
	Shard  int    `json:"shard"`
	// Request is the first line: what the shard runs, so that its output
	// can be merged without the plan (see MergeOutputs).
	Request  *ShardRequest `json:"request,omitempty"`
	Clock    *ClockReading `json:"clock,omitempty"` // the second line, when the request has a Clock
	Progress *Progress     `json:"progress,omitempty"`
	Result   *Result       `json:"result,omitempty"`
	Error    string        `json:"error,omitempty"`
}

// resultWire is a Result as shards send it: the same counts, with the
// histograms in HdrHistogram's compressed V2 encoding so that the parent
// merges them without loss.
type resultWire struct {
	Connections Connections  `json:"connections"`
	Requests    Requests     `json:"requests"`
	Latency     []byte       `json:"latency_hdr"`
	ServiceTime []byte       `json:"service_time_hdr"`
	ConnectTime []byte       `json:"connect_time_hdr"`
	OpenedInNS  int64        `json:"opened_in_ns"`
	Series      []shardPoint `json:"series"`
	MeasuredNS  int64        `json:"measured_ns"`
	MeasureAtNS int64        `json:"measure_start_ns"`
	Started     time.Time    `json:"started"`
	Complete    bool         `json:"complete"`
	Engine      string       `json:"engine,omitempty"`
	CPUs        float64      `json:"cpus,omitempty"`
	// Every part a single process reports crosses too: the TLS block,
	// the path classes of a mix and the fast and slow client groups.
	TLS     *tlsWire    `json:"tls,omitempty"`
	Classes []classWire `json:"classes,omitempty"`
	Groups  []groupWire `json:"groups,omitempty"`
}

type tlsWire struct {
	TLS
	HandshakeTime []byte `json:"handshake_time_hdr"`
}

type classWire struct {
	Class       string `json:"class"`
	OK, Dropped int64
	Latency     []byte `json:"latency_hdr"`
}

type groupWire struct {
	Group       string      `json:"group"`
	Connections Connections `json:"connections"`
	Requests    Requests    `json:"requests"`
	Latency     []byte      `json:"latency_hdr"`
}

type shardPoint struct {
	Point
	Latency []byte `json:"latency_hdr,omitempty"`
}

// MarshalJSON encodes r as shards send it, histograms included.
func (r *Result) MarshalJSON() ([]byte, error) {
	w := resultWire{Connections: r.Connections, Requests: r.Requests, OpenedInNS: int64(r.OpenedIn),
		MeasuredNS: int64(r.Measured), MeasureAtNS: int64(r.MeasureStart), Complete: r.Complete, Started: r.Started, Engine: r.Engine, CPUs: r.CPUs}
	var err error
	enc := func(h *hdrhistogram.Histogram) []byte {
		if h == nil || err != nil {
			return nil
		}
		var b []byte
		b, err = h.EncodeV2()
		return b
	}
	w.Latency, w.ServiceTime, w.ConnectTime = enc(r.Latency), enc(r.ServiceTime), enc(r.ConnectTime)
	for _, p := range r.Series {
		w.Series = append(w.Series, shardPoint{Point: p, Latency: enc(p.latency)})
	}
	if r.TLS != nil {
		w.TLS = &tlsWire{TLS: *r.TLS, HandshakeTime: enc(r.TLS.HandshakeTime)}
	}
	for _, c := range r.Classes {
		w.Classes = append(w.Classes, classWire{Class: c.Class, OK: c.OK, Dropped: c.Dropped, Latency: enc(c.Latency)})
	}
	for _, g := range r.Groups {
		w.Groups = append(w.Groups, groupWire{Group: g.Group, Connections: g.Connections, Requests: g.Requests, Latency: enc(g.Latency)})
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes what MarshalJSON wrote: one shard's result.
func (r *Result) UnmarshalJSON(data []byte) error {
	var w resultWire
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*r = Result{Connections: w.Connections, Requests: w.Requests, OpenedIn: time.Duration(w.OpenedInNS),
		Measured: time.Duration(w.MeasuredNS), MeasureStart: time.Duration(w.MeasureAtNS), Complete: w.Complete, Shards: 1, Started: w.Started, Engine: w.Engine, CPUs: w.CPUs}
	var err error
	dec := func(b []byte, empty func() *hdrhistogram.Histogram) *hdrhistogram.Histogram {
		if len(b) == 0 || err != nil {
			return empty()
		}
		var h *hdrhistogram.Histogram
		if h, err = hdrhistogram.Decode(b); err != nil {
			err = fmt.Errorf("decode histogram: %w", err)
		}
		return h
	}
	r.Latency, r.ServiceTime, r.ConnectTime = dec(w.Latency, NewHistogram), dec(w.ServiceTime, NewHistogram), dec(w.ConnectTime, NewHistogram)
	for _, p := range w.Series {
		pt := p.Point
		pt.latency = dec(p.Latency, newSecondHistogram)
		r.Series = append(r.Series, pt)
	}
	if w.TLS != nil {
		t := w.TLS.TLS
		t.HandshakeTime = dec(w.TLS.HandshakeTime, NewHistogram)
		r.TLS = &t
	}
	for _, c := range w.Classes {
		r.Classes = append(r.Classes, ClassResult{Class: c.Class, OK: c.OK, Dropped: c.Dropped, Latency: dec(c.Latency, NewHistogram)})
	}
	for _, g := range w.Groups {
		r.Groups = append(r.Groups, GroupResult{Group: g.Group, Connections: g.Connections, Requests: g.Requests, Latency: dec(g.Latency, NewHistogram)})
	}
	if r.Errors == nil {
		r.Errors = map[string]int64{}
	}
	if r.Samples == nil {
		r.Samples = map[string]string{}
	}
	return err
}

// ShardSummary is one generator process's share of a sharded run, kept
// beside the merged numbers: a shard that was itself the limit (its
// client_late, ports or descriptors) shows which, and where it ran.
type ShardSummary struct {
	Shard      int   `json:"shard"` // its index, from 0, as in its request
	Target     int   `json:"target"`
	Served     int   `json:"served"`
	Starved    int   `json:"starved"`
	Sent       int64 `json:"sent"`
	OK         int64 `json:"ok"`
	Dropped    int64 `json:"dropped"`
	ClientLate int64 `json:"client_late"`
	// PortsExhausted and ClientNofile are its requests dropped for want of
	// ephemeral ports or file descriptors: the shard's host, not the server.
	PortsExhausted int64 `json:"ports_exhausted,omitempty"`
	ClientNofile   int64 `json:"client_nofile,omitempty"`
	// Node is where a fleet ran it (a swarm node); "" on this host.
	Node string `json:"node,omitempty"`
	// ClockOffsetMS is the coordinator's clock minus the shard's, as the
	// shard read it before the load; nil when it was not read.
	ClockOffsetMS *float64 `json:"clock_offset_ms,omitempty"`
}

// Merge adds shard results of one run into one: counters add, histograms
// add without loss, and series points of the same second add.
func Merge(parts ...*Result) *Result {
	out := &Result{
		Requests: Requests{Errors: map[string]int64{}, Samples: map[string]string{}},
		Latency:  NewHistogram(), ServiceTime: NewHistogram(), ConnectTime: NewHistogram(),
		Complete: len(parts) > 0, OpenedIn: 0,
	}
	allOpened := true
	for i, r := range parts {
		if len(parts) > 1 {
			out.PerShard = append(out.PerShard, ShardSummary{Shard: i, Target: r.Target, Served: r.Served, Starved: r.Starved,
				Sent: r.Sent, OK: r.OK, Dropped: r.Dropped, ClientLate: r.Errors[ClientLate.String()],
				PortsExhausted: r.Errors[PortsExhausted.String()], ClientNofile: r.Errors[ClientNofile.String()]})
		}
		addConnections(&out.Connections, r.Connections)
		addRequests(&out.Requests, r.Requests)
		out.Latency.Merge(r.Latency)
		out.ServiceTime.Merge(r.ServiceTime)
		out.ConnectTime.Merge(r.ConnectTime)
		if r.OpenedIn == 0 {
			allOpened = false
		}
		out.OpenedIn = max(out.OpenedIn, r.OpenedIn)
		out.Measured = max(out.Measured, r.Measured)
		out.MeasureStart = max(out.MeasureStart, r.MeasureStart) // the same, unless a shard heard late
		out.Complete = out.Complete && r.Complete
		out.Shards += max(r.Shards, 1)
		if out.Engine == "" {
			out.Engine = r.Engine // the same for every shard of a run
		}
		// Shards on one host share its CPUs; a fleet's shards have their own,
		// but how busy each was is in its own output, not in the merge.
		out.CPUs = max(out.CPUs, r.CPUs)
		if out.Started.IsZero() || r.Started.Before(out.Started) {
			out.Started = r.Started // the same for every shard of a run
		}
		out.Series = mergeSeries(out.Series, r.Series)
		out.TLS = mergeTLS(out.TLS, r.TLS)
		for _, c := range r.Classes {
			i := slices.IndexFunc(out.Classes, func(o ClassResult) bool { return o.Class == c.Class })
			if i < 0 {
				out.Classes, i = append(out.Classes, ClassResult{Class: c.Class, Latency: NewHistogram()}), len(out.Classes)
			}
			o := &out.Classes[i]
			o.OK, o.Dropped = o.OK+c.OK, o.Dropped+c.Dropped
			o.Latency.Merge(c.Latency)
		}
		for _, g := range r.Groups {
			i := slices.IndexFunc(out.Groups, func(o GroupResult) bool { return o.Group == g.Group })
			if i < 0 {
				out.Groups = append(out.Groups, GroupResult{Group: g.Group, Requests: Requests{Errors: map[string]int64{}}, Latency: NewHistogram()})
				i = len(out.Groups) - 1
			}
			o := &out.Groups[i]
			addConnections(&o.Connections, g.Connections)
			addRequests(&o.Requests, g.Requests)
			o.Latency.Merge(g.Latency)
		}
	}
	if !allOpened {
		out.OpenedIn = 0
	}
	out.setDroppedPct()
	return out
}

// addConnections adds b's counts to a's.
func addConnections(a *Connections, b Connections) {
	a.Target += b.Target
	a.Established += b.Established
	a.Served += b.Served
	a.PartlyServed += b.PartlyServed
	a.Starved += b.Starved
	a.NeverConnected += b.NeverConnected
	a.Reconnects += b.Reconnects
	a.IdleReopens += b.IdleReopens
	a.ClientReopens += b.ClientReopens
	a.ClosedAtEnd += b.ClosedAtEnd
	a.NotStarted += b.NotStarted
}

// addRequests adds b's counts to a's (a's maps exist), keeping a's first
// sample of each class, and derives the dropped share.
func addRequests(a *Requests, b Requests) {
	a.Sent += b.Sent
	a.OK += b.OK
	a.Dropped += b.Dropped
	a.InFlight += b.InFlight
	a.BytesRead += b.BytesRead
	a.LateSends += b.LateSends
	for k, v := range b.Errors {
		a.Errors[k] += v
	}
	for k, v := range b.Samples {
		if a.Samples == nil {
			a.Samples = map[string]string{}
		}
		if _, ok := a.Samples[k]; !ok {
			a.Samples[k] = v
		}
	}
	a.setDroppedPct()
}

// mergeTLS adds b's handshakes to a's; either may be nil (http://).
func mergeTLS(a, b *TLS) *TLS {
	if b == nil {
		return a
	}
	if a == nil {
		a = &TLS{Version: b.Version, Cipher: b.Cipher, Group: b.Group, HandshakeTime: NewHistogram()}
	}
	a.Handshakes += b.Handshakes
	a.Resumed += b.Resumed
	a.Failed += b.Failed
	a.HandshakeTime.Merge(b.HandshakeTime)
	return a
}

// mergeSeries adds b's points into a by their second: shards share one
// start time.
func mergeSeries(a, b []Point) []Point {
	for _, p := range b {
		i, found := slices.BinarySearchFunc(a, p.Second, func(q Point, s int) int { return q.Second - s })
		if !found {
			q := p
			q.Errors = nil
			q.OK, q.Open, q.Late, q.Reconnects, q.CPUMS, q.SendLateUS = 0, 0, 0, 0, 0, 0
			q.latency = newSecondHistogram()
			a = slices.Insert(a, i, q)
		}
		q := &a[i]
		q.T = max(q.T, p.T)
		q.Open += p.Open
		q.OK += p.OK
		q.Late += p.Late
		q.Reconnects += p.Reconnects
		q.CPUMS += p.CPUMS
		q.SendLateUS = max(q.SendLateUS, p.SendLateUS)
		for k, v := range p.Errors {
			if q.Errors == nil {
				q.Errors = map[string]int64{}
			}
			q.Errors[k] += v
		}
		if p.latency != nil {
			q.latency.Merge(p.latency)
		}
		q.P99US = 0
		if q.latency.TotalCount() > 0 {
			q.P99US = q.latency.ValueAtQuantile(99)
		}
	}
	return a
}

// ServeShard is the body of a shard process: it reads a ShardRequest from
// in, runs it, and writes progress lines and the final result line to out.
func ServeShard(ctx context.Context, in io.Reader, out io.Writer) error {
	var req ShardRequest
	dec := json.NewDecoder(in)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return fmt.Errorf("read shard request: %w", err)
	}
	if req.Schema != ShardSchema {
		return fmt.Errorf("shard request has schema %q, this loadcheck speaks %q", req.Schema, ShardSchema)
	}
	var mu sync.Mutex
	enc := json.NewEncoder(out)
	write := func(l ShardLine) error {
		mu.Lock()
		defer mu.Unlock()
		l.Schema, l.Shard = ShardSchema, req.Options.Shard
		return enc.Encode(l)
	}
	if err := write(ShardLine{Request: &req}); err != nil {
		return err
	}
	if req.Clock != "" {
		c, err := ReadClock(ctx, req.Clock)
		if err == nil {
			_ = write(ShardLine{Clock: &c})
			err = c.Skew()
		}
		if err != nil {
			_ = write(ShardLine{Error: err.Error()})
			return err
		}
	}
	if err := RaiseNofile(len(shardIDs(req.Options))); err != nil {
		_ = write(ShardLine{Error: err.Error()})
		return err
	}
	req.Options.Progress = func(p Progress) { _ = write(ShardLine{Progress: &p}) }
	if req.Options.WarmUp == WarmUpAuto {
		req.Options.MeasureFrom = readControl(dec)
	}
	res, err := Run(ctx, req.Target, req.Options)
	if err == nil {
		if err = write(ShardLine{Result: res}); err == nil {
			return nil
		}
	}
	_ = write(ShardLine{Error: err.Error()})
	return err
}

// readControl passes the MeasureFrom of control lines from dec on, until
// the parent closes the shard's stdin.
func readControl(dec *json.Decoder) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() {
		for {
			var c ShardControl
			if dec.Decode(&c) != nil {
				return
			}
			if !c.MeasureFrom.IsZero() {
				select {
				case ch <- c.MeasureFrom:
				default:
				}
			}
		}
	}()
	return ch
}

func shardIDs(o Options) []int {
	var ids []int
	s := max(o.Shards, 1)
	for id := o.Shard; id < o.Connections; id += s {
		ids = append(ids, id)
	}
	return ids
}

// RunShards runs one load over shards processes and merges their results.
// command returns an unstarted command that runs ServeShard; RunShards sets
// its stdin and stdout. Cancelling ctx interrupts the shards, which then
// report what they measured.
func RunShards(ctx context.Context, t Target, opts Options, shards int, command func(ctx context.Context) *exec.Cmd) (*Result, error) {
	opts, err := shardOptions(t, opts, shards)
	if err != nil {
		return nil, err
	}
	if _, err := tlsFor(t, opts); err != nil {
		return nil, err
	}
	progress, measureFrom := opts.Progress, opts.MeasureFrom
	opts.Progress, opts.MeasureFrom = nil, nil
	var mu sync.Mutex // guards every shard's last progress
	var wg sync.WaitGroup
	states := make([]*shardProc, shards)
	for j := range shards {
		st, stdout, err := startShard(ctx, j, t, opts, command)
		if err != nil {
			return nil, err
		}
		states[j] = st
		wg.Add(1)
		go func() {
			defer wg.Done()
			st.read(stdout, &mu)
		}()
	}
	stop := make(chan struct{})
	var tick sync.WaitGroup
	if measureFrom != nil {
		tick.Add(1)
		go func() {
			defer tick.Done()
			forwardMeasureFrom(states, measureFrom, stop)
		}()
	}
	if progress != nil {
		tick.Add(1)
		go func() {
			defer tick.Done()
			sumProgress(states, &mu, progress, stop)
		}()
	}
	wg.Wait()
	close(stop)
	tick.Wait()
	return collectShards(states)
}

// forwardMeasureFrom writes the first time from ch to every shard as a
// control line, then closes their stdin; or just closes it at stop.
func forwardMeasureFrom(states []*shardProc, ch <-chan time.Time, stop <-chan struct{}) {
	select {
	case <-stop:
	case at, ok := <-ch:
		if ok {
			line, _ := json.Marshal(ShardControl{MeasureFrom: at})
			for _, st := range states {
				_, _ = st.stdin.Write(append(line, '\n'))
			}
		}
	}
	for _, st := range states {
		st.stdin.Close()
	}
}

// shardOptions checks opts for a run over shards processes and fixes what
// they must share: the source addresses and the start time.
func shardOptions(t Target, opts Options, shards int) (Options, error) {
	if err := opts.Validate(); err != nil {
		return opts, err
	}
	if shards < 1 || shards > opts.Connections {
		return opts, fmt.Errorf("shards must be within 1..%d, got %d", opts.Connections, shards)
	}
	addr, _, _, err := buildRequests(t, opts)
	if err != nil {
		return opts, err
	}
	// Decide the source addresses once for the whole run: each shard alone
	// might think it needs fewer.
	d, err := newDialer(addr, opts)
	if err != nil {
		return opts, err
	}
	opts.SourceAddrs = max(len(d.sources), 1)
	opts.Shards = shards
	if opts.StartAt.IsZero() {
		opts.StartAt = time.Now().Add(time.Second) // time for the processes to start
	}
	return opts, nil
}

// shardProc is one running shard process and what it reported.
type shardProc struct {
	j      int
	cmd    *exec.Cmd
	stderr bytes.Buffer
	last   Progress // guarded by RunShards' mutex
	stdin  io.WriteCloser
	result *Result
	err    error
}

// startShard starts shard j with its request on stdin and returns the
// pipe its JSON lines come from.
func startShard(ctx context.Context, j int, t Target, opts Options, command func(ctx context.Context) *exec.Cmd) (*shardProc, io.Reader, error) {
	st := &shardProc{j: j}
	o := opts
	o.Shard = j
	in, err := json.Marshal(ShardRequest{Schema: ShardSchema, Target: t, Options: o})
	if err != nil {
		return nil, nil, err
	}
	st.cmd = command(ctx)
	st.cmd.Stderr = &st.stderr
	st.cmd.Cancel = func() error { return st.cmd.Process.Signal(os.Interrupt) }
	st.cmd.WaitDelay = opts.Timeout + 10*time.Second
	stdout, err := st.cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	// stdin carries the request, then control lines until it is closed.
	if st.stdin, err = st.cmd.StdinPipe(); err != nil {
		return nil, nil, err
	}
	if err := st.cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start shard %d: %w", j, err)
	}
	if _, err := st.stdin.Write(append(in, '\n')); err != nil {
		return nil, nil, fmt.Errorf("shard %d: send its request: %w", j, err)
	}
	if o.WarmUp != WarmUpAuto {
		st.stdin.Close()
	}
	return st, stdout, nil
}

// read takes the shard's JSON lines until it exits: progress, then its
// result or its error.
func (st *shardProc) read(stdout io.Reader, mu *sync.Mutex) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	for sc.Scan() {
		var l ShardLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Schema != ShardSchema {
			st.err = fmt.Errorf("shard %d wrote %.80q, not a %s line", st.j, sc.Text(), ShardSchema)
			continue
		}
		switch {
		case l.Progress != nil:
			mu.Lock()
			st.last = *l.Progress
			mu.Unlock()
		case l.Result != nil:
			st.result = l.Result
		case l.Error != "":
			st.err = fmt.Errorf("shard %d: %s", st.j, l.Error)
		}
	}
	if err := st.cmd.Wait(); err != nil && st.result == nil && st.err == nil {
		st.err = fmt.Errorf("shard %d: %w: %s", st.j, err, bytes.TrimSpace(st.stderr.Bytes()))
	}
}

// sumProgress hands progress the shards' summed progress once a second
// until stop closes.
func sumProgress(states []*shardProc, mu *sync.Mutex, progress func(Progress), stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		parts := make([]Progress, len(states))
		mu.Lock()
		for i, st := range states {
			parts[i] = st.last
		}
		mu.Unlock()
		if sum := SumProgress(parts); sum.Phase != "" {
			progress(sum)
		}
	}
}

// SumProgress is the progress of shards of one load taken together:
// connections and answers add; the phase and window are the last
// shard's, the time the furthest. Its Phase is "" until every shard
// reported.
func SumProgress(parts []Progress) Progress {
	var sum Progress
	for _, p := range parts {
		if p.Phase == "" {
			return Progress{}
		}
		sum.Phase, sum.Elapsed, sum.Measured = p.Phase, max(sum.Elapsed, p.Elapsed), p.Measured
		sum.Open += p.Open
		sum.OK += p.OK
		sum.Failed += p.Failed
		sum.Stalled += p.Stalled
	}
	return sum
}

// collectShards merges every shard's result, or joins their errors.
func collectShards(states []*shardProc) (*Result, error) {
	var parts []*Result
	var errs []error
	for _, st := range states {
		if st.result == nil {
			if st.err == nil {
				st.err = errors.New("a shard ended without a result")
			}
			errs = append(errs, st.err)
			continue
		}
		parts = append(parts, st.result)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return Merge(parts...), nil
}
