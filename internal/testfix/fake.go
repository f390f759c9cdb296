// Package testfix is a fake httpd for the capacity search's tests: it
// holds exactly a given number of connections, with costs that grow in a
// known way.
package testfix

import (
	"context"

	"github.com/loadcheck/loadcheck/results"
)

// FakeServer answers probes like an httpd that holds exactly limit
// connections and starves the rest; memory grows 100 KB per connection
// held on top of 10 MB, and each request costs 50 µs of CPU.
func FakeServer(limit int, clientLimitAt int) func(ctx context.Context, n int) (results.Run, error) {
	return func(ctx context.Context, n int) (results.Run, error) {
		served := min(n, limit)
		sent := int64(n * 5)
		ok := int64(served * 5)
		r := results.Run{Config: "x", MPM: "event", Complete: true, MeasuredS: 5, TimeToCapacityS: -1,
			Connections: results.Connections{Target: n, Established: n, Served: served, Starved: n - served},
			Requests:    results.Requests{Sent: sent, OK: ok, Dropped: sent - ok, Errors: map[string]int64{}},
			LatencyMS:   results.Latency{P50: 1, P99: 3},
			Server: &results.Server{PeakBusyWorkers: served / 3, MemoryEndMB: 10 + 0.1*float64(served), CPUSeconds: 0.5 + float64(ok)*50e-6,
				AccessesDuringRun: ok, PeakAcceptQueue: -1},
		}
		if sent > 0 {
			r.Requests.DroppedPct = 100 * float64(sent-ok) / float64(sent)
		}
		if n > served {
			r.Requests.Errors["connect_timeout"] = sent - ok
		} else {
			r.TimeToCapacityS = 2
		}
		if clientLimitAt > 0 && n >= clientLimitAt {
			r.Requests.Errors["client_late"] = 40
		}
		return r, nil
	}
}

// Always affords every probe.
func Always(int) bool { return true }
