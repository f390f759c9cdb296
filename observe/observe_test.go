package observe

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestScanErrorLog(t *testing.T) {
	log := "\x01\x00\x00\x00\x00\x00\x00\x7f[Thu Nov 26 02:41:24.1 2026] [mpm_prefork:notice] [pid 1:tid 1] AH00163: Apache/2.4.68 (Debian) configured -- resuming normal operations\n" +
		"[Thu Nov 26 02:41:25.1 2026] [mpm_prefork:error] [pid 1:tid 1] AH00161: server reached MaxRequestWorkers setting, consider raising the MaxRequestWorkers setting\n" +
		"[Thu Nov 26 02:41:26.1 2026] [mpm_prefork:error] [pid 1:tid 1] AH00161: server reached MaxRequestWorkers setting, consider raising the MaxRequestWorkers setting\n" +
		"no code on this line\n"
	got := ScanErrorLog(log)
	if len(got) != 2 || got[0].Code != "AH00161" || got[0].Count != 2 || got[0].Level != "error" || !got[0].Notable() {
		t.Fatalf("got %+v, want AH00161 twice at error first", got)
	}
	if !strings.HasPrefix(got[0].First, "[Thu Nov 26 02:41:25.1 2026] [mpm_prefork:error]") {
		t.Errorf("first line %q", got[0].First)
	}
	if got[1].Code != "AH00163" || got[1].Notable() || !strings.HasPrefix(got[1].First, "[Thu") {
		t.Errorf("got %+v, want AH00163 at notice with the frame header dropped", got[1])
	}
}

func TestReadListenCounters(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "netstat")
	os.WriteFile(good, []byte("TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 3 17 19\nIpExt: InNoRoutes\nIpExt: 0\n"), 0o644)
	c, err := ReadListenCounters(good)
	if err != nil || c.Overflows != 17 || c.Drops != 19 {
		t.Fatalf("got %+v %v, want 17 and 19", c, err)
	}
	if d := c.Sub(ListenCounters{Overflows: 7, Drops: 9}); d.Overflows != 10 || d.Drops != 10 {
		t.Errorf("Sub = %+v", d)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("TcpExt: ListenOverflows\nTcpExt: 1 2\n"), 0o644)
	if _, err := ReadListenCounters(bad); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("got %v, want an error naming the file", err)
	}
	// This machine's own counters parse.
	if _, err := ReadListenCounters("/proc/net/netstat"); err != nil {
		t.Errorf("/proc/net/netstat: %v", err)
	}
}

