package loadcheck

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

// MergeShards turns the outputs of one load planned over shards
// (bench.PlanShards, each run by `loadcheck shard` wherever the user
// chose) into a result file: the shards merged without loss
// (bench.MergeOutputs), as config "target", judged against th, the way a
// --target run records it; a nil th judges by the thresholds the plan
// carried (PlanThresholds), the defaults for a plan without them. The
// server side is not in it: no shard watched the server.
func MergeShards(outs []bench.ShardOutput, th *scenarios.Thresholds, version, runID string) (*results.File, error) {
	res, req, err := bench.MergeOutputs(outs)
	if err != nil {
		return nil, err
	}
	if th == nil {
		planned := scenarios.DefaultThresholds()
		if len(req.Thresholds) > 0 {
			if err := json.Unmarshal(req.Thresholds, &planned); err != nil {
				return nil, fmt.Errorf("%s: the plan's thresholds: %w", outs[0].Name, err)
			}
		}
		th = &planned
	}
	if runID == "" {
		runID = NewRunID()
	}
	cfg := apache.Config{Name: "target", MPM: "unknown"}
	run := results.FromBench(cfg, res)
	run.LoadStartedAt, run.MeasureStartS = res.Started.UTC(), res.MeasureStart.Seconds()
	run.WarmUpS, run.WarmUpEnded = req.Options.WarmUp.Seconds(), "fixed"
	results.Judge(&run, *th)
	sc := scenarios.Scenario{Name: "merged", Description: "a load planned over shards and merged", Load: req.Options.Load,
		Thresholds: *th, Configs: []apache.Config{cfg}}
	started := res.Started.UTC() // when the shards' common schedule began
	if res.Started.IsZero() {
		started = time.Now().UTC()
	}
	h := results.Header{Schema: results.Schema, RunID: runID, StartedAt: started, Complete: res.Complete, Scenario: sc, Environment: Environment(version)}
	return &results.File{Header: h, Target: req.Target.URL, Runs: []results.Run{run}}, nil
}

// PlanThresholds encodes th for the shard requests of a plan
// (bench.ShardRequest.Thresholds), which MergeShards judges by.
func PlanThresholds(reqs []bench.ShardRequest, th scenarios.Thresholds) error {
	b, err := json.Marshal(th)
	if err != nil {
		return err
	}
	for i := range reqs {
		reqs[i].Thresholds = b
	}
	return nil
}
