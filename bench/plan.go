package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"time"
)

// PlanShards splits one load over shards processes that something else
// starts (CI matrix jobs, ssh, a cluster engine): one request per shard,
// each for `loadcheck shard`, all with the same wall-clock start and the
// same source addresses. An auto warm-up needs a coordinator that watches
// the server, so a planned load has a fixed one.
func PlanShards(t Target, opts Options, shards int, startAt time.Time) ([]ShardRequest, error) {
	if opts.WarmUp == WarmUpAuto {
		return nil, &FieldError{Field: "warmup", Msg: "a planned load has no coordinator to say when the server has settled: give a fixed warm-up, such as 30s"}
	}
	opts.StartAt = startAt
	opts, err := shardOptions(t, opts, shards)
	if err != nil {
		return nil, err
	}
	if _, err := tlsFor(t, opts); err != nil {
		return nil, err
	}
	var out []ShardRequest
	for j := range shards {
		o := opts
		o.Shard = j
		out = append(out, ShardRequest{Schema: ShardSchema, Target: t, Options: o})
	}
	return out, nil
}

// ShardOutput is one shard process's output read back: the request it
// ran (its first line), its last progress, and its result or error.
type ShardOutput struct {
	Name    string // where it was read from, for messages
	Request *ShardRequest
	Clock   *ClockReading
	Last    *Progress
	Result  *Result
	Err     string
}

// ReadShardOutput reads the JSON lines a shard process wrote.
func ReadShardOutput(name string, r io.Reader) (ShardOutput, error) {
	out := ShardOutput{Name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	for n := 1; sc.Scan(); n++ {
		var l ShardLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Schema != ShardSchema {
			return out, fmt.Errorf("%s:%d: not a %s line: %.80q", name, n, ShardSchema, sc.Text())
		}
		switch {
		case l.Request != nil:
			out.Request = l.Request
		case l.Clock != nil:
			out.Clock = l.Clock
		case l.Progress != nil:
			out.Last = l.Progress
		case l.Result != nil:
			out.Result = l.Result
		case l.Error != "":
			out.Err = l.Error
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// MergeOutputs checks that outs are every shard of one planned load, each
// once and each with its result, and merges them without loss. It
// returns the merged result and the load's request (shard 0's).
func MergeOutputs(outs []ShardOutput) (*Result, ShardRequest, error) {
	if len(outs) == 0 {
		return nil, ShardRequest{}, errors.New("no shard output given")
	}
	var errs []error
	for _, o := range outs {
		switch {
		case o.Request == nil:
			errs = append(errs, fmt.Errorf("%s: no request line: not the output of `loadcheck shard`", o.Name))
		case o.Err != "":
			errs = append(errs, fmt.Errorf("%s: shard %d failed: %s", o.Name, o.Request.Options.Shard, o.Err))
		case o.Result == nil:
			last := "it reported nothing after its request"
			if p := o.Last; p != nil {
				last = fmt.Sprintf("its last progress: %s at %s, %d open, %d ok, %d failed", p.Phase, p.Elapsed.Round(time.Second), p.Open, p.OK, p.Failed)
			}
			errs = append(errs, fmt.Errorf("%s: shard %d never reported a result (it died or was cut off; %s)", o.Name, o.Request.Options.Shard, last))
		}
	}
	if len(errs) > 0 {
		return nil, ShardRequest{}, errors.Join(errs...)
	}
	first := *outs[0].Request
	n := first.Options.Shards
	seen := map[int]string{}
	for _, o := range outs {
		req := *o.Request
		j := req.Options.Shard
		if prev, dup := seen[j]; dup {
			return nil, first, fmt.Errorf("%s and %s are both shard %d of the load", prev, o.Name, j)
		}
		seen[j] = o.Name
		req.Options.Shard = first.Options.Shard
		if !reflect.DeepEqual(req.Target, first.Target) || !sameOptions(req.Options, first.Options) || !bytes.Equal(req.Thresholds, first.Thresholds) {
			return nil, first, fmt.Errorf("%s is a shard of another load than %s (target, schedule, start or thresholds differ): merge the shards of one plan", o.Name, outs[0].Name)
		}
	}
	if len(outs) != n {
		var missing []int
		for j := range n {
			if _, ok := seen[j]; !ok {
				missing = append(missing, j)
			}
		}
		return nil, first, fmt.Errorf("the load was planned over %d shards and %d outputs were given: shard(s) %v missing", n, len(outs), missing)
	}
	parts := make([]*Result, n)
	for _, o := range outs {
		parts[o.Request.Options.Shard] = o.Result
	}
	first.Options.Shard = 0
	res := Merge(parts...)
	for _, o := range outs {
		if o.Clock != nil && len(res.PerShard) == n {
			off := o.Clock.OffsetMS
			res.PerShard[o.Request.Options.Shard].ClockOffsetMS = &off
		}
	}
	return res, first, nil
}

// sameOptions compares two shards' options as they travel (JSON): what
// is not sent cannot differ.
func sameOptions(a, b Options) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}
