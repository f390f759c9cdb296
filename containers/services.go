package containers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
)

// LabelShard marks a swarm generator service with its shard index (see
// package fleet).
const LabelShard = "org.loadcheck.shard"

// removeServices removes the swarm services carrying label (generator
// shards a killed run left) unless keep says otherwise from their labels;
// an engine that is no swarm manager has none.
func removeServices(ctx context.Context, label string, keep func(labels map[string]string) bool) ([]string, error) {
	out, err := exec.CommandContext(ctx, "docker", "service", "ls", "-q", "--filter", "label="+label).Output()
	if err != nil {
		return nil, nil // not a swarm manager: no services
	}
	var ids []string
	for _, id := range strings.Fields(string(out)) {
		if keep != nil {
			js, err := exec.CommandContext(ctx, "docker", "service", "inspect", "--format", "{{json .Spec.Labels}}", id).Output()
			var labels map[string]string
			if err == nil && json.Unmarshal(js, &labels) == nil && keep(labels) {
				continue
			}
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if out, err := exec.CommandContext(ctx, "docker", append([]string{"service", "rm"}, ids...)...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("remove swarm services: %w: %s", err, bytes.TrimSpace(out))
	}
	return ids, nil
}
