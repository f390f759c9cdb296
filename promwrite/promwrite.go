// Package promwrite pushes samples to a Prometheus remote-write receiver
// (Prometheus with --web.enable-remote-write-receiver, Mimir, Thanos
// receive, VictoriaMetrics): the remote-write 1.0 protocol, a protobuf
// WriteRequest compressed with snappy, encoded here by hand so that the
// project needs no Prometheus module.
package promwrite

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/snappy"
)

// Label is one label of a series; the metric name is the label __name__.
type Label struct{ Name, Value string }

// Sample is one value of one series at a time: Value, or, when Histogram
// is set, a native histogram.
type Sample struct {
	Labels    []Label
	Value     float64
	Histogram *Histogram
	Time      time.Time
}

// Histogram is a native (sparse, exponential) histogram of positive
// values: bucket i of schema s holds the values in (2^((i-1)/2^s),
// 2^(i/2^s)]. Count and Sum are of every value observed.
type Histogram struct {
	Schema  int32
	Count   uint64
	Sum     float64
	Buckets map[int32]uint64
}

// NewHistogram is an empty native histogram of the given schema (3: eight
// buckets per doubling, each 9 % wide).
func NewHistogram(schema int32) *Histogram {
	return &Histogram{Schema: schema, Buckets: map[int32]uint64{}}
}

// Observe adds n values v > 0 (a value of 0 or less is not counted).
func (h *Histogram) Observe(v float64, n uint64) {
	if v <= 0 || n == 0 {
		return
	}
	i := int32(math.Ceil(math.Log2(v) * math.Exp2(float64(h.Schema))))
	h.Buckets[i] += n
	h.Count += n
	h.Sum += v * float64(n)
}

// wireVarint is protobuf's wire type of a varint field.
const wireVarint = 0

// tag is a protobuf field's key: its number and wire type.
func tag(field, wire uint64) uint64 { return field<<3 | wire }

// encode is the histogram as a protobuf prometheus.Histogram at ms.
func (h *Histogram) encode(ms int64) []byte {
	var b []byte
	b = binary.AppendUvarint(b, tag(1, wireVarint)) // count_int
	b = binary.AppendUvarint(b, h.Count)
	b = append(b, 3<<3|1) // sum: double
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(h.Sum))
	b = binary.AppendUvarint(b, tag(4, wireVarint)) // schema: sint32
	b = binary.AppendVarint(b, int64(h.Schema))
	b = append(b, 5<<3|1) // zero_threshold
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(0))
	b = binary.AppendUvarint(b, tag(6, wireVarint)) // zero_count_int
	b = binary.AppendUvarint(b, 0)
	idx := make([]int32, 0, len(h.Buckets))
	for i := range h.Buckets {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(a, c int) bool { return idx[a] < idx[c] })
	// Spans of consecutive buckets: each span's offset is the gap from the
	// end of the one before (from 0 for the first); then every bucket's
	// count as a delta from the one before it.
	var deltas []byte
	var prev int64
	for k := 0; k < len(idx); {
		start := k
		for k+1 < len(idx) && idx[k+1] == idx[k]+1 {
			k++
		}
		offset := idx[start]
		if start > 0 {
			offset = idx[start] - idx[start-1] - 1
		}
		var span []byte
		span = binary.AppendUvarint(span, tag(1, wireVarint)) // offset: sint32
		span = binary.AppendVarint(span, int64(offset))
		span = binary.AppendUvarint(span, tag(2, wireVarint)) // length
		span = binary.AppendUvarint(span, uint64(k-start+1))
		b = appendBytes(b, 11, span) // positive_spans
		for j := start; j <= k; j++ {
			c := int64(h.Buckets[idx[j]])
			deltas = binary.AppendVarint(deltas, c-prev)
			prev = c
		}
		k++
	}
	if len(deltas) > 0 {
		b = appendBytes(b, 12, deltas) // positive_deltas, packed sint64
	}
	b = binary.AppendUvarint(b, tag(15, wireVarint)) // timestamp
	return binary.AppendUvarint(b, uint64(ms))
}

// Encode is the snappy-compressed protobuf WriteRequest holding samples,
// each its own series with its labels sorted by name.
func Encode(samples []Sample) []byte {
	var req []byte
	for _, s := range samples {
		labels := append([]Label(nil), s.Labels...)
		sort.Slice(labels, func(i, j int) bool { return labels[i].Name < labels[j].Name })
		var ts []byte
		for _, l := range labels {
			var lb []byte
			lb = appendBytes(lb, 1, []byte(l.Name))
			lb = appendBytes(lb, 2, []byte(l.Value))
			ts = appendBytes(ts, 1, lb)
		}
		if s.Histogram != nil {
			ts = appendBytes(ts, 4, s.Histogram.encode(s.Time.UnixMilli()))
			req = appendBytes(req, 1, ts)
			continue
		}
		var sb []byte
		sb = append(sb, 1<<3|1) // value: double
		sb = binary.LittleEndian.AppendUint64(sb, math.Float64bits(s.Value))
		sb = append(sb, byte(tag(2, wireVarint))) // timestamp: int64 milliseconds
		sb = binary.AppendUvarint(sb, uint64(s.Time.UnixMilli()))
		ts = appendBytes(ts, 2, sb)
		req = appendBytes(req, 1, ts)
	}
	return snappy.Encode(nil, req)
}

