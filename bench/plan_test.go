package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// runPlanned runs each planned request as a shard process would, in this
// process, and reads its output back.
func runPlanned(t *testing.T, reqs []ShardRequest) []ShardOutput {
	t.Helper()
	outs, err := servePlanned(reqs)
	if err != nil {
		t.Error(err)
	}
	return outs
}

// servePlanned is runPlanned without a test: the shards run at once,
// and their errors are joined.
func servePlanned(reqs []ShardRequest) ([]ShardOutput, error) {
	outs := make([]ShardOutput, len(reqs))
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for j, req := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in, _ := json.Marshal(req)
			var out bytes.Buffer
			if err := ServeShard(context.Background(), bytes.NewReader(in), &out); err != nil {
				errs[j] = fmt.Errorf("shard %d: %w", j, err)
				return
			}
			outs[j], errs[j] = ReadShardOutput(fmt.Sprintf("shard-%d", j), &out)
		}()
	}
	wg.Wait()
	return outs, errors.Join(errs...)
}

// A load planned over three shards, each run on its own and merged
// afterwards, accounts for exactly the schedule of the whole load.
func TestPlanAndMerge(t *testing.T) {
	url := startServer(t, &server{handle: func(net.Conn, int) string { return okResponse }})
	o := quickOpts(30)
	reqs, err := PlanShards(Target{URL: url}, o, 3, time.Now().Add(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 3 || reqs[2].Options.Shard != 2 || reqs[0].Options.StartAt != reqs[2].Options.StartAt {
		t.Fatalf("requests %+v", reqs)
	}
	outs := runPlanned(t, reqs)
	merged, req, err := MergeOutputs([]ShardOutput{outs[2], outs[0], outs[1]}) // any order
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, merged)
	checkSchedule(t, merged, o)
	var ok int64
	for _, out := range outs {
		ok += out.Result.OK
	}
	if merged.Target != 30 || merged.OK != ok || merged.Dropped != 0 || len(merged.PerShard) != 3 || req.Options.Connections != 30 || req.Options.Shard != 0 {
		t.Errorf("merged: target %d, ok %d (shards %d), dropped %d, %d shard summaries; request %+v", merged.Target, merged.OK, ok, merged.Dropped, len(merged.PerShard), req.Options.Load)
	}

	// What cannot be merged says why, naming the output.
	failed := outs[1]
	failed.Result, failed.Err = nil, "too many open files"
	dead := outs[1]
	dead.Result, dead.Last = nil, &Progress{Phase: PhaseMeasure, Elapsed: 3 * time.Second, Open: 10, OK: 40}
	other := outs[1]
	r2 := *other.Request
	r2.Options.Connections = 31
	other.Request = &r2
	for _, c := range []struct {
		outs []ShardOutput
		want string
	}{
		{[]ShardOutput{outs[0], outs[1]}, "planned over 3 shards and 2 outputs were given: shard(s) [2] missing"},
		{[]ShardOutput{outs[0], outs[1], outs[1]}, "shard-1 and shard-1 are both shard 1"},
		{[]ShardOutput{outs[0], failed, outs[2]}, "shard-1: shard 1 failed: too many open files"},
		{[]ShardOutput{outs[0], dead, outs[2]}, "shard-1: shard 1 never reported a result (it died or was cut off; its last progress: measure at 3s, 10 open, 40 ok"},
		{[]ShardOutput{outs[0], other, outs[2]}, "shard-1 is a shard of another load than shard-0"},
		{[]ShardOutput{{Name: "x.jsonl"}}, "x.jsonl: no request line"},
	} {
		if _, _, err := MergeOutputs(c.outs); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("merge: %v, want %q", err, c.want)
		}
	}
	auto := o
	auto.WarmUp = WarmUpAuto
	if _, err := PlanShards(Target{URL: url}, auto, 3, time.Now()); err == nil || !strings.Contains(err.Error(), "give a fixed warm-up") {
		t.Errorf("an auto warm-up planned: %v", err)
	}
	if _, err := ReadShardOutput("bad.jsonl", strings.NewReader("hello\n")); err == nil || !strings.Contains(err.Error(), "bad.jsonl:1: not a loadcheck.shard/v1 line") {
		t.Errorf("a file of other lines: %v", err)
	}
}
