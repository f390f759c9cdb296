package swarm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWaitJobRidesOutHiccups: `docker service ps` fails twice (the engine
// busy), then says the job completed: the wait goes on through the
// failures and returns the job's state and node.
func TestWaitJobRidesOutHiccups(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "calls")
	script := `#!/bin/sh
n=$(cat "` + count + `" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "` + count + `"
if [ "$n" -le 2 ]; then echo "error during connect: context deadline exceeded" >&2; exit 1; fi
echo "Complete 2 seconds ago|node-a|"
`
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	state, node, err := waitJob(context.Background(), "loadcheck-x-shard-0", time.Now().Add(time.Minute))
	if err != nil || !strings.HasPrefix(state, "Complete") || node != "node-a" {
		t.Errorf("waitJob: %q on %q, %v; want Complete on node-a after two failed calls", state, node, err)
	}
	if b, _ := os.ReadFile(count); strings.TrimSpace(string(b)) != "3" {
		t.Errorf("docker was called %s times, want 3", b)
	}
}

// TestReleaseVersion: only a release's version names the shards' image.
func TestReleaseVersion(t *testing.T) {
	for v, want := range map[string]bool{
		"v1.2.0": true, "v1.3.0-rc.1": true, "v10.0.12": true,
		"dev": false, "dev (3f2a9c1b7e44+dirty, 2026-11-27T03:40:00Z)": false,
		"v0.0.0-20261204232741-d93afb5fce5f+dirty": false, "v0.0.0-20261204232741-d93afb5fce5f": false, "dev-d93afb5fce5f": false,
	} {
		if got := releaseVersion.MatchString(v); got != want {
			t.Errorf("%q: release %v, want %v", v, got, want)
		}
	}
}
