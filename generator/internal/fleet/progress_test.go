package fleet

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/bench"
)

// Two shards' lines, as their logs stream them (with a stray stderr
// line), become one summed progress a second; nothing is reported until
// both have.
func TestFollowProgress(t *testing.T) {
	r0, w0 := io.Pipe()
	r1, w1 := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var got []bench.Progress
	done := make(chan struct{})
	go func() {
		defer close(done)
		FollowProgress(ctx, []io.Reader{r0, r1}, func(p bench.Progress) {
			mu.Lock()
			got = append(got, p)
			mu.Unlock()
		})
	}()
	line := func(w io.Writer, j int, p bench.Progress) {
		b, _ := json.Marshal(bench.ShardLine{Schema: bench.ShardSchema, Shard: j, Progress: &p})
		w.Write(append(b, '\n'))
	}
	line(w0, 0, bench.Progress{Phase: bench.PhaseRamp, Elapsed: time.Second, Open: 10, OK: 5})
	w1.Write([]byte("panic: not a shard line\n"))
	time.Sleep(1500 * time.Millisecond) // a tick with shard 1 silent
	mu.Lock()
	early := len(got)
	mu.Unlock()
	line(w1, 1, bench.Progress{Phase: bench.PhaseMeasure, Elapsed: 2 * time.Second, Open: 20, OK: 7, Failed: 1, Measured: true})
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	w0.Close()
	w1.Close()
	mu.Lock()
	defer mu.Unlock()
	if early != 0 || len(got) == 0 {
		t.Fatalf("progress before both shards reported: %d; after: %d", early, len(got))
	}
	if p := got[len(got)-1]; p.Open != 30 || p.OK != 12 || p.Failed != 1 || p.Elapsed != 2*time.Second || p.Phase != bench.PhaseMeasure {
		t.Errorf("summed progress %+v", p)
	}
}
