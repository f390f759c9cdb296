package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain lets this test binary act as a shard process, as loadcheck's
// hidden shard command does.
//
// LOADCHECK_TEST_ENGINE=goroutine runs every test on the goroutine
// engine; by default plain-HTTP loads run on the event loops.
func TestMain(m *testing.M) {
	testEngine = os.Getenv("LOADCHECK_TEST_ENGINE")
	if os.Getenv("LOADCHECK_TEST_SHARD") == "1" {
		if d, err := time.ParseDuration(os.Getenv("LOADCHECK_TEST_SHARD_DIE")); err == nil {
			// A shard that dies mid-run, as a SIGKILL or the OOM killer
			// would end it.
			time.AfterFunc(d, func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) })
		}
		if err := ServeShard(context.Background(), os.Stdin, os.Stdout); err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func shardCommand(ctx context.Context) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LOADCHECK_TEST_SHARD=1")
	return cmd
}

// TestRunShards splits one run over three processes and checks that the
// merge accounts for every connection and request exactly once.
func TestRunShards(t *testing.T) {
	url := startServer(t, &server{handle: func(_ net.Conn, nth int) string {
		if nth%4 == 0 {
			return "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"
		}
		return okResponse
	}})
	opts := quickOpts(10)
	var progressed int
	opts.Progress = func(Progress) { progressed++ }
	r, err := RunShards(context.Background(), Target{URL: url}, opts, 3, shardCommand)
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, r)
	checkSchedule(t, r, opts)
	if r.Shards != 3 || r.Target != 10 || r.Established != 10 {
		t.Fatalf("shards %d target %d established %d, want 3 10 10", r.Shards, r.Target, r.Established)
	}
	// 10 connections x 10/s x 1 s: measured slots 2..11 are requests
	// 3..12 of each connection, and 4, 8 and 12 are 500s. The same as one
	// process counts.
	if r.Sent != 100 || r.Errors["http_5xx"] != 30 || r.OK != 70 {
		t.Errorf("sent %d ok %d errors %v, want 100, 70 and 30 http_5xx", r.Sent, r.OK, r.Errors)
	}
	if r.ServiceTime.TotalCount() != r.OK || r.ConnectTime.TotalCount() != 10 {
		t.Errorf("service-time count %d, connect-time count %d; want %d and 10", r.ServiceTime.TotalCount(), r.ConnectTime.TotalCount(), r.OK)
	}
	var seriesOK int64
	for _, p := range r.Series {
		seriesOK += p.OK
	}
	if seriesOK < r.OK || len(r.Series) < 2 {
		t.Errorf("merged series: %d points with %d ok, want at least the %d measured", len(r.Series), seriesOK, r.OK)
	}
	if progressed == 0 {
		t.Error("no progress reported")
	}
}

// TestShardBadRequest: a shard refuses a request it does not understand.
func TestShardBadRequest(t *testing.T) {
	for _, in := range []string{`{"schema":"loadcheck.shard/v0"}`, `{"schema":"loadcheck.shard/v1","bogus":1}`, `not json`} {
		var out bytes.Buffer
		if err := ServeShard(context.Background(), bytes.NewBufferString(in), &out); err == nil {
			t.Errorf("ServeShard(%s) succeeded", in)
		}
	}
}

// TestMergeLossless: merging shard results equals recording everything in
// one histogram, through the transfer encoding.
func TestMergeLossless(t *testing.T) {
	all := NewHistogram()
	var parts []*Result
	for s := range 3 {
		r := &Result{Connections: Connections{Target: 5, Served: 5}, Requests: Requests{Sent: 100, OK: 100, Errors: map[string]int64{}, Samples: map[string]string{}},
			Latency: NewHistogram(), ServiceTime: NewHistogram(), ConnectTime: NewHistogram(), OpenedIn: time.Second, Complete: true, Shards: 1}
		for i := range 100 {
			v := int64(1 + (s*7919+i*104729)%2_000_000)
			_ = r.Latency.RecordValue(v)
			_ = all.RecordValue(v)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got := &Result{}
		if err := json.Unmarshal(b, got); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, got)
	}
	m := Merge(parts...)
	if !m.Latency.Equals(all) {
		t.Errorf("merged histogram differs: p99 %d vs %d, count %d vs %d", m.Latency.ValueAtQuantile(99), all.ValueAtQuantile(99), m.Latency.TotalCount(), all.TotalCount())
	}
	if m.Target != 15 || m.OK != 300 || m.Shards != 3 || !m.Complete {
		t.Errorf("merged %+v", m)
	}
}

