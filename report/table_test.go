package report

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/internal/benchfix"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

func TestTableAndJSONRoundTrip(t *testing.T) {
	cfg := apache.Config{Name: "prefork-stock", MPM: "prefork"}
	run := results.FromBench(cfg, benchfix.BenchResult(150, 3850, 1500, 38500, 900))
	run.Server = &results.Server{PeakBusyWorkers: 150}
	results.Judge(&run, scenarios.DefaultThresholds())
	f := &results.File{Header: results.Header{Schema: results.Schema, RunID: "r1"}, Runs: []results.Run{run}}
	var b bytes.Buffer
	if err := WriteTable(&b, f); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"prefork-stock", "3850", "queue_timeout 38500", "FAIL", "served 150 of 4000"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := f.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	back, err := results.ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Runs[0].Connections.Starved; got != 3850 {
		t.Errorf("round trip: starved %d, want 3850", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("got %d files after an atomic write, want 1 (no temporary left)", len(entries))
	}
	os.WriteFile(path, []byte(`{"schema":"loadcheck.result/v9"}`), 0o644)
	if _, err := results.ReadJSON(path); err == nil || !strings.Contains(err.Error(), "v9") {
		t.Errorf("got %v, want an unknown-schema error", err)
	}
}

func TestTableServerSide(t *testing.T) {
	run := results.Run{Config: "prefork-stock", Verdict: results.Fail, TimeToCapacityS: -1,
		Series: []bench.Point{{OK: 6}, {OK: 4, Errors: map[string]int64{"http_5xx": 1, "reset": 2}}},
		Server: &results.Server{StatusSamples: 3, AccessesDuringRun: 13,
			Kernel:   &results.ListenCounters{Overflows: 7, Drops: 9},
			ErrorLog: []results.LogCode{{Code: "AH00161", Level: "error", Count: 3, First: "[x] AH00161: server reached MaxRequestWorkers setting"}, {Code: "AH00163", Level: "notice", Count: 1, First: "resuming"}}}}
	var b bytes.Buffer
	if err := WriteTable(&b, &results.File{Runs: []results.Run{run}}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"prefork-stock: never held every connection",
		"httpd counted 13 requests, the client got 11 responses and sent 2 status reads",
		"kernel listen overflows +7, drops +9",
		"httpd AH00161 x3: [x] AH00161: server reached MaxRequestWorkers setting",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "AH00163") {
		t.Errorf("a notice-level code was shown as notable:\n%s", out)
	}
	if strings.Contains(out, "misses some over HTTP/2") {
		t.Errorf("an HTTP/1.1 run's count is said to miss HTTP/2 requests:\n%s", out)
	}

	// Over HTTP/2 mod_status's count is a lower bound, and says so.
	run.Protocol, run.Streams = bench.ProtoH2, 6
	b.Reset()
	if err := WriteTable(&b, &results.File{Runs: []results.Run{run}}); err != nil {
		t.Fatal(err)
	}
	if want := "httpd counted 13 requests (mod_status misses some over HTTP/2: its access log does not), the client got 11"; !strings.Contains(b.String(), want) {
		t.Errorf("table lacks %q:\n%s", want, b.String())
	}

	// mod_http2's workers, seen as the threads of httpd's busiest process.
	for _, c := range []struct {
		start, peak int
		want        string
	}{
		{28, 35, "threads in the busiest httpd process: 28 before the load, up to 35 under it (mod_http2's workers: H2MinWorkers 25 a child from the start, up to H2MaxWorkers 37 under load; it added 7 of the 12 it may)"},
		{28, 40, "up to 40 under it (mod_http2's workers: H2MinWorkers 25 a child from the start, up to H2MaxWorkers 37 under load; it reached H2MaxWorkers: a stream that found them all busy waited)"},
	} {
		run.Server.ThreadsAtStart, run.Server.PeakThreads, run.Server.H2MinWorkers, run.Server.H2MaxWorkers = c.start, c.peak, 25, 37
		b.Reset()
		if err := WriteTable(&b, &results.File{Runs: []results.Run{run}}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), c.want) {
			t.Errorf("table lacks %q:\n%s", c.want, b.String())
		}
	}
}

