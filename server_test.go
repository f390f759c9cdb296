package loadcheck

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/observe"
	"github.com/loadcheck/loadcheck/promwrite"
)

// seriesKey is a sample's labels as one string, its series' identity.
func seriesKey(s promwrite.Sample) string {
	var b strings.Builder
	for _, l := range s.Labels {
		b.WriteString(l.Name + "=" + l.Value + ",")
	}
	return b.String()
}

// TestProgressSamplesPhase: the same load seen in its warm-up and in its
// measured window. Counters and the histogram are the same series in
// both (rate() spans the phase change); the gauges say the phase.
func TestProgressSamplesPhase(t *testing.T) {
	h := bench.NewHistogram()
	_ = h.RecordValue(1500)
	at := func(phase bench.Phase) map[string]promwrite.Sample {
		p := bench.Progress{Phase: phase, Open: 10, OK: 100, Failed: 2, Errors: map[string]int64{"read_timeout": 2}, P99US: 1500, Latency: h}
		out := map[string]promwrite.Sample{}
		for _, s := range progressSamples(p, "r1", "event", observe.Point{BusyWorkers: 3, Processes: 2, MemoryMB: 10}, true, time.Unix(1, 0)) {
			out[seriesKey(s)] = s
		}
		return out
	}
	warm, measure := at(bench.PhaseWarmUp), at(bench.PhaseMeasure)
	counters := []string{"loadcheck_requests_ok_total", "loadcheck_requests_failed_total", "loadcheck_requests_failed_by_class_total",
		"loadcheck_latency_seconds_bucket", "loadcheck_latency_seconds_count", "loadcheck_latency_seconds_sum", "loadcheck_latency_seconds"}
	gauges := []string{"loadcheck_connections_open", "loadcheck_latency_p99_seconds", "loadcheck_httpd_busy_workers", "loadcheck_httpd_processes", "loadcheck_httpd_memory_bytes"}
	seen := map[string]bool{}
	for key, s := range warm {
		name := s.Labels[0].Value
		seen[name] = true
		_, same := measure[key]
		hasPhase := strings.Contains(key, "phase=")
		switch {
		case slices.Contains(counters, name) && (!same || hasPhase):
			t.Errorf("counter %s: series %s is not the same in both phases", name, key)
		case slices.Contains(gauges, name) && (same || !strings.Contains(key, "phase=warm-up")):
			t.Errorf("gauge %s: series %s does not say its phase", name, key)
		}
	}
	for _, name := range append(counters, gauges...) {
		if !seen[name] {
			t.Errorf("no %s sample", name)
		}
	}
}
