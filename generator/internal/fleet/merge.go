package fleet

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/loadcheck/loadcheck/bench"
)

// MergeLogs reads each shard's logs (descs[j] names shard j in messages,
// nodes[j] is where it ran) and merges them exactly: a shard that failed,
// died or wrote nothing fails the whole, named with its last words.
func MergeLogs(fleet string, reqs []bench.ShardRequest, logs [][]byte, descs, nodes []string) (*bench.Result, error) {
	outs := make([]bench.ShardOutput, len(logs))
	var errs []error
	for j := range logs {
		o, err := bench.ReadShardOutput(descs[j], bytes.NewReader(onlyShardLines(logs[j])))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if o.Request == nil {
			// It died before its first line: say what the logs held.
			o.Request = &reqs[j]
			if o.Err == "" {
				o.Err = fmt.Sprintf("it wrote no request line; its logs: %.300q", string(logs[j]))
			}
		}
		outs[j] = o
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	res, _, err := bench.MergeOutputs(outs)
	if res != nil {
		res.Fleet = fleet
		for i := range res.PerShard {
			res.PerShard[i].Node = nodes[res.PerShard[i].Shard]
		}
	}
	return res, err
}

// onlyShardLines keeps the lines that look like a shard's JSON: a
// shard's stderr (a Go panic, say) is in the same logs.
func onlyShardLines(logs []byte) []byte {
	var b bytes.Buffer
	for _, l := range bytes.Split(logs, []byte("\n")) {
		if bytes.HasPrefix(bytes.TrimSpace(l), []byte(`{"schema":`)) {
			b.Write(l)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}
