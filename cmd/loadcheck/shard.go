package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/generator/swarm"
)

// cmdShard runs one planned shard and writes its JSON lines to stdout.
func cmdShard(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadcheck shard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadcheck shard REQUEST.json > OUTPUT.jsonl
       loadcheck shard PLAN-DIR > OUTPUT.jsonl   (in a Kubernetes Indexed Job's pod)

Runs one shard of a load that loadcheck plan (or run --generator swarm or
kubernetes) split, waiting for its start time, and writes loadcheck.shard/v1
JSON lines to stdout: its request, progress once a second, then its result
(histograms included, lossless). Given a folder, it takes the request
shard-$JOB_COMPLETION_INDEX.json from it; with no argument, the request in
$LOADCHECK_SHARD_REQUEST (a swarm shard's). Join the shards' outputs with
loadcheck merge. Exit 0, 2 when the shard cannot run (its start has passed,
say).
`)
	}
	// A swarm shard gets its request in its environment, not as a file.
	var pos []string
	var data []byte
	if env := os.Getenv(swarm.ShardRequestEnv); env != "" && len(args) == 0 {
		pos, data = []string{"$" + swarm.ShardRequestEnv}, []byte(env)
	} else {
		var err error
		if pos, err = parseArgs(fs, args, 1, "one shard request file"); err != nil {
			return err
		}
		// A plan folder (a Kubernetes Indexed Job's ConfigMap): the shard
		// is the pod's completion index.
		if st, err := os.Stat(pos[0]); err == nil && st.IsDir() {
			idx := os.Getenv("JOB_COMPLETION_INDEX")
			if idx == "" {
				return &usageError{fmt.Sprintf("%s is a folder: its shard comes from JOB_COMPLETION_INDEX (set in a Kubernetes Indexed Job's pods); elsewhere give the shard's file", pos[0])}
			}
			pos[0] = filepath.Join(pos[0], "shard-"+idx+".json")
		}
		if data, err = os.ReadFile(pos[0]); err != nil {
			return &usageError{err.Error()}
		}
	}
	var req bench.ShardRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return &usageError{fmt.Sprintf("%s: not a shard request: %v", pos[0], err)}
	}
	// Late by more than a second, the shard's connections would open out
	// of step with the others': the schedule is the result.
	if late := time.Since(req.Options.StartAt); !req.Options.StartAt.IsZero() && late > time.Second {
		return &usageError{fmt.Sprintf("%s: its start (%s) passed %s ago: plan again with a later --start-in", pos[0], req.Options.StartAt.UTC().Format(time.RFC3339), late.Round(time.Second))}
	}
	// A fleet's image may hold another build than the coordinator's: the
	// two would not agree on the schedule or the wire format.
	if req.Version != "" && req.Version != version {
		return &usageError{fmt.Sprintf("%s: planned by loadcheck %s, and this is loadcheck %s: run the shards from the coordinator's build (make generator-image)", pos[0], req.Version, version)}
	}
	return bench.ServeShard(ctx, strings.NewReader(string(data)), stdout)
}
