package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPromRemoteWrite pushes a short run's live metrics to Debian's
// Prometheus, started here on loopback with its remote-write receiver, and
// reads them back through its HTTP API: the last OK count pushed is the
// run's own (every second of its series). In CI a missing Prometheus is a
// failure: make test installs it.
func TestPromRemoteWrite(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prometheus is not installed; make test installs Debian's prometheus package")
		}
		t.Skip("prometheus is not installed (make prometheus); CI=true makes this a failure")
	}
	addr := startPrometheus(t, bin, "--enable-feature=native-histograms")
	out := filepath.Join(t.TempDir(), "r.json")
	code, _, stderr := run(t, "run", "--target", okServer(t), "-c", "20", "--rate", "5", "--ramp", "200ms", "--warmup", "1s", "-d", "2s",
		"--prom-remote-write", "http://"+addr+"/api/v1/write", "--json", out)
	if code != exitPass || !strings.Contains(stderr, "pushed live metrics") || strings.Contains(stderr, "refused native histograms") {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	f := readResult(t, out)
	var want int64
	for _, p := range f.Runs[0].Series {
		want += p.OK
	}
	sel := fmt.Sprintf(`{run_id=%q, config="target"}`, f.RunID)
	// Every OK response is counted: as requests, in the classic latency
	// buckets, and in the native histogram.
	for _, q := range []string{"loadcheck_requests_ok_total" + sel, "loadcheck_latency_seconds_count" + sel,
		"loadcheck_latency_seconds_bucket" + strings.TrimSuffix(sel, "}") + `, le="+Inf"}`} {
		if got := waitQuery(addr, "max(max_over_time("+q+"[5m]))", want); got != float64(want) || want == 0 {
			t.Errorf("Prometheus has %s = %g for run %s, the run counted %d OK", q, got, f.RunID, want)
		}
	}
	if n := nativeCount(addr, "loadcheck_latency_seconds"+sel); n != want {
		t.Errorf("the native histogram counts %d answers, the run %d", n, want)
	}
	if v, ok := promQuery(addr, "max(max_over_time(loadcheck_connections_open"+sel+"[5m]))"); !ok || v != 20 {
		t.Errorf("connections open: %g (%v), want 20", v, ok)
	}
	// A receiver without native histograms gets the classic buckets, and
	// the run says so.
	plain := startPrometheus(t, bin)
	code, _, stderr = run(t, "run", "--target", okServer(t), "-c", "5", "--rate", "5", "--ramp", "200ms", "--warmup", "500ms", "-d", "1s",
		"--prom-remote-write", "http://"+plain+"/api/v1/write", "--json", out)
	f = readResult(t, out)
	want = 0
	for _, p := range f.Runs[0].Series {
		want += p.OK
	}
	sel = fmt.Sprintf(`{run_id=%q, config="target"}`, f.RunID)
	if got := waitQuery(plain, "max(max_over_time(loadcheck_latency_seconds_count"+sel+"[5m]))", want); code != exitPass ||
		!strings.Contains(stderr, "refused native histograms") || got != float64(want) {
		t.Errorf("no native histograms: exit %d, latency count %g of %d; stderr:\n%s", code, got, want, stderr)
	}
	// A receiver that is not there costs the live metrics, not the run.
	code, _, stderr = run(t, "run", "--target", okServer(t), "-c", "5", "--rate", "5", "--ramp", "200ms", "--warmup", "500ms", "-d", "1s",
		"--prom-remote-write", "http://127.0.0.1:1/api/v1/write")
	if code != exitPass || !strings.Contains(stderr, "live-metric pushes to http://127.0.0.1:1/api/v1/write failed") {
		t.Errorf("an absent receiver: exit %d, stderr:\n%s", code, stderr)
	}
}

// startPrometheus starts Debian's prometheus on a free loopback port with
// its remote-write receiver, and returns its address.
func startPrometheus(t *testing.T, bin string, flags ...string) string {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, []byte("global:\n  scrape_interval: 1m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	prom := exec.Command(bin, append([]string{"--config.file=" + conf, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr, "--web.enable-remote-write-receiver"}, flags...)...)
	var promLog bytes.Buffer
	prom.Stdout, prom.Stderr = &promLog, &promLog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prom.Process.Kill(); prom.Wait() })
	for i := 0; ; i++ {
		if resp, err := http.Get("http://" + addr + "/-/ready"); err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			return addr
		}
		if i > 100 {
			t.Fatalf("prometheus did not get ready:\n%s", promLog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// promQuery runs an instant query and returns its first value.
func promQuery(addr, q string) (float64, bool) {
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Result) == 0 || len(r.Data.Result[0].Value) < 2 {
		return 0, false
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// waitQuery asks q until it gives want, for up to 5 s (the last push may
// still be on its way), and returns the last answer.
func waitQuery(addr, q string, want int64) float64 {
	var got float64
	for i := 0; i < 50; i++ {
		if v, ok := promQuery(addr, q); ok {
			if got = v; int64(v) == want {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return got
}

// nativeCount is the largest count of the native histograms an instant
// query returns (one series per phase: the last phase's counts them all),
// or -1.
func nativeCount(addr, q string) int64 {
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct {
				Histogram []json.RawMessage `json:"histogram"`
			} `json:"result"`
		} `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil {
		return -1
	}
	most := int64(-1)
	for _, res := range r.Data.Result {
		var h struct {
			Count string `json:"count"`
		}
		if len(res.Histogram) < 2 || json.Unmarshal(res.Histogram[1], &h) != nil {
			continue
		}
		if n, err := strconv.ParseInt(h.Count, 10, 64); err == nil {
			most = max(most, n)
		}
	}
	return most
}
