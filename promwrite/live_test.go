package promwrite

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// key is a sample's labels as one string: its series' identity.
func key(s Sample) string {
	var b strings.Builder
	for _, l := range s.Labels {
		b.WriteString(l.Name + "=" + l.Value + ",")
	}
	return b.String()
}

// TestLiveSamples: which series one second of a load gives, and their
// values, case by case.
func TestLiveSamples(t *testing.T) {
	full := Live{Phase: "measure", Open: 10, OK: 100, Failed: 2, Errors: map[string]int64{"read_timeout": 2}, P99Seconds: 0.0015,
		Latency: []Count{{0.0015, 90}, {0.2, 10}}, Server: &ServerLive{BusyWorkers: 3, Processes: 2, MemoryBytes: 10 << 20}}
	noServer := full
	noServer.Server, noServer.Latency = nil, nil
	prefork := full
	prefork.Server = &ServerLive{BusyWorkers: 3, Processes: -1, MemoryBytes: -1}
	for _, tc := range []struct {
		name string
		l    Live
		want map[string]float64 // series key -> value; histograms as their count
	}{
		{"everything", full, map[string]float64{
			"__name__=loadcheck_connections_open,run_id=r,config=c,phase=measure,":                    10,
			"__name__=loadcheck_requests_ok_total,run_id=r,config=c,":                                 100,
			"__name__=loadcheck_requests_failed_total,run_id=r,config=c,":                             2,
			"__name__=loadcheck_requests_failed_by_class_total,run_id=r,config=c,class=read_timeout,": 2,
			"__name__=loadcheck_latency_p99_seconds,run_id=r,config=c,phase=measure,":                 0.0015,
			"__name__=loadcheck_latency_seconds_bucket,run_id=r,config=c,le=0.001,":                   0,
			"__name__=loadcheck_latency_seconds_bucket,run_id=r,config=c,le=0.0025,":                  90,
			"__name__=loadcheck_latency_seconds_bucket,run_id=r,config=c,le=0.25,":                    100,
			"__name__=loadcheck_latency_seconds_bucket,run_id=r,config=c,le=+Inf,":                    100,
			"__name__=loadcheck_latency_seconds_count,run_id=r,config=c,":                             100,
			"__name__=loadcheck_latency_seconds,run_id=r,config=c,":                                   100,
			"__name__=loadcheck_httpd_busy_workers,run_id=r,config=c,phase=measure,":                  3,
			"__name__=loadcheck_httpd_processes,run_id=r,config=c,phase=measure,":                     2,
			"__name__=loadcheck_httpd_memory_bytes,run_id=r,config=c,phase=measure,":                  10 << 20,
		}},
		{"no latency yet, no server reading", noServer, map[string]float64{
			"__name__=loadcheck_connections_open,run_id=r,config=c,phase=measure,":   10,
			"__name__=loadcheck_httpd_busy_workers,run_id=r,config=c,phase=measure,": -1, // -1: must be absent
			"__name__=loadcheck_latency_seconds,run_id=r,config=c,":                  -1,
		}},
		{"prefork: no process count, no memory", prefork, map[string]float64{
			"__name__=loadcheck_httpd_busy_workers,run_id=r,config=c,phase=measure,": 3,
			"__name__=loadcheck_httpd_processes,run_id=r,config=c,phase=measure,":    -1,
			"__name__=loadcheck_httpd_memory_bytes,run_id=r,config=c,phase=measure,": -1,
		}},
	} {
		got := map[string]float64{}
		for _, s := range tc.l.Samples("r", "c", time.Unix(1, 0)) {
			v := s.Value
			if s.Histogram != nil {
				v = float64(s.Histogram.Count)
			}
			got[key(s)] = v
		}
		for k, want := range tc.want {
			v, ok := got[k]
			switch {
			case want < 0 && ok:
				t.Errorf("%s: %s present (%g), want it absent", tc.name, k, v)
			case want >= 0 && (!ok || v != want):
				t.Errorf("%s: %s = %g (present %v), want %g", tc.name, k, v, ok, want)
			}
		}
	}
}

// TestLivePhase: the same load in its warm-up and in its window. Counters
// and the histogram are the same series in both (rate() spans the phase
// change); the gauges say the phase.
func TestLivePhase(t *testing.T) {
	l := Live{Open: 10, OK: 100, Failed: 2, Errors: map[string]int64{"read_timeout": 2}, Latency: []Count{{0.0015, 1}}, Server: &ServerLive{3, 2, 1}}
	at := func(phase string) map[string]Sample {
		l.Phase = phase
		out := map[string]Sample{}
		for _, s := range l.Samples("r1", "event", time.Unix(1, 0)) {
			out[key(s)] = s
		}
		return out
	}
	warm, measure := at("warm-up"), at("measure")
	counters := []string{"loadcheck_requests_ok_total", "loadcheck_requests_failed_total", "loadcheck_requests_failed_by_class_total",
		"loadcheck_latency_seconds_bucket", "loadcheck_latency_seconds_count", "loadcheck_latency_seconds_sum", "loadcheck_latency_seconds"}
	gauges := []string{"loadcheck_connections_open", "loadcheck_latency_p99_seconds", "loadcheck_httpd_busy_workers", "loadcheck_httpd_processes", "loadcheck_httpd_memory_bytes"}
	seen := map[string]bool{}
	for k, s := range warm {
		name := s.Labels[0].Value
		seen[name] = true
		_, same := measure[k]
		switch {
		case slices.Contains(counters, name) && (!same || strings.Contains(k, "phase=")):
			t.Errorf("counter %s: series %s is not the same in both phases", name, k)
		case slices.Contains(gauges, name) && (same || !strings.Contains(k, "phase=warm-up")):
			t.Errorf("gauge %s: series %s does not say its phase", name, k)
		}
	}
	for _, name := range append(counters, gauges...) {
		if !seen[name] {
			t.Errorf("no %s sample", name)
		}
	}
}
