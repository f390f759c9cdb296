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
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/klauspost/compress/snappy"
)

// Label is one label of a series; the metric name is the label __name__.
type Label struct{ Name, Value string }

// Sample is one value of one series at a time.
type Sample struct {
	Labels []Label
	Value  float64
	Time   time.Time
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
		var sb []byte
		sb = append(sb, 1<<3|1) // value: double
		sb = binary.LittleEndian.AppendUint64(sb, math.Float64bits(s.Value))
		sb = append(sb, 2<<3|0) // timestamp: int64 milliseconds
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

// Push sends samples.
func (c *Client) Push(ctx context.Context, samples []Sample) error {
	err := c.push(ctx, samples)
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
		return fmt.Errorf("%s: %s: %s", c.URL, resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// Counts says how many pushes were made and how many failed, with the
// last failure.
func (c *Client) Counts() (pushed, failed int, last error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pushed, c.failed, c.lastErr
}
