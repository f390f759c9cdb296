package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// retryWaits are the pauses between the attempts of a call that failed
// for a passing reason: five attempts over about 4 s.
var retryWaits = []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second}

// Retry calls fn until it succeeds, fails for a reason transient does not
// call passing, ctx ends, or the attempts run out; it returns fn's last
// error, and how many attempts failed before it.
func Retry(ctx context.Context, transient func(error) bool, fn func() error) error {
	var err error
	for i := 0; ; i++ {
		if err = fn(); err == nil || ctx.Err() != nil || !transient(err) || i == len(retryWaits) {
			if err != nil && i > 0 {
				err = fmt.Errorf("%w (after %d attempts)", err, i+1)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(retryWaits[i]):
		}
	}
}

// keepOutputs saves the shards' outputs that were read (logs[j] nil: not
// read) to a folder of their own, before the fleet's objects are
// removed with their logs, and returns it.
func keepOutputs(runID string, logs [][]byte) (string, error) {
	dir, err := os.MkdirTemp("", "loadcheck-"+strings.ReplaceAll(runID, "/", "-")+"-shards-")
	if err != nil {
		return "", err
	}
	for j, b := range logs {
		if b == nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("shard-%d.jsonl", j)), b, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// LostShards is the error of a fleet run some of whose shards' outputs
// could not be read: each named with why, and where the others were kept.
func LostShards(runID string, logs [][]byte, errs []error) error {
	dir, kerr := keepOutputs(runID, logs)
	where := "the other shards' outputs are in " + dir + " (a run needs every shard: nothing is merged)"
	if kerr != nil {
		where = "the other shards' outputs could not be kept either: " + kerr.Error()
	}
	return fmt.Errorf("%w; %s", errors.Join(errs...), where)
}
