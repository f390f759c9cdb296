package containers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadcheck/loadcheck/results"
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
	if d := c.Sub(results.ListenCounters{Overflows: 7, Drops: 9}); d.Overflows != 10 || d.Drops != 10 {
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
