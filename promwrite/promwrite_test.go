package promwrite

import (
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
)

// fields walks one protobuf message: field number and raw value (a
// varint's value as bytes, or a length-delimited field's bytes).
func fields(t *testing.T, b []byte) map[int][][]byte {
	t.Helper()
	out := map[int][][]byte{}
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		b = b[n:]
		switch key & 7 {
		case 0:
			_, n := binary.Uvarint(b)
			out[int(key>>3)] = append(out[int(key>>3)], b[:n])
			b = b[n:]
		case 1:
			out[int(key>>3)] = append(out[int(key>>3)], b[:8])
			b = b[8:]
		case 2:
			l, n := binary.Uvarint(b)
			out[int(key>>3)] = append(out[int(key>>3)], b[n:n+int(l)])
			b = b[n+int(l):]
		default:
			t.Fatalf("wire type %d", key&7)
		}
	}
	return out
}

func TestHistogramBuckets(t *testing.T) {
	h := NewHistogram(3)
	h.Observe(1, 2)     // (2^(-1/8), 1]: bucket 0
	h.Observe(1.05, 1)  // (1, 2^(1/8)=1.0905]: bucket 1
	h.Observe(2, 4)     // bucket 8
	h.Observe(0.001, 1) // 2^-10 = 0.000977 < 0.001 <= 2^(-79/8): bucket -79
	h.Observe(0, 5)     // not counted
	want := map[int32]uint64{0: 2, 1: 1, 8: 4, -79: 1}
	if h.Count != 8 || len(h.Buckets) != len(want) {
		t.Fatalf("count %d, buckets %v; want 8 and %v", h.Count, h.Buckets, want)
	}
	for i, n := range want {
		if h.Buckets[i] != n {
			t.Errorf("bucket %d holds %d, want %d (all: %v)", i, h.Buckets[i], n, h.Buckets)
		}
	}
	// Spans: -79 (1 bucket), then 0..1 (2 buckets, 78 empty between),
	// then 8 (6 empty between); deltas 1, then 2-1, 1-2, then 4-1.
	f := fields(t, h.encode(1000))
	var spans [][2]int64
	for _, s := range f[11] {
		sf := fields(t, s)
		off, _ := binary.Varint(sf[1][0])
		n, _ := binary.Uvarint(sf[2][0])
		spans = append(spans, [2]int64{off, int64(n)})
	}
	if len(spans) != 3 || spans[0] != [2]int64{-79, 1} || spans[1] != [2]int64{78, 2} || spans[2] != [2]int64{6, 1} {
		t.Errorf("spans %v", spans)
	}
	var deltas []int64
	for d := f[12][0]; len(d) > 0; {
		v, n := binary.Varint(d)
		deltas, d = append(deltas, v), d[n:]
	}
	if len(deltas) != 4 || deltas[0] != 1 || deltas[1] != 1 || deltas[2] != -1 || deltas[3] != 3 {
		t.Errorf("deltas %v, want [1 1 -1 3]", deltas)
	}
}

// A receiver that refuses native histograms (as Prometheus without the
// feature does, with a 500) gets the push again without them, and none
// after; the push is not lost.
func TestNativeRefused(t *testing.T) {
	var withHist, plain int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := snappy.Decode(nil, body)
		if err != nil {
			t.Errorf("not snappy: %v", err)
		}
		for _, ts := range fields(t, req)[1] {
			if len(fields(t, ts)[4]) > 0 {
				withHist++
				http.Error(w, "native histograms are disabled", http.StatusInternalServerError)
				return
			}
		}
		plain++
	}))
	defer srv.Close()
	c := New(srv.URL)
	h := NewHistogram(3)
	h.Observe(0.002, 3)
	for range 3 {
		samples := []Sample{{Labels: []Label{{"__name__", "a"}}, Value: 1}, {Labels: []Label{{"__name__", "h"}}, Histogram: h}}
		if err := c.Push(context.Background(), samples); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	pushed, failed, _ := c.Counts()
	if withHist != 1 || plain != 3 || pushed != 3 || failed != 0 || c.NativeRefused() == nil || !strings.Contains(c.NativeRefused().Error(), "native histograms are disabled") {
		t.Errorf("%d pushes with histograms, %d without; pushed %d, failed %d; refused: %v", withHist, plain, pushed, failed, c.NativeRefused())
	}
}

// TestNativeTransientFailure: a push with histograms that times out once
// (a slow receiver), then goes through, must not turn native histograms
// off: only the receiver's answer that they are disabled does.
func TestNativeTransientFailure(t *testing.T) {
	var mu sync.Mutex // the timed-out handler runs on beside the next
	var calls, withHist int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _ := snappy.Decode(nil, body)
		mu.Lock()
		calls++
		first := calls == 1
		for _, ts := range fields(t, req)[1] {
			if len(fields(t, ts)[4]) > 0 {
				withHist++
			}
		}
		mu.Unlock()
		if first {
			time.Sleep(300 * time.Millisecond) // past the client's timeout
		}
	}))
	defer srv.Close()
	c := New(srv.URL)
	c.HTTP.Timeout = 100 * time.Millisecond
	h := NewHistogram(3)
	h.Observe(0.002, 3)
	for range 3 {
		samples := []Sample{{Labels: []Label{{"__name__", "a"}}, Value: 1}, {Labels: []Label{{"__name__", "h"}}, Histogram: h}}
		_ = c.Push(context.Background(), samples)
	}
	pushed, failed, _ := c.Counts()
	mu.Lock()
	defer mu.Unlock()
	if c.NativeRefused() != nil || withHist != 3 || pushed != 3 || failed != 1 {
		t.Errorf("refused: %v; %d of %d calls with histograms, pushed %d, failed %d: want histograms kept, 3 pushes with them and the timed-out one failed",
			c.NativeRefused(), withHist, calls, pushed, failed)
	}
}