// TestTLSLines: an https:// run's handshakes are in the table, Markdown
// and HTML; an http:// run has none.
func TestTLSLines(t *testing.T) {
	f := &results.File{Runs: []results.Run{
		{Config: "event-tuned", Verdict: results.Pass, TLS: &results.TLS{Handshakes: 120, Resumed: 3, Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256",
			HandshakeMS: results.Latency{P50: 1.5, P90: 2, P99: 4.25, Max: 9}}},
		{Config: "worker-stock", Verdict: results.Pass},
	}}
	want := "event-tuned TLS: TLS 1.3 TLS_AES_128_GCM_SHA256; 120 handshakes (3 resumed, 0 failed), handshake ms p50 1.50 p90 2.00 p99 4.25 max 9.00"
	for _, format := range []string{"table", "markdown", "html"} {
		var b bytes.Buffer
		if err := Render(&b, f, format); err != nil {
			t.Fatal(err)
		}
		if out := b.String(); !strings.Contains(out, want) || strings.Contains(out, "worker-stock TLS") {
			t.Errorf("%s: want exactly the line %q:\n%s", format, want, out)
		}
	}
}

// Each fleet shard's line says where it ran and how far its clock was
// from the coordinator's (the shard's minus the coordinator's).
func TestShardLinesClock(t *testing.T) {
	ahead, tiny := -12.34, 0.01
	f := &results.File{Runs: []results.Run{{Config: "target", Fleet: "swarm", GeneratorShards: []bench.ShardSummary{
		{Shard: 0, Target: 2, Served: 2, OK: 20, Node: "n1", ClockOffsetMS: &ahead},
		{Shard: 1, Target: 2, Served: 2, OK: 20, Node: "n2", ClockOffsetMS: &tiny},
		{Shard: 2, Target: 2, Served: 1, OK: 19, Dropped: 1},
	}}}}
	got := strings.Join(shardLines(f), "\n")
	want := "target generator: swarm, 3 shards: #0 2 of 2 served, 20 ok, 0 dropped, client_late 0 on n1 (clock +12.3 ms off); " +
		"#1 2 of 2 served, 20 ok, 0 dropped, client_late 0 on n2 (clock +0.0 ms off); #2 1 of 2 served, 19 ok, 1 dropped, client_late 0"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestImageLines: the table names the httpd the configs ran, its image
// and the image's ID once when every config ran the same, per config when
// they differ, and a native httpd as on this host.
func TestImageLines(t *testing.T) {
	run := func(cfg, image, id, version string) results.Run {
		return results.Run{Config: cfg, Image: image, ImageID: id, HTTPDVersion: version}
	}
	deb := "sha256:22ec2b1aa107a9b8c7d6e5f4"
	same := &results.File{Runs: []results.Run{run("a", "loadcheck/apache2:bookworm", deb, "Apache/2.4.68 (Debian)"), run("b", "loadcheck/apache2:bookworm", deb, "Apache/2.4.68 (Debian)")}}
	if got, want := imageLines(same), []string{"httpd: Apache/2.4.68 (Debian) from image loadcheck/apache2:bookworm (sha256:22ec2b1aa107)"}; !slices.Equal(got, want) {
		t.Errorf("same image: %q, want %q", got, want)
	}
	mixed := &results.File{Runs: []results.Run{run("a", "loadcheck/apache2:bookworm", deb, "Apache/2.4.68 (Debian)"), run("b", "", "", "Apache/2.4.62 (Unix)")}}
	got := imageLines(mixed)
	if len(got) != 2 || !strings.HasPrefix(got[0], "a httpd: Apache/2.4.68") || got[1] != "b httpd: Apache/2.4.62 (Unix) on this host" {
		t.Errorf("two httpds: %q", got)
	}
	var b bytes.Buffer
	if err := WriteTable(&b, same); err != nil || !strings.HasPrefix(b.String(), "httpd: Apache/2.4.68 (Debian) from image") {
		t.Errorf("table: %v\n%s", err, b.String())
	}
}
