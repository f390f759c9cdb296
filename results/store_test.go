package results_test

import (
	"bytes"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/loadcheck/loadcheck/internal/testfix"
	"github.com/loadcheck/loadcheck/results"
)

func TestSaveAndReadRun(t *testing.T) {
	f := testfix.Fixture()
	dir, err := results.CreateRunDir(filepath.Join(t.TempDir(), "results"), f.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Save(dir); err != nil {
		t.Fatal(err)
	}
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := "event-tuned.hlog event-tuned.httpd.conf event-tuned.series.csv mine.series.csv prefork-stock.hlog prefork-stock.httpd.conf prefork-stock.series.csv result.json"
	if strings.Join(names, " ") != want {
		t.Errorf("run folder holds\n  %s\nwant\n  %s", strings.Join(names, " "), want)
	}
	back, err := results.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Runs) != 3 || back.Runs[1].Connections.Starved != 50 || back.Scenario.Load.Connections != 200 {
		t.Fatalf("read back %+v", back.Runs)
	}
	for i := 0; i < 2; i++ {
		if !back.Runs[i].Hist.Equals(f.Runs[i].Hist) {
			t.Errorf("%s: the histogram read from its .hlog differs from the one saved", f.Runs[i].Config)
		}
	}
	if back.Runs[2].Hist != nil {
		t.Errorf("the config that never ran has a histogram")
	}
	conf, _ := os.ReadFile(filepath.Join(dir, "event-tuned.httpd.conf"))
	if string(conf) != f.Runs[0].HTTPDConf {
		t.Errorf("httpd.conf: %q", conf)
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "prefork-stock.series.csv"))
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	if len(lines) != 12 || !strings.HasPrefix(lines[0], "second,phase,open,ok") {
		t.Fatalf("series.csv has %d lines: %q", len(lines), lines[0])
	}
	// second 6: measure phase, 150 open, 94+12 errors, busy min(6*20,150)=120, memory 60+12.
	if lines[6] != "6,measure,150,150,0,0,106,4.5,120,0,3,-1,72,0.6,0" {
		t.Errorf("series.csv second 6: %q", lines[6])
	}

	// A run folder is never overwritten.
	if _, err := results.CreateRunDir(filepath.Dir(dir), f.RunID); err == nil || !strings.Contains(err.Error(), "never overwritten") {
		t.Errorf("second CreateRunDir: %v", err)
	}
	// Nor is a result file read from: a damaged one gives its place.
	path := filepath.Join(dir, results.ResultFile)
	data, _ := os.ReadFile(path)
	cut := data[:len(data)/2]
	if err := os.WriteFile(path, cut, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := results.ReadRun(dir); err == nil || !strings.Contains(err.Error(), "result.json: not a loadcheck result (damaged or cut short?)") {
		t.Errorf("cut file: %v", err)
	}
	if err := os.WriteFile(path, []byte("{\n  \"schema\": \"loadcheck.result/v1\",\n  \"runs\": 7\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := results.ReadRun(dir); err == nil || !strings.Contains(err.Error(), "line 3, column") {
		t.Errorf("wrong type: %v", err)
	}
	if err := os.WriteFile(path, bytes.Replace(data, []byte(results.Schema), []byte("loadcheck.result/v9"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := results.ReadRun(dir); err == nil || !strings.Contains(err.Error(), `schema "loadcheck.result/v9", but this loadcheck`) {
		t.Errorf("newer schema: %v", err)
	}
	if err := os.WriteFile(path, []byte(`{"schema": "k6/summary"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := results.ReadRun(dir); err == nil || !strings.Contains(err.Error(), "not a loadcheck result: schema \"k6/summary\"") {
		t.Errorf("other tool: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "event-tuned.hlog"), []byte("garbage,1,2,@@@\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := results.ReadRun(dir); err == nil || !strings.Contains(err.Error(), "event-tuned.hlog") {
		t.Errorf("damaged hlog: %v", err)
	}
}

// The .hlog file is HdrHistogram's interval log: a header any of its tools
// reads, then one tagged interval covering the measured window.
// A config run several times keeps every repeat's files beside its
// median repeat's, and reads them all back.
func TestSaveAndReadRepeats(t *testing.T) {
	f := testfix.RepeatFixture()
	dir, err := results.CreateRunDir(t.TempDir(), f.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Save(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"event-tuned.hlog", "event-tuned.r1.hlog", "event-tuned.r3.series.csv", "prefork-stock.r2.httpd.conf"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	back, err := results.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := back.Runs[0]
	if r.Verdict != results.Flaky || r.Spread == nil || r.Spread.Passed != 2 || len(r.Repeats) != 3 || r.Hist == nil {
		t.Fatalf("read back verdict %s, spread %+v, %d repeats, hist %v", r.Verdict, r.Spread, len(r.Repeats), r.Hist != nil)
	}
	for _, rep := range r.Repeats {
		if rep.Hist == nil || rep.Hist.TotalCount() != f.Runs[0].Hist.TotalCount() {
			t.Errorf("repeat %d: histogram not read back", rep.Repeat)
		}
	}
}

func TestHLogFormat(t *testing.T) {
	r := testfix.Fixture().Runs[0]
	var b bytes.Buffer
	if err := results.WriteHLog(&b, r); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{"#[Histogram log format version 1.3]", "#[StartTime: 1795672800 (seconds since epoch), 2026-11-26T06:00:00Z]",
		"\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"", "Tag=event-tuned,5.000000,5.000000,"} {
		if !strings.Contains(text, want) {
			t.Errorf("hlog lacks %q:\n%s", want, text)
		}
	}
	path := filepath.Join(t.TempDir(), "x.hlog")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := results.ReadHLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Equals(r.Hist) || h.TotalCount() != 1999 {
		t.Errorf("round trip: count %d, equal %v", h.TotalCount(), h.Equals(r.Hist))
	}
}

// A reader never sees half a file, even while the file is rewritten.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "result.json")
	a := bytes.Repeat([]byte("a"), 1<<20)
	b := bytes.Repeat([]byte("b"), 2<<20)
	if err := results.WriteFileAtomic(path, a); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil {
		t.Fatal(err)
	} else if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want -rw-r--r-- like a shell redirect", st.Mode().Perm())
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	bad := make(chan string, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := os.ReadFile(path)
			if err != nil || !(bytes.Equal(got, a) || bytes.Equal(got, b)) {
				select {
				case bad <- "a reader saw a half-written file":
				default:
				}
				return
			}
		}
	}()
	for i := 0; i < 40; i++ {
		data := a
		if i%2 == 0 {
			data = b
		}
		if err := results.WriteFileAtomic(path, data); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case msg := <-bad:
		t.Fatal(msg)
	default:
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %d entries", len(entries))
	}
	// A failed write leaves the old file as it was.
	if err := results.WriteFileAtomic(filepath.Join(dir, "missing", "x.json"), a); err == nil {
		t.Error("writing into a missing folder succeeded")
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, a) {
		t.Error("the last complete write is not what is on disk")
	}
}

// FuzzParseJSON: no result file, however damaged, makes the reader panic.
func FuzzParseJSON(f *testing.F) {
	var b bytes.Buffer
	if err := results.WriteIndented(&b, testfix.Fixture()); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add([]byte(`{"schema":"loadcheck.result/v1","runs":[{"latency_ms":{"p99":"x"}}]}`))
	f.Add([]byte(`{"schema":"loadcheck.result/v2"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = results.ParseJSON("fuzz.json", data)
	})
}

// A write that fails (here: past the process's file-size limit) leaves the
// old file as it was and no temporary file behind.
func TestWriteFileAtomicFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "result.json")
	old := []byte("the old result\n")
	if err := results.WriteFileAtomic(path, old); err != nil {
		t.Fatal(err)
	}
	signal.Ignore(syscall.SIGXFSZ) // a write past the limit fails with EFBIG instead
	defer signal.Reset(syscall.SIGXFSZ)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	small := lim
	small.Cur = 4096
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &small); err != nil {
		t.Fatal(err)
	}
	err := results.WriteFileAtomic(path, bytes.Repeat([]byte("n"), 1<<20))
	if rerr := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil {
		t.Fatal("a 1 MB write under a 4 KB file-size limit succeeded")
	}
	if got, rerr := os.ReadFile(path); rerr != nil || !bytes.Equal(got, old) {
		t.Errorf("after the failed write the file holds %q (%v), want the old %q", got, rerr, old)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("folder holds %d entries after the failed write, want only the old file", len(entries))
	}
}
