package swarm

import (
	"context"
	"io"
	"os/exec"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/generator/internal/fleet"
)

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
			fleet.FollowProgress(ctx, rs, progress)
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
