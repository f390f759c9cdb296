package fleet

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"sync"
	"time"

	"github.com/loadcheck/loadcheck/bench"
)

// followProgress reads each shard's JSON lines as they come (rs[j] is
// shard j's) and hands progress the shards' summed progress once a
// second (bench.SumProgress), until ctx ends. Lines that are not a
// shard's are skipped: a shard's logs carry its stderr too.
func followProgress(ctx context.Context, rs []io.Reader, progress func(bench.Progress)) {
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

// followSwarm follows the swarm shards' service logs and hands progress
// their summed progress once a second, until the returned stop is called.
func followSwarm(names []string, progress func(bench.Progress)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var rs []io.Reader
	var cmds []*exec.Cmd
	for _, name := range names {
		cmd := exec.CommandContext(ctx, "docker", "service", "logs", "--follow", "--raw", name)
		out, err := cmd.StdoutPipe()
		if err != nil || cmd.Start() != nil {
			continue // no live progress from this shard; its result is read at the end
		}
		rs, cmds = append(rs, out), append(cmds, cmd)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if len(rs) == len(names) {
			followProgress(ctx, rs, progress)
		}
	}()
	return func() {
		cancel()
		for _, c := range cmds {
			_ = c.Wait()
		}
		<-done
	}
}
