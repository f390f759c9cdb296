package observe

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseStatus(t *testing.T) {
	in := "127.0.0.1\nServerVersion: Apache/2.4.68 (Debian)\nServerMPM: event\nTotal Accesses: 42\n" +
		"BusyWorkers: 3\nIdleWorkers: 47\nProcesses: 2\nConnsTotal: 5\nConnsAsyncKeepAlive: 2\n" +
		"Scoreboard: __W_K..\n" +
		// mod_ssl's session cache section, with its title line
		"TLSSessionCacheStatus\nCacheType: SHMCB\nCacheSharedMemory: 512000\n"
	s, err := ParseStatus(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if s.BusyWorkers != 3 || s.IdleWorkers != 47 || s.TotalAccesses != 42 || s.ConnsTotal != 5 || s.ServerMPM != "event" {
		t.Errorf("got %+v", s)
	}
	if s.Scoreboard["_"] != 3 || s.Scoreboard["."] != 2 || s.Scoreboard["K"] != 1 {
		t.Errorf("got scoreboard %v, want 3 _, 2 ., 1 K", s.Scoreboard)
	}
	if s.ConnsAsyncWriting != -1 {
		t.Errorf("got ConnsAsyncWriting %d, want -1 when absent", s.ConnsAsyncWriting)
	}
	if _, err := ParseStatus(strings.NewReader("x\nBusyWorkers: 1\nnot a status line\n")); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("got %v, want an error naming line 3", err)
	}
	if _, err := ParseStatus(strings.NewReader("x\nBusyWorkers: many\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("got %v, want an error naming line 2", err)
	}
	if _, err := ParseStatus(strings.NewReader("<html>not status</html>\n")); err == nil {
		t.Error("got no error for HTML")
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add("127.0.0.1\nBusyWorkers: 1\nScoreboard: _W\n")
	f.Add("Total Accesses: 99999999999999999999\n")
	f.Fuzz(func(t *testing.T, in string) {
		_, _ = ParseStatus(strings.NewReader(in)) // must not panic
	})
}

func TestSamplerFirstReadingBeforeReturn(t *testing.T) {
	var busy atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := busy.Add(10)
		fmt.Fprintf(w, "127.0.0.1\nTotal Accesses: %d\nBusyWorkers: %d\nIdleWorkers: 5\n", n, n)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	s := StartSampler(ctx, srv.URL+"/server-status?auto", 20*time.Millisecond, Probe{})
	if busy.Load() == 0 {
		t.Fatal("StartSampler returned before its first reading: load could take the held worker")
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	st := s.Wait()
	if st.Samples < 2 || st.FailedSamples != 0 || st.PeakBusy < 20 || st.AccessesAtEnd <= st.AccessesAtStart {
		t.Errorf("got %+v, want several samples, rising peak and accesses", st)
	}
}

// The last reading, taken after the load while the client closes its
// connections, counts httpd's requests but not its busy workers: closing
// 4000 connections showed 1268 "C" workers in a run whose load never
// kept more than 53 busy.
func TestSamplerPeakExcludesClosingReading(t *testing.T) {
	var closing atomic.Bool
	var accesses atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		busy := 3
		if closing.Load() {
			busy = 900
		}
		fmt.Fprintf(w, "127.0.0.1\nTotal Accesses: %d\nBusyWorkers: %d\nIdleWorkers: 5\nProcesses: 2\n", accesses.Add(7), busy)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	s := StartSampler(ctx, srv.URL+"/server-status?auto", 20*time.Millisecond, Probe{})
	time.Sleep(60 * time.Millisecond)
	cancel()
	closing.Store(true)
	st := s.Wait()
	if st.PeakBusy != 3 {
		t.Errorf("peak busy %d, want 3: the closing reading must not count", st.PeakBusy)
	}
	last := st.Points[len(st.Points)-1]
	if last.BusyWorkers != 900 || st.AccessesAtEnd != last.TotalAccesses {
		t.Errorf("last point %+v, accesses at end %d: the closing reading must still be kept and count requests", last, st.AccessesAtEnd)
	}
}

// The reading after the load, taken while the client closes its
// connections, must not set the memory at the end (memory per connection
// is growth while the load is held) nor the accept-queue peak: both come
// from readings while the load is held.
func TestSamplerEndFiguresFromTheLoad(t *testing.T) {
	dir := t.TempDir()
	proc, root := filepath.Join(dir, "proc"), filepath.Join(dir, "cg")
	cgDir := filepath.Join(root, "lc")
	for path, text := range map[string]string{
		filepath.Join(proc, "7", "cgroup"):     "0::/lc\n",
		filepath.Join(cgDir, "memory.current"): "104857600\n", filepath.Join(cgDir, "cpu.stat"): "usage_usec 1000\n",
		filepath.Join(cgDir, "memory.events"): "oom_kill 0\n",
		filepath.Join(dir, "tcp"):             "  sl  local_address rem_address   st tx_queue rx_queue\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000007 00:00000000 00000000\n",
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cg, err := CgroupOf(proc, root, 7)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "127.0.0.1\nTotal Accesses: 1\nBusyWorkers: 3\nIdleWorkers: 5\n")
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	s := StartSampler(ctx, srv.URL+"/server-status?auto", 20*time.Millisecond, Probe{Cgroup: cg, NetTCP: filepath.Join(dir, "tcp"), Port: 8080})
	time.Sleep(60 * time.Millisecond)
	cancel()
	<-s.done // no reading under load after this
	// The client closes its connections: memory falls, the queue fills.
	os.WriteFile(filepath.Join(cgDir, "memory.current"), []byte("10485760\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "tcp"), []byte("  sl  local_address rem_address   st tx_queue rx_queue\n   0: 0100007F:1F90 00000000:0000 0A 00000000:000001FF 00:00000000 00000000\n"), 0o644)
	st := s.Wait()
	if st.MemoryAtEnd != 100<<20 || st.PeakAcceptQueue != 7 {
		t.Errorf("memory at end %d, accept queue peak %d; want %d and 7, from the readings under load", st.MemoryAtEnd, st.PeakAcceptQueue, 100<<20)
	}
	if last := st.Points[len(st.Points)-1]; last.MemoryMB != 10 || last.AcceptQueue != 511 {
		t.Errorf("last point %+v: the closing reading must still be in the series", last)
	}
}

// A stop and a start during the load (rollout --how stop-start) makes a
// new httpd that counts its requests from 0: the sampler adds the earlier
// httpd's count. Processes that leave the cgroup's httpd processes count
// as ended; other processes there (a command run in the container) do not.
func TestSamplerAcrossARestart(t *testing.T) {
	cg, _, cgDir := fakeCgroup(t, map[string]string{"7": "httpd", "8": "apache2", "9": "sh", "10": "httpd"})
	// Readings: 10, 20, 30 requests; then a new httpd: 5, 15, 15...
	counts := []int64{10, 20, 30, 5, 15}
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i == 1 { // from the next reading: 8 (httpd) and 9 (sh) gone, 10 new
			os.WriteFile(filepath.Join(cgDir, "cgroup.procs"), []byte("7\n10\n"), 0o644)
		}
		// CPU: 1 ms, 2 ms, 3 ms; the container starts again: 1 ms, 2 ms.
		os.WriteFile(filepath.Join(cgDir, "cpu.stat"), []byte(fmt.Sprintf("usage_usec %d\n", []int{2000, 3000, 1000, 2000, 2000}[min(i, 4)])), 0o644)
		fmt.Fprintf(w, "127.0.0.1\nTotal Accesses: %d\nBusyWorkers: 1\nIdleWorkers: 5\n", counts[min(i, len(counts)-1)])
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	s := StartSampler(ctx, srv.URL+"/server-status?auto", 20*time.Millisecond, Probe{Cgroup: cg})
	for n.Load() < int64(len(counts)) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	st := s.Wait()
	if got := st.AccessesAtEnd - st.AccessesAtStart; got != 35 {
		t.Errorf("httpd counted %d requests over the restart, want 20 + 15 = 35 (points %+v)", got, st.Points)
	}
	if st.CPUNanos != 4e6 {
		t.Errorf("CPU %d ns over the restart, want 4 ms (1 to 3 ms, then 0 to 2 ms)", st.CPUNanos)
	}
	if st.ProcessesEnded != 1 {
		t.Errorf("%d processes ended, want 1: apache2 8 ended, sh 9 is not httpd's", st.ProcessesEnded)
	}
}

// TestParseProtocols reads a real event server's HTML status page taken
// under an h2c load (100 connections, 4 streams): the workers' table
// follows event's process table, whose headers must not shift the
// Protocol column; the few http/1.1 slots are the status reads.
func TestParseProtocols(t *testing.T) {
	f, err := os.Open("testdata/status-h2c.html")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ParseProtocols(f)
	if err != nil || got["h2c"] < 300 || got["http/1.1"] < 1 || got["http/1.1"] > 5 || len(got) != 2 {
		t.Errorf("got %v, %v: want about 300 h2c slots and a few http/1.1", got, err)
	}
	if _, err := ParseProtocols(strings.NewReader("<html><table><tr><th>Srv</th></tr></table>")); err == nil || !strings.Contains(err.Error(), "no Protocol column") {
		t.Errorf("a page without the column: %v", err)
	}
}

// TestSamplerThreads: with Probe.Threads the sampler reads each httpd
// process's threads at every reading: the most in one process at the
// first reading, and the most at any reading under the load. The final
// reading (the client closing) and non-httpd processes do not count.
func TestSamplerThreads(t *testing.T) {
	cg, proc, _ := fakeCgroup(t, map[string]string{"7": "apache2", "8": "apache2", "9": "sh"})
	threads := func(pid string, n int) {
		writeFile(t, filepath.Join(proc, pid, "status"), fmt.Sprintf("Name:\tapache2\nState:\tS (sleeping)\nThreads:\t%d\nVmRSS:\t1 kB\n", n))
	}
	threads("7", 1)
	threads("8", 28)
	threads("9", 500) // not httpd's
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Threads read before this answer: 28, then 35, 41, 33.
		switch n.Add(1) {
		case 1:
			threads("8", 35)
		case 2:
			threads("8", 41)
		case 3:
			threads("8", 33)
		}
		fmt.Fprintf(w, "Total Accesses: 1\nBusyWorkers: 1\nIdleWorkers: 5\n")
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	s := StartSampler(ctx, srv.URL+"/server-status?auto", 20*time.Millisecond, Probe{Cgroup: cg, Threads: true})
	for n.Load() < 4 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	threads("8", 90) // the final reading does not count
	st := s.Wait()
	if st.ThreadsAtStart != 28 || st.PeakThreads != 41 {
		t.Errorf("threads at start %d, peak %d; want 28 and 41", st.ThreadsAtStart, st.PeakThreads)
	}
	// mod_status gave no Processes (prefork, worker); the cgroup's two
	// httpd processes are in every reading.
	for _, pt := range st.Points {
		if pt.Processes != -1 || pt.HTTPDProcesses != 2 {
			t.Fatalf("reading %+v: want Processes -1 (mod_status's) and HTTPDProcesses 2 (the cgroup's)", pt)
		}
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	s = StartSampler(ctx, srv.URL+"/server-status?auto", time.Hour, Probe{Cgroup: cg})
	if st := s.stats; st.ThreadsAtStart != -1 || st.PeakThreads != -1 {
		t.Errorf("without Probe.Threads: threads %d and %d, want -1 (not read)", st.ThreadsAtStart, st.PeakThreads)
	}
}

// fakeCgroup is a cgroup v2 folder and a proc folder for processes
// (PID: command name), all in the cgroup, 7 the first: c, the proc
// folder, and the cgroup's folder.
func fakeCgroup(t *testing.T, procs map[string]string) (c *Cgroup, proc, cgDir string) {
	dir := t.TempDir()
	proc, root := filepath.Join(dir, "proc"), filepath.Join(dir, "cg")
	cgDir = filepath.Join(root, "lc")
	writeFile(t, filepath.Join(proc, "7", "cgroup"), "0::/lc\n")
	for pid, comm := range procs {
		writeFile(t, filepath.Join(proc, pid, "comm"), comm+"\n")
	}
	for name, text := range map[string]string{"memory.current": "1048576\n", "cpu.stat": "usage_usec 1000\n", "memory.events": "oom_kill 0\n", "cgroup.procs": "7\n8\n9\n"} {
		writeFile(t, filepath.Join(cgDir, name), text)
	}
	c, err := CgroupOf(proc, root, 7)
	if err != nil {
		t.Fatal(err)
	}
	return c, proc, cgDir
}

// TestSamplerProcsUnreadable: a reading whose cgroup.procs cannot be read
// says its process count is unknown (0), not the last one read, which
// would look unchanged to the settler's "same processes" rules; nor are
// the processes of the last reading counted as ended.
func TestSamplerProcsUnreadable(t *testing.T) {
	cg, _, cgDir := fakeCgroup(t, map[string]string{"7": "apache2", "8": "apache2"})
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 2 { // the processes are read before each answer: readings 3 on cannot
			if err := os.Remove(filepath.Join(cgDir, "cgroup.procs")); err != nil {
				t.Error(err)
			}
		}
		fmt.Fprintf(w, "Total Accesses: 1\nBusyWorkers: 1\nIdleWorkers: 5\n")
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	s := StartSampler(ctx, srv.URL+"/server-status?auto", 20*time.Millisecond, Probe{Cgroup: cg})
	for n.Load() < 4 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	st := s.Wait()
	if len(st.Points) < 4 {
		t.Fatalf("%d readings, want at least 4", len(st.Points))
	}
	for i, pt := range st.Points {
		if want := map[bool]int{true: 2, false: 0}[i < 2]; pt.HTTPDProcesses != want {
			t.Errorf("reading %d: %d httpd processes, want %d", i+1, pt.HTTPDProcesses, want)
		}
	}
	if st.ProcessesEnded != 0 {
		t.Errorf("%d processes ended, want 0: none could be seen gone", st.ProcessesEnded)
	}
}