// appendBytes appends field n as a length-delimited protobuf field.
func appendBytes(b []byte, n int, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(n)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// Client pushes to one receiver and counts what failed: a push that fails
// is a loss of live metrics, never of the run.
type Client struct {
	URL  string
	HTTP *http.Client

	mu             sync.Mutex
	pushed, failed int
	lastErr        error
	lastMS         int64 // the newest timestamp queued: each later is newer
	// nativeOff is why the receiver refused native histograms: they are
	// left out of every push after the first refusal.
	nativeOff error

	queue chan []Sample
	done  chan struct{}
}

// New is a client for the receiver at url, each push bounded to 2 s. It
// sends what Send queues in order, one push at a time (a receiver refuses
// a sample older than the newest of its series), until Close.
func New(url string) *Client {
	c := &Client{URL: url, HTTP: &http.Client{Timeout: 2 * time.Second}, queue: make(chan []Sample, 16), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for s := range c.queue {
			_ = c.Push(context.Background(), s)
		}
	}()
	return c
}

// Send queues samples, all at one time, later than any queued before
// (two seconds of a run can end in the same millisecond); when the queue
// is full they are dropped and counted as a failed push.
func (c *Client) Send(at time.Time, samples []Sample) {
	c.mu.Lock()
	ms := max(at.UnixMilli(), c.lastMS+1)
	c.lastMS = ms
	c.mu.Unlock()
	for i := range samples {
		samples[i].Time = time.UnixMilli(ms)
	}
	select {
	case c.queue <- samples:
	default:
		c.mu.Lock()
		c.pushed++
		c.failed++
		c.lastErr = fmt.Errorf("%s: the receiver fell behind; a second's samples were dropped", c.URL)
		c.mu.Unlock()
	}
}

// Close sends what is queued, waiting at most wait, and stops.
func (c *Client) Close(wait time.Duration) {
	close(c.queue)
	select {
	case <-c.done:
	case <-time.After(wait):
	}
}

// Push sends samples. A receiver that refuses native histograms
// (Prometheus without --enable-feature=native-histograms) gets the push
// again without them, and no more of them after (NativeRefused).
func (c *Client) Push(ctx context.Context, samples []Sample) error {
	c.mu.Lock()
	off := c.nativeOff != nil
	c.mu.Unlock()
	if off {
		samples = withoutHistograms(samples)
	}
	err := c.push(ctx, samples)
	if plain := withoutHistograms(samples); refusesNative(err) && len(plain) < len(samples) {
		// Prometheus without native histograms answers 500 "native
		// histograms are disabled": from then on they are left out. A
		// timeout or another failure says nothing of them.
		c.mu.Lock()
		c.nativeOff = err
		c.mu.Unlock()
		err = c.push(ctx, plain)
	}
	c.mu.Lock()
	c.pushed++
	if err != nil {
		c.failed++
		c.lastErr = err
	}
	c.mu.Unlock()
	return err
}

func (c *Client) push(ctx context.Context, samples []Sample) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(Encode(samples)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", "loadcheck")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return &receiverError{url: c.URL, status: resp.Status, body: string(bytes.TrimSpace(body))}
	}
	return nil
}

// receiverError is a receiver's answer other than 2xx.
type receiverError struct{ url, status, body string }

func (e *receiverError) Error() string { return fmt.Sprintf("%s: %s: %s", e.url, e.status, e.body) }

// refusesNative reports whether err is the receiver's answer that it
// takes no native histograms (Prometheus: "native histograms are
// disabled").
func refusesNative(err error) bool {
	var re *receiverError
	return errors.As(err, &re) && strings.Contains(strings.ToLower(re.body), "native histograms are disabled")
}

// withoutHistograms is samples less the native histograms.
func withoutHistograms(samples []Sample) []Sample {
	out := make([]Sample, 0, len(samples))
	for _, s := range samples {
		if s.Histogram == nil {
			out = append(out, s)
		}
	}
	return out
}

// NativeRefused is why the receiver refused native histograms, or nil
// when it took them (or none were sent).
func (c *Client) NativeRefused() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nativeOff
}

// Counts says how many pushes were made and how many failed, with the
// last failure.
func (c *Client) Counts() (pushed, failed int, last error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pushed, c.failed, c.lastErr
}
