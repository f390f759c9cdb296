package backend

import (
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDistributions draws 100,000 latencies from each kind: the p50 and
// p99 asked for come out within 10 %.
func TestDistributions(t *testing.T) {
	for _, tc := range []struct {
		spec     string
		p50, p99 time.Duration
	}{
		{"50ms", 50 * time.Millisecond, 50 * time.Millisecond},
		{"lognormal p50=50ms p99=400ms", 50 * time.Millisecond, 400 * time.Millisecond},
		{"quantiles p50=40ms p90=150ms p99=400ms", 40 * time.Millisecond, 400 * time.Millisecond},
	} {
		l, err := ParseLatency(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(7, 8))
		var d []time.Duration
		for range 100000 {
			d = append(d, l.Sample(r))
		}
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		for _, c := range []struct {
			p    float64
			want time.Duration
		}{{0.5, tc.p50}, {0.99, tc.p99}} {
			if got := At(d, c.p); got < c.want*9/10 || got > c.want*11/10 {
				t.Errorf("%s: p%g %s, want %s within 10 %%", tc.spec, c.p*100, got, c.want)
			}
		}
	}
}

func TestParseLatencyErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"":                             "empty latency",
		"soon":                         "want a duration such as 50ms",
		"lognormal p50=50ms":           "lognormal takes p50=… p99=…",
		"lognormal p50=400ms p99=50ms": "the quantiles must grow: p99=50ms comes after p50=400ms",
		"quantiles p50=40ms p90=30ms":  "the quantiles must grow",
		"quantiles p50=40ms p50=50ms":  "the quantiles must grow",
		"gamma p50=1ms p99=2ms":        `unknown distribution "gamma"`,
		"quantiles p50=fast":           `"p50=fast": want pNN=DURATION`,
		"quantiles p100=1s":            `"p100=1s": want pNN=DURATION`,
	} {
		if _, err := ParseLatency(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", spec, err, want)
		}
	}
}

// TestServer: 20 requests at once to a 100 ms backend all wait about
// 100 ms, get the body, and the peak concurrency is 20.
func TestServer(t *testing.T) {
	l, _ := ParseLatency("100ms")
	s, err := Start(l, 2048)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := http.Get(s.URL() + "/app")
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if len(b) != 2048 {
				t.Errorf("body %d bytes, want 2048", len(b))
			}
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	st := s.Stats()
	if took := time.Since(began); st.Requests != 20 || st.PeakConcurrency != 20 || took < 100*time.Millisecond || took > 2*time.Second || At(st.Waits, 0.5) != 100*time.Millisecond {
		t.Errorf("requests %d, peak %d, took %s, p50 %s: want 20, 20, about 100 ms", st.Requests, st.PeakConcurrency, took, At(st.Waits, 0.5))
	}
}
