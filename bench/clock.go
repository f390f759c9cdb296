package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxClockSkew is how far a shard's wall clock may be from the
// coordinator's: shards start together by their own clocks, and the
// per-second series of all shards add up second by second.
const MaxClockSkew = 50 * time.Millisecond

// ClockReading is a shard's wall clock against the coordinator's, read
// before any load (ReadClock).
type ClockReading struct {
	URL string `json:"url"`
	// OffsetMS is the coordinator's clock minus the shard's, at the
	// reading with the shortest round trip; the true offset lies within
	// half that round trip (RTTMS) of it.
	OffsetMS float64 `json:"offset_ms"`
	RTTMS    float64 `json:"rtt_ms"`
}

// Skew is the error of a clock too far from the coordinator's, or nil:
// the offset less half the round trip (what it could be at least) over
// MaxClockSkew.
func (c ClockReading) Skew() error {
	if math.Abs(c.OffsetMS)-c.RTTMS/2 <= float64(MaxClockSkew.Milliseconds()) {
		return nil
	}
	dir := "behind"
	if c.OffsetMS < 0 {
		dir = "ahead of"
	}
	return fmt.Errorf("its clock is %.0f ms %s the coordinator's (±%.1f ms, read from %s), more than the %s allowed: synchronise the nodes' clocks (NTP, chrony) before a sharded run",
		math.Abs(c.OffsetMS), dir, c.RTTMS/2, c.URL, MaxClockSkew)
}

// ClockHandler serves this host's wall clock as Unix nanoseconds, for
// shards to read (ReadClock).
func ClockHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, time.Now().UnixNano())
	})
}

// ReadClock reads the coordinator's clock at url (a ClockHandler) five
// times and keeps the reading with the shortest round trip.
func ReadClock(ctx context.Context, url string) (ClockReading, error) {
	best := ClockReading{URL: url, RTTMS: math.Inf(1)}
	client := &http.Client{Timeout: 2 * time.Second}
	for range 5 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return best, fmt.Errorf("the coordinator's clock %s: %w", url, err)
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return best, fmt.Errorf("cannot read the coordinator's clock: %w", err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
		resp.Body.Close()
		t1 := time.Now()
		ns, perr := strconv.ParseInt(strings.TrimSpace(string(body)), 10, 64)
		if err != nil || perr != nil || resp.StatusCode != http.StatusOK {
			return best, fmt.Errorf("the coordinator's clock %s answered %s %.40q: not a loadcheck coordinator", url, resp.Status, body)
		}
		rtt := t1.Sub(t0)
		if ms := float64(rtt) / 1e6; ms < best.RTTMS {
			mid := t0.Add(rtt / 2)
			best.RTTMS, best.OffsetMS = ms, float64(time.Unix(0, ns).Sub(mid))/1e6
		}
	}
	return best, nil
}