func TestLimits(t *testing.T) {
	if got := ShardsFor(50000, 20000); got != 3 {
		t.Errorf("ShardsFor(50000, 20000) = %d, want 3", got)
	}
	if got := ShardsFor(4000, 20000); got != 1 {
		t.Errorf("ShardsFor(4000, 20000) = %d, want 1", got)
	}
	hard, err := HardNofile()
	if err != nil {
		t.Fatal(err)
	}
	err = RaiseNofile(int(hard))
	le, ok := err.(*LimitError)
	if !ok || le.Need != hard+NofileMargin {
		t.Fatalf("RaiseNofile(hard limit) = %v, want a LimitError needing %d", err, hard+NofileMargin)
	}
	t.Log(le)
	if err := RaiseNofile(10); err != nil {
		t.Errorf("RaiseNofile(10) = %v", err)
	}
}

// FuzzShardLine: no line a shard process writes, however damaged, makes
// the parent panic; a decoded result's histograms are usable.
func FuzzShardLine(f *testing.F) {
	r := &Result{Connections: Connections{Target: 2, Served: 2}, Requests: Requests{Sent: 4, OK: 4, Errors: map[string]int64{}},
		Latency: NewHistogram(), ServiceTime: NewHistogram(), ConnectTime: NewHistogram(), Complete: true}
	_ = r.Latency.RecordValue(1500)
	line, err := json.Marshal(ShardLine{Schema: ShardSchema, Result: r})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(line)
	f.Add([]byte(`{"schema":"loadcheck.shard/v1","progress":{"phase":"measure","open":3}}`))
	f.Add([]byte(`{"schema":"loadcheck.shard/v1","result":{"latency_hdr":"AAAA","series":[{"latency_hdr":"//8="}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var l ShardLine
		if json.Unmarshal(data, &l) != nil || l.Result == nil {
			return
		}
		_ = l.Result.Latency.ValueAtQuantile(99)
		_ = Merge(l.Result, l.Result)
	})
}

// TestShardDies: when one shard process dies mid-run, the run fails naming
// it; nothing is merged as if the other shards' counts were the whole run.
func TestShardDies(t *testing.T) {
	url := startServer(t, &server{handle: func(net.Conn, int) string { return okResponse }})
	n := 0
	command := func(ctx context.Context) *exec.Cmd {
		cmd := shardCommand(ctx)
		if n == 1 {
			cmd.Env = append(cmd.Env, "LOADCHECK_TEST_SHARD_DIE=1500ms")
		}
		n++
		return cmd
	}
	r, err := RunShards(context.Background(), Target{URL: url}, quickOpts(9), 3, command)
	if err == nil || r != nil {
		t.Fatalf("got result %+v, error %v: want no result and an error", r, err)
	}
	if !strings.Contains(err.Error(), "shard 1") || !strings.Contains(err.Error(), "killed") {
		t.Errorf("error %q does not say that shard 1 was killed", err)
	}
}

// TestShardsAutoWarmUp: the end of an auto warm-up reaches every shard
// process, and they all measure from the same moment.
func TestShardsAutoWarmUp(t *testing.T) {
	url := startServer(t, &server{handle: func(net.Conn, int) string { return okResponse }})
	opts := quickOpts(6)
	opts.WarmUp, opts.WarmUpMax = WarmUpAuto, 20*time.Second
	ch := make(chan time.Time, 1)
	opts.MeasureFrom = ch
	var once sync.Once
	opts.Progress = func(p Progress) {
		if p.Phase == PhaseWarmUp {
			once.Do(func() { ch <- time.Now().Add(300 * time.Millisecond) })
		}
	}
	began := time.Now()
	r, err := RunShards(context.Background(), Target{URL: url}, opts, 3, shardCommand)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 10*time.Second || r.MeasureStart > 5*time.Second {
		t.Errorf("run took %s, measured from %s: the shards did not hear the warm-up end (cap 20 s)", took, r.MeasureStart)
	}
	checkConservation(t, r)
	checkSchedule(t, r, opts)
	if r.Served != 6 {
		t.Errorf("served %d of 6", r.Served)
	}
}

// TestWireKeepsEveryPart: every part of a result that one process
// reports (the TLS block, a mix's path classes, the fast and slow client
// groups) crosses the shard wire format and the merge unchanged, so a
// sharded or fleet run reports and is judged as a single process is.
func TestWireKeepsEveryPart(t *testing.T) {
	const size = 40000
	big := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", size, bytes.Repeat([]byte("x"), size))
	tlsURL := startServer(t, &server{tls: testTLS(t), handle: func(net.Conn, int) string { return okResponse }})
	url := startServer(t, &server{handle: func(net.Conn, int) string { return big }})
	mix := quickOpts(4)
	mix.Mix = []MixEntry{{Method: "GET", Path: "/a", Weight: 3}, {Method: "GET", Path: "/b/c", Weight: 1}}
	slow := quickOpts(4)
	slow.Slow = SlowClients{Pct: 50, ReadRate: 64 << 10}
	for _, c := range []struct {
		name string
		url  string
		o    Options
	}{{"tls", tlsURL, quickOpts(3)}, {"mix", url, mix}, {"slow clients", url, slow}} {
		t.Run(c.name, func(t *testing.T) {
			r, err := Run(context.Background(), Target{URL: c.url}, c.o)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var back Result
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			m := Merge(&back)
			if (r.TLS == nil) != (m.TLS == nil) || r.TLS != nil && (r.TLS.Handshakes != m.TLS.Handshakes || r.TLS.Resumed != m.TLS.Resumed ||
				r.TLS.Version != m.TLS.Version || r.TLS.Cipher != m.TLS.Cipher || !r.TLS.HandshakeTime.Equals(m.TLS.HandshakeTime)) {
				t.Errorf("TLS: got %+v, want %+v", m.TLS, r.TLS)
			}
			if len(m.Classes) != len(r.Classes) {
				t.Fatalf("classes: got %d, want %d", len(m.Classes), len(r.Classes))
			}
			for i, rc := range r.Classes {
				mc := m.Classes[i]
				if mc.Class != rc.Class || mc.OK != rc.OK || mc.Dropped != rc.Dropped || !mc.Latency.Equals(rc.Latency) {
					t.Errorf("class %d: got %s %d ok %d dropped, want %s %d %d", i, mc.Class, mc.OK, mc.Dropped, rc.Class, rc.OK, rc.Dropped)
				}
			}
			if len(m.Groups) != len(r.Groups) {
				t.Fatalf("groups: got %d, want %d", len(m.Groups), len(r.Groups))
			}
			for i, rg := range r.Groups {
				mg := m.Groups[i]
				if mg.Group != rg.Group || mg.Connections != rg.Connections || mg.Sent != rg.Sent || mg.OK != rg.OK || !mg.Latency.Equals(rg.Latency) {
					t.Errorf("group %d: got %s %+v %d/%d, want %s %+v %d/%d", i, mg.Group, mg.Connections, mg.OK, mg.Sent, rg.Group, rg.Connections, rg.OK, rg.Sent)
				}
			}
			if r.TLS == nil && r.Classes == nil && r.Groups == nil {
				t.Fatal("the run has none of the parts this test is about")
			}
		})
	}
}
