package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// retryWaits are the pauses between the attempts of a call that failed
// for a passing reason: five attempts over about 4 s.
var retryWaits = []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second}

// retry calls fn until it succeeds, fails for a reason transient does not
// call passing, ctx ends, or the attempts run out; it returns fn's last
// error, and how many attempts failed before it.
func retry(ctx context.Context, transient func(error) bool, fn func() error) error {
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

// transientAPI reports whether a Kubernetes API call's failure may pass
// on its own: a timeout or a broken connection, or the API server's 429
// (throttled) or 5xx.
func transientAPI(err error) bool {
	var ke *KubeError
	if errors.As(err, &ke) {
		return ke.Status == 429 || ke.Status >= 500
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

// transientCLI: any failure of a docker command may be a hiccup (the
// engine busy, a dropped connection to it); one that lasts through every
// attempt is not.
func transientCLI(error) bool { return true }

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

// lostShards is the error of a fleet run some of whose shards' outputs
// could not be read: each named with why, and where the others were kept.
func lostShards(runID string, logs [][]byte, errs []error) error {
	dir, kerr := keepOutputs(runID, logs)
	where := "the other shards' outputs are in " + dir + " (a run needs every shard: nothing is merged)"
	if kerr != nil {
		where = "the other shards' outputs could not be kept either: " + kerr.Error()
	}
	return fmt.Errorf("%w; %s", errors.Join(errs...), where)
}
