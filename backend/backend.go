// Package backend is the slow application loadcheck can put behind httpd
// (a workload's backend): an HTTP server on loopback whose every answer
// waits a latency drawn from a distribution, then sends a body of a given
// size. It counts its requests and its peak concurrency, so a run can
// tell whether requests waited in httpd's workers or in the backend.
package backend

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Quantile is one point of a latency distribution: a share P (0..1) of
// the answers wait at most D.
type Quantile struct {
	P float64
	D time.Duration
}

// Latency is a distribution of the time each answer waits: a fixed time,
// a lognormal one given by its p50 and p99, or a list of quantiles
// (linear between them, from 0 at p0, and the last one's time above it).
type Latency struct {
	spec      string
	fixed     time.Duration
	mu, sigma float64 // lognormal, of seconds
	quantiles []Quantile
}

// z99 is the standard normal's 99th percentile.
const z99 = 2.3263478740408408

// ParseLatency reads "50ms", "lognormal p50=50ms p99=400ms" or
// "quantiles p50=40ms p90=150ms p99=400ms".
func ParseLatency(s string) (Latency, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return Latency{}, errors.New(`empty latency: want "50ms", "lognormal p50=50ms p99=400ms" or "quantiles p50=40ms p90=150ms p99=400ms"`)
	}
	l := Latency{spec: strings.Join(f, " ")}
	if len(f) == 1 {
		d, err := time.ParseDuration(f[0])
		if err != nil || d < 0 {
			return Latency{}, fmt.Errorf("latency %q: want a duration such as 50ms, or a distribution such as \"lognormal p50=50ms p99=400ms\"", s)
		}
		l.fixed = d
		return l, nil
	}
	var qs []Quantile
	for _, kv := range f[1:] {
		k, v, ok := strings.Cut(kv, "=")
		p, err1 := strconv.ParseFloat(strings.TrimPrefix(k, "p"), 64)
		d, err2 := time.ParseDuration(v)
		if !ok || !strings.HasPrefix(k, "p") || err1 != nil || err2 != nil || p <= 0 || p >= 100 || d <= 0 {
			return Latency{}, fmt.Errorf("latency %q: %q: want pNN=DURATION such as p99=400ms", s, kv)
		}
		qs = append(qs, Quantile{P: p / 100, D: d})
	}
	sort.SliceStable(qs, func(i, j int) bool { return qs[i].P < qs[j].P })
	for i := 1; i < len(qs); i++ {
		if qs[i].P == qs[i-1].P || qs[i].D < qs[i-1].D {
			return Latency{}, fmt.Errorf("latency %q: the quantiles must grow: p%g=%s comes after p%g=%s", s, qs[i].P*100, qs[i].D, qs[i-1].P*100, qs[i-1].D)
		}
	}
	switch f[0] {
	case "lognormal":
		if len(qs) != 2 || qs[0].P != 0.5 || qs[1].P != 0.99 || qs[1].D == qs[0].D {
			return Latency{}, fmt.Errorf("latency %q: lognormal takes p50=… p99=…, the p99 above the p50", s)
		}
		l.mu = math.Log(qs[0].D.Seconds())
		l.sigma = math.Log(qs[1].D.Seconds()/qs[0].D.Seconds()) / z99
	case "quantiles":
		l.quantiles = qs
	default:
		return Latency{}, fmt.Errorf("latency %q: unknown distribution %q: use lognormal or quantiles", s, f[0])
	}
	return l, nil
}

// String is the distribution as it was written.
func (l Latency) String() string { return l.spec }

// Sample draws one latency.
func (l Latency) Sample(r *rand.Rand) time.Duration {
	switch {
	case l.sigma > 0:
		return time.Duration(math.Exp(l.mu+l.sigma*r.NormFloat64()) * float64(time.Second))
	case len(l.quantiles) > 0:
		u := r.Float64()
		prev := Quantile{}
		for _, q := range l.quantiles {
			if u <= q.P {
				return prev.D + time.Duration(float64(q.D-prev.D)*(u-prev.P)/(q.P-prev.P))
			}
			prev = q
		}
		return prev.D
	}
	return l.fixed
}

// Server is a running backend.
type Server struct {
	latency Latency
	body    []byte
	ln      net.Listener
	srv     *http.Server
	rnd     *rand.Rand
	rndMu   sync.Mutex

	requests, active, peak atomic.Int64
	mu                     sync.Mutex
	waits                  []time.Duration
}

// Stats is what a backend saw.
type Stats struct {
	Requests        int64
	PeakConcurrency int64
	// Waits are the latencies drawn, sorted.
	Waits []time.Duration
}

// Start serves on a free port of 127.0.0.1: every request waits a latency
// drawn from l, then gets a body of size bytes.
func Start(l Latency, size int) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{latency: l, body: []byte(strings.Repeat("b", size)), ln: ln, rnd: rand.New(rand.NewPCG(1, 2))}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = s.srv.Serve(ln) }() // ErrServerClosed at Close
	return s, nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	n := s.active.Add(1)
	defer s.active.Add(-1)
	for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
	}
	s.rndMu.Lock()
	d := s.latency.Sample(s.rnd)
	s.rndMu.Unlock()
	s.mu.Lock()
	if len(s.waits) < 1<<20 {
		s.waits = append(s.waits, d)
	}
	s.mu.Unlock()
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-r.Context().Done():
		t.Stop()
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(s.body)))
	_, _ = w.Write(s.body)
}

// URL is the backend's base URL, "http://127.0.0.1:PORT".
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Stats says what the backend saw so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	w := append([]time.Duration(nil), s.waits...)
	s.mu.Unlock()
	sort.Slice(w, func(i, j int) bool { return w[i] < w[j] })
	return Stats{Requests: s.requests.Load(), PeakConcurrency: s.peak.Load(), Waits: w}
}

// At is the p-quantile (0..1) of sorted waits; 0 when none.
func At(waits []time.Duration, p float64) time.Duration {
	if len(waits) == 0 {
		return 0
	}
	return waits[min(len(waits)-1, int(p*float64(len(waits))))]
}

// Close stops the backend at once.
func (s *Server) Close() error { return s.srv.Close() }
