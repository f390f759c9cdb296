// Package dockertest gates integration tests on a reachable Docker engine
// and the loadcheck image. Outside CI a missing engine skips the test; with
// CI=true it fails it, because a skipped integration test proves nothing.
package dockertest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Image is the image the integration tests run.
const Image = "loadcheck/apache2:bookworm"

// Require skips (or, in CI, fails) t unless Docker answers and Image exists.
func Require(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	miss := func(format string, a ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and "+format, a...)
		}
		t.Skipf(format, a...)
	}
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		miss("no Docker engine: %v: %s", err, out)
	}
	if out, err := exec.CommandContext(ctx, "docker", "image", "inspect", Image).CombinedOutput(); err != nil {
		miss("image %s missing (run `make image`): %v: %.200s", Image, err, out)
	}
}

// Leftovers returns the IDs of containers that carry loadcheck's label.
func Leftovers(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=org.loadcheck.managed=true").Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	return strings.Fields(string(out))
}
