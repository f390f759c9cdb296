package loadcheck

import (
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
// --target run records it. The server side is not in it: no shard
// watched the server.
func MergeShards(outs []bench.ShardOutput, th scenarios.Thresholds, version, runID string) (*results.File, error) {
	res, req, err := bench.MergeOutputs(outs)
	if err != nil {
		return nil, err
	}
	if runID == "" {
		runID = NewRunID()
	}
	cfg := apache.Config{Name: "target", MPM: "unknown"}
	run := results.FromBench(cfg, res)
	run.LoadStartedAt, run.MeasureStartS = res.Started.UTC(), res.MeasureStart.Seconds()
	run.WarmUpS, run.WarmUpEnded = req.Options.WarmUp.Seconds(), "fixed"
	results.Judge(&run, th)
	sc := scenarios.Scenario{Name: "merged", Description: "a load planned over shards and merged", Load: req.Options.Load,
		Thresholds: th, Configs: []apache.Config{cfg}}
	started := res.Started.UTC() // when the shards' common schedule began
	if res.Started.IsZero() {
		started = time.Now().UTC()
	}
	return &results.File{Schema: results.Schema, RunID: runID, StartedAt: started, Environment: Environment(version),
		Scenario: sc, Target: req.Target.URL, Runs: []results.Run{run}, Complete: res.Complete}, nil
}
