package promwrite

import (
	"slices"
	"strconv"
	"time"
)

// Live is one second of a load as its live metrics show it: the
// generator's figures so far and, when read, the server's.
type Live struct {
	Phase            string
	Open, OK, Failed int64            // connections open now; answers and failures so far
	Errors           map[string]int64 // failures so far by class
	P99Seconds       float64          // the last second's p99 latency
	// Latency is every answer's latency so far, as values (seconds) and
	// how many answers had each.
	Latency []Count
	Server  *ServerLive // nil: no reading
}

// Count is how many answers had one latency.
type Count struct {
	Seconds float64
	N       uint64
}

// ServerLive is the server's latest reading; a negative figure is not
// known (mod_status of that MPM does not report it).
type ServerLive struct {
	BusyWorkers, Processes int
	MemoryBytes            float64
}

// LatencyBuckets are the classic latency buckets pushed live, in seconds.
var LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Samples are l's series at one time, labelled run_id and config. Gauges
// also carry the phase; counters and the latency histogram, cumulative
// over the whole load, do not, so that each stays one series whose
// rate() spans a phase change.
func (l Live) Samples(runID, config string, at time.Time) []Sample {
	base := []Label{{Name: "run_id", Value: runID}, {Name: "config", Value: config}}
	phased := append(slices.Clone(base), Label{Name: "phase", Value: l.Phase})
	var out []Sample
	add := func(labels []Label, name string, v float64, extra ...Label) {
		ls := append(append([]Label{{Name: "__name__", Value: name}}, labels...), extra...)
		out = append(out, Sample{Labels: ls, Value: v, Time: at})
	}
	gauge := func(name string, v float64) { add(phased, name, v) }
	counter := func(name string, v float64, extra ...Label) { add(base, name, v, extra...) }
	gauge("loadcheck_connections_open", float64(l.Open))
	counter("loadcheck_requests_ok_total", float64(l.OK))
	counter("loadcheck_requests_failed_total", float64(l.Failed))
	for class, n := range l.Errors {
		counter("loadcheck_requests_failed_by_class_total", float64(n), Label{Name: "class", Value: class})
	}
	gauge("loadcheck_latency_p99_seconds", l.P99Seconds)
	if l.Latency != nil {
		// Classic buckets, and a native histogram for receivers that take
		// one.
		native, classic := NewHistogram(3), make([]uint64, len(LatencyBuckets))
		for _, c := range l.Latency {
			native.Observe(c.Seconds, c.N)
			for i, le := range LatencyBuckets {
				if c.Seconds <= le {
					classic[i] += c.N
				}
			}
		}
		for i, le := range LatencyBuckets {
			counter("loadcheck_latency_seconds_bucket", float64(classic[i]), Label{Name: "le", Value: strconv.FormatFloat(le, 'g', -1, 64)})
		}
		counter("loadcheck_latency_seconds_bucket", float64(native.Count), Label{Name: "le", Value: "+Inf"})
		counter("loadcheck_latency_seconds_count", float64(native.Count))
		counter("loadcheck_latency_seconds_sum", native.Sum)
		out = append(out, Sample{Labels: append([]Label{{Name: "__name__", Value: "loadcheck_latency_seconds"}}, base...), Histogram: native, Time: at})
	}
	if sv := l.Server; sv != nil {
		if sv.BusyWorkers >= 0 {
			gauge("loadcheck_httpd_busy_workers", float64(sv.BusyWorkers))
		}
		if sv.Processes >= 0 {
			gauge("loadcheck_httpd_processes", float64(sv.Processes))
		}
		if sv.MemoryBytes >= 0 {
			gauge("loadcheck_httpd_memory_bytes", sv.MemoryBytes)
		}
	}
	return out
}
