package loadcheck_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

// A load planned over two shards, each served on its own and merged by
// MergeShards: judged by the thresholds the plan carried when none are
// given, by the caller's when they are, and recorded the way a --target
// run is.
func TestMergeShards(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	defer srv.Close()
	l := bench.Load{Connections: 4, Ramp: 100 * time.Millisecond, WarmUp: 200 * time.Millisecond, Duration: time.Second, RatePerConn: 5, Timeout: time.Second}
	reqs, err := bench.PlanShards(bench.Target{URL: srv.URL + "/"}, bench.Options{Load: l}, 2, time.Now().Add(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	// The plan's rule fails any latency at all: 1 ns p99.
	strict := scenarios.DefaultThresholds()
	strict.MaxP99 = time.Nanosecond
	if err := loadcheck.PlanThresholds(reqs, strict); err != nil {
		t.Fatal(err)
	}
	// Each shard as `loadcheck shard` runs it, all at once, as planned.
	outs := make([]bench.ShardOutput, len(reqs))
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for j, req := range reqs {
		wg.Go(func() {
			in, _ := json.Marshal(req)
			var out bytes.Buffer
			if errs[j] = bench.ServeShard(context.Background(), bytes.NewReader(in), &out); errs[j] == nil {
				outs[j], errs[j] = bench.ReadShardOutput(fmt.Sprintf("shard-%d", j), &out)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	f, err := loadcheck.MergeShards(outs, nil, "test", "merged-1")
	if err != nil {
		t.Fatal(err)
	}
	r := f.Runs[0]
	if f.RunID != "merged-1" || f.Schema != results.Schema || f.Target != srv.URL+"/" || r.Config != "target" || r.Connections.Served != 4 || r.Shards != 2 {
		t.Fatalf("merged file %+v, run %+v", f.Header, r)
	}
	if r.Verdict != results.Fail || f.Scenario.Thresholds.MaxP99 != time.Nanosecond {
		t.Errorf("verdict %s by %+v (generator %+v): want fail by the plan's 1 ns p99", r.Verdict, f.Scenario.Thresholds, r.Generator)
	}
	th := scenarios.DefaultThresholds()
	if f, err = loadcheck.MergeShards(outs, &th, "test", ""); err != nil || f.Runs[0].Verdict != results.Pass || f.RunID == "" {
		t.Errorf("with the default thresholds given: %v, verdict %s, run ID %q: want pass and a new ID", err, f.Runs[0].Verdict, f.RunID)
	}
}
