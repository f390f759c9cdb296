package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// skewedClock serves a clock off by skew from this host's.
func skewedClock(t *testing.T, skew time.Duration) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, time.Now().Add(skew).UnixNano())
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/clock"
}

func TestReadClock(t *testing.T) {
	srv := httptest.NewServer(ClockHandler())
	defer srv.Close()
	c, err := ReadClock(context.Background(), srv.URL)
	if err != nil || math.Abs(c.OffsetMS) > c.RTTMS/2+5 || c.RTTMS <= 0 || c.Skew() != nil {
		t.Errorf("the same clock: %+v, %v, skew %v", c, err, c.Skew())
	}
	for _, tc := range []struct {
		skew time.Duration
		want string
	}{
		{200 * time.Millisecond, "its clock is 200 ms behind the coordinator's"},
		{-80 * time.Millisecond, "its clock is 80 ms ahead of the coordinator's"},
	} {
		c, err := ReadClock(context.Background(), skewedClock(t, tc.skew))
		if err != nil || c.Skew() == nil || !strings.Contains(c.Skew().Error(), tc.want) {
			t.Errorf("skew %s: %+v, %v, %v", tc.skew, c, err, c.Skew())
		}
	}
	if c, err := ReadClock(context.Background(), skewedClock(t, 30*time.Millisecond)); err != nil || c.Skew() != nil {
		t.Errorf("30 ms is within the allowed skew: %+v %v %v", c, err, c.Skew())
	}
	notClock := httptest.NewServer(http.NotFoundHandler())
	defer notClock.Close()
	if _, err := ReadClock(context.Background(), notClock.URL); err == nil || !strings.Contains(err.Error(), "not a loadcheck coordinator") {
		t.Errorf("a server that is no clock: %v", err)
	}
}

// A shard whose clock is too far off stops before any load: its output
// is its request, its clock reading and the error, nothing else.
func TestServeShardClockSkew(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer target.Close()
	req := ShardRequest{Schema: ShardSchema, Target: Target{URL: target.URL + "/"}, Clock: skewedClock(t, 300*time.Millisecond),
		Options: Options{Load: Load{Connections: 4, Ramp: 100 * time.Millisecond, WarmUp: 100 * time.Millisecond, Duration: time.Second,
			RatePerConn: 5, Timeout: time.Second, Paths: []string{"/"}}, Shards: 2, Shard: 1}}
	in, _ := json.Marshal(req)
	var out bytes.Buffer
	err := ServeShard(context.Background(), bytes.NewReader(in), &out)
	if err == nil || !strings.Contains(err.Error(), "300 ms behind") {
		t.Fatalf("error %v", err)
	}
	o, rerr := ReadShardOutput("shard-1", &out)
	if rerr != nil || o.Request == nil || o.Clock == nil || o.Err == "" || o.Last != nil || o.Result != nil || hits.Load() != 0 {
		t.Errorf("output %+v (%v), %d requests reached the target", o, rerr, hits.Load())
	}
}
