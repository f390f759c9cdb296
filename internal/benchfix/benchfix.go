// Package benchfix builds generator results for the tests of the packages
// that turn them into reports.
package benchfix

import (
	"time"

	"github.com/loadcheck/loadcheck/bench"
)

// BenchResult is a generator result of served and starved connections,
// ok and dropped (queue_timeout) requests, every OK response taking
// latencyUS, over a 10 s window.
func BenchResult(served, starved int, ok, dropped int64, latencyUS int64) *bench.Result {
	h := bench.NewHistogram()
	for i := int64(0); i < ok; i++ {
		_ = h.RecordValue(latencyUS)
	}
	r := &bench.Result{
		Connections: bench.Connections{Target: served + starved, Established: served + starved, Served: served, Starved: starved},
		Requests:    bench.Requests{Sent: ok + dropped, OK: ok, Dropped: dropped, Errors: map[string]int64{"queue_timeout": dropped}},
		Latency:     h, Measured: 10 * time.Second, Complete: true,
	}
	if r.Sent > 0 {
		r.DroppedPct = 100 * float64(dropped) / float64(r.Sent)
	}
	return r
}