func TestCgroupV1AndV2(t *testing.T) {
	dir := t.TempDir()
	write := func(path, text string) { writeFile(t, path, text) }
	proc, root := filepath.Join(dir, "proc"), filepath.Join(dir, "cg")
	// cgroup v1, as Docker's cgroupfs driver lays it out.
	write(filepath.Join(proc, "7", "cgroup"), "12:pids:/docker/abc\n4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n0::/\n")
	write(filepath.Join(root, "memory/docker/abc/memory.usage_in_bytes"), "1048576\n")
	write(filepath.Join(root, "memory/docker/abc/memory.max_usage_in_bytes"), "2097152\n")
	write(filepath.Join(root, "memory/docker/abc/memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")
	write(filepath.Join(root, "cpuacct/docker/abc/cpuacct.usage"), "5000000000\n")
	cg, err := CgroupOf(proc, root, 7)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cg.Read()
	if err != nil || s.MemoryBytes != 1<<20 || s.MemoryPeakBytes != 2<<20 || s.CPUNanos != 5e9 || s.OOMKills != 3 {
		t.Fatalf("v1 sample %+v %v", s, err)
	}
	// cgroup v2, unified.
	write(filepath.Join(proc, "8", "cgroup"), "0::/system.slice/docker-def.scope\n")
	d := filepath.Join(root, "system.slice/docker-def.scope")
	write(filepath.Join(d, "memory.current"), "4096\n")
	write(filepath.Join(d, "cpu.stat"), "usage_usec 2500\nuser_usec 2000\n")
	write(filepath.Join(d, "memory.events"), "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
	cg, err = CgroupOf(proc, root, 8)
	if err != nil {
		t.Fatal(err)
	}
	s, err = cg.Read()
	if err != nil || s.MemoryBytes != 4096 || s.MemoryPeakBytes != -1 || s.CPUNanos != 2500000 || s.OOMKills != 1 {
		t.Fatalf("v2 sample %+v %v", s, err)
	}
	if _, err := CgroupOf(proc, root, 9); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

func TestReadAcceptQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tcp")
	os.WriteFile(path, []byte(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:000001FF 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
`), 0o644)
	if n, err := ReadAcceptQueue(path, 8080); err != nil || n != 511 {
		t.Errorf("got %d %v, want 511 waiting on 8080", n, err)
	}
	if _, err := ReadAcceptQueue(path, 9090); err == nil || !strings.Contains(err.Error(), "9090") {
		t.Errorf("got %v, want nothing listening on 9090", err)
	}
	// A real listener on this machine: an accepted-nothing queue of 2.
	ln := listenWithQueue(t, 2)
	port := ln.Addr().(*net.TCPAddr).Port
	if n, err := ReadAcceptQueue("/proc/self/net/tcp", port); err != nil || n != 2 {
		t.Errorf("real listener: got %d %v, want 2 waiting", n, err)
	}
}

// listenWithQueue listens on loopback and leaves n connections unaccepted.
func listenWithQueue(t *testing.T, n int) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	return ln
}

func TestScanEventLog(t *testing.T) {
	log := "\x01\x00\x00\x00\x00\x00\x00\x5d[Thu Nov 26 07:27:50.100000 2026] [mpm_event:trace1] [pid 40:tid 126] event.c(1709): All workers are busy or dying, will shutdown 2 keep-alive connections\n" +
		"[Thu Nov 26 07:27:50.150000 2026] [mpm_event:debug] [pid 40:tid 126] event.c(1961): Too many open connections (97), not accepting new conns in this process\n" +
		"[Thu Nov 26 07:27:50.200000 2026] [mpm_event:trace1] [pid 40:tid 126] event.c(1965): Idle workers: 0\n" +
		"[Thu Nov 26 07:27:50.900000 2026] [mpm_event:trace5] [pid 1:tid 1] event.c(3012): Shutting down one child: active 73/250, total 73/73/250, idle threads 2290, max workers 8000\n" +
		"[Thu Nov 26 07:27:52.900000 2026] [mpm_event:trace5] [pid 1:tid 1] event.c(3012): Not shutting down one child: active 72/250, total 73/73/250, idle threads 2258, max workers 8000\n" +
		"[Thu Nov 26 07:28:31.000000 2026] [mpm_event:debug] [pid 40:tid 126] event.c(1961): Too many open connections (96), not accepting new conns in this process\n" +
		"[Thu Nov 26 07:27:51.000000 2026] [mpm_event:trace1] [pid 175:tid 1548] event.c(1709): All workers are busy, will close 7 keep-alive connections\n" +
		"[Thu Nov 26 07:28:30.000000 2026] [mpm_event:trace5] [pid 1:tid 1] event.c(3012): Shutting down one child: active 70/250, total 71/71/250, idle threads 3000, max workers 8000\n" +
		"[Thu Nov 26 07:28:30.000000 2026] [mpm_event:trace1] [pid 175:tid 1548] event.c(1709): All workers are busy or dying, will shutdown 900 keep-alive connections\n"
	if got, want := ScanEventLog(log, time.Time{}), (EventLog{Shutdowns: 3, Closed: 909, FullRefusals: 2, SpareStops: 2, SpareIdle: 3000}); got != want {
		t.Errorf("no cut-off: got %+v, want %+v", got, want)
	}
	until := time.Date(2026, 11, 26, 7, 28, 0, 0, time.UTC)
	if got, want := ScanEventLog(log, until), (EventLog{Shutdowns: 2, Closed: 9, FullRefusals: 1, SpareStops: 1, SpareIdle: 2290}); got != want {
		t.Errorf("cut-off %s: got %+v, want %+v (the end at 07:28:30 left out; \"Not shutting down\" is no stop)", until, got, want)
	}
}

// FuzzScanErrorLog: no error log, however odd, makes the scanners panic.
func FuzzScanErrorLog(f *testing.F) {
	f.Add("[Thu Nov 26 02:41:25.1 2026] [mpm_prefork:error] [pid 1:tid 1] AH00161: server reached MaxRequestWorkers setting\n")
	f.Add("[Thu Nov 26 07:27:41.675130 2026] [mpm_event:trace1] [pid 9] event.c(1) All workers are busy or dying, will shutdown 99999999999999999999 keep-alive connections\n")
	f.Add("\x01\x00\x00\x00\x00\x00\x00\x7f[mpm_event:debug] Too many open connections (12), not accepting new conns in this process\n")
	f.Add("[mpm_event:trace5] Shutting down one child: active 1/2, total 1/1/2, idle threads 99999999999999999999, max workers 8")
	f.Fuzz(func(t *testing.T, text string) {
		for _, c := range ScanErrorLog(text) {
			if c.Count < 1 || c.Code == "" {
				t.Fatalf("code %+v", c)
			}
		}
		if ev := ScanEventLog(text, time.Time{}); ev.Shutdowns < 0 || ev.Closed < 0 || ev.FullRefusals < 0 || ev.SpareStops < 0 || ev.SpareIdle < 0 {
			t.Fatalf("negative counts %+v", ev)
		}
	})
}

// writeFile writes text to path, making its folders.
func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
