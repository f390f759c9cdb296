package fleet

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/loadcheck/loadcheck/bench"
)

// FollowProgress reads each shard's JSON lines as they come (rs[j] is
// shard j's) and hands progress the shards' summed progress once a
// second (bench.SumProgress), until ctx ends. Lines that are not a
// shard's are skipped: a shard's logs carry its stderr too.
func FollowProgress(ctx context.Context, rs []io.Reader, progress func(bench.Progress)) {
	var mu sync.Mutex
	last := make([]bench.Progress, len(rs))
	for j, r := range rs {
		go func() {
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 1<<20), 256<<20)
			for sc.Scan() {
				var l bench.ShardLine
				if json.Unmarshal(onlyShardLines(sc.Bytes()), &l) != nil || l.Progress == nil {
					continue
				}
				mu.Lock()
				last[j] = *l.Progress
				mu.Unlock()
			}
		}()
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		mu.Lock()
		sum := bench.SumProgress(last)
		mu.Unlock()
		if sum.Phase != "" {
			progress(sum)
		}
	}
}
