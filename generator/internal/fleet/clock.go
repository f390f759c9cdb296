// Package fleet is what the generator fleets (swarm, kubernetes) share:
// the plan of their shards with the coordinator's clock (Plan), their
// live progress, retries of transient engine and API errors, and merging
// their logs exactly (MergeLogs).
package fleet

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/loadcheck/loadcheck/bench"
)

// Plan splits the load over n shards that start lead from now,
// stamped with the coordinator's version; with clockAddr, it serves this
// host's clock there for the shards to check theirs against (stop ends
// that; it is never nil).
func Plan(url string, l bench.Load, sourceAddrs, n int, lead time.Duration, version, clockAddr string) (reqs []bench.ShardRequest, stop func(), err error) {
	clock, stop := "", func() {}
	if clockAddr != "" {
		if clock, stop, err = serveClock(clockAddr); err != nil {
			return nil, nil, err
		}
	}
	reqs, err = bench.PlanShards(bench.Target{URL: url}, bench.Options{Load: l, SourceAddrs: sourceAddrs}, n, time.Now().Add(lead))
	if err != nil {
		stop()
		return nil, nil, err
	}
	for i := range reqs {
		reqs[i].Version, reqs[i].Clock = version, clock
	}
	return reqs, stop, nil
}

// serveClock serves this host's wall clock (bench.ClockHandler) on addr,
// HOST:PORT with a host the shards can reach (port 0: any free one), and
// returns the URL their requests carry: each shard reads it before any
// load and stops when its own clock is off by more than
// bench.MaxClockSkew.
func serveClock(addr string) (url string, stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("the clock address %q: want HOST:PORT that the shards can reach", addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return "", nil, fmt.Errorf("the clock address %q: name the host the shards reach this one by, not every address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("serve the coordinator's clock to the shards on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: bench.ClockHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/clock", func() { _ = srv.Close() }, nil
}
