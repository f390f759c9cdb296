package containers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/scenarios"
)

func TestRenderPerLayout(t *testing.T) {
	tests := []struct {
		layout Layout
		config string
		want   []string
	}{
		{Official, "event-tuned", []string{
			`ServerRoot "/usr/local/apache2"`,
			"LoadModule mpm_event_module /usr/local/apache2/modules/mod_mpm_event.so",
			"LoadModule status_module /usr/local/apache2/modules/mod_status.so",
			"ThreadsPerChild 32", "MaxRequestWorkers 8000", "ServerLimit 250",
			"<IfModule mpm_event_module>\n  LogLevel mpm_event:trace1\n</IfModule>",
		}},
		{Debian, "prefork-stock", []string{
			`ServerRoot "/etc/apache2"`,
			"LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so",
			"<IfModule !unixd_module>",
			"MaxRequestWorkers 150", "StartServers 5",
		}},
		{Debian, "worker-stock", []string{
			"LoadModule mpm_worker_module /usr/lib/apache2/modules/mod_mpm_worker.so",
			"ThreadsPerChild 25", "MaxRequestWorkers 150",
		}},
	}
	for _, tc := range tests {
		cfg, err := scenarios.Preset(tc.config, 4000)
		if err != nil {
			t.Fatal(err)
		}
		conf := Render(cfg, tc.layout, "127.0.0.1:8080")
		common := []string{"Listen 127.0.0.1:8080", "KeepAlive On", "ExtendedStatus On",
			"SetHandler server-status", "ErrorLog /proc/self/fd/2", "DocumentRoot \"/loadcheck-htdocs\""}
		for _, want := range append(tc.want, common...) {
			if !strings.Contains(conf, want+"\n") {
				t.Errorf("%s/%s: httpd.conf lacks %q; got:\n%s", tc.layout.Name, tc.config, want, conf)
			}
		}
		// Exactly one MPM, and no Include of the image's own files.
		if n := strings.Count(conf, "LoadModule mpm_"); n != 1 {
			t.Errorf("%s/%s: %d MPM LoadModule lines, want 1", tc.layout.Name, tc.config, n)
		}
		if strings.Contains(conf, "Include") {
			t.Errorf("%s/%s: config includes another file; it must be self-contained", tc.layout.Name, tc.config)
		}
		other := Official
		if tc.layout.Name == "official" {
			other = Debian
		}
		if strings.Contains(conf, other.ModulesDir) {
			t.Errorf("%s/%s: mentions the other layout's %s", tc.layout.Name, tc.config, other.ModulesDir)
		}
	}
}

func TestLayoutByName(t *testing.T) {
	if l, err := LayoutByName("official"); err != nil || l.Binary != "/usr/local/apache2/bin/httpd" {
		t.Errorf("official: got %+v, %v", l, err)
	}
	if l, err := LayoutByName("debian"); err != nil || l.Binary != "/usr/sbin/apache2" {
		t.Errorf("debian: got %+v, %v", l, err)
	}
	if _, err := LayoutByName("alpine"); err == nil || !strings.Contains(err.Error(), "official") {
		t.Errorf("alpine: got %v, want an error listing the layouts", err)
	}
}

func TestParseStatus(t *testing.T) {
	in := "127.0.0.1\nServerVersion: Apache/2.4.68 (Debian)\nServerMPM: event\nTotal Accesses: 42\n" +
		"BusyWorkers: 3\nIdleWorkers: 47\nProcesses: 2\nConnsTotal: 5\nConnsAsyncKeepAlive: 2\n" +
		"Scoreboard: __W_K..\n"
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

func TestRenderUserFile(t *testing.T) {
	text := "ServerRoot /etc/apache2\n  Listen 80\nListen [::]:8080 http\nDocumentRoot /srv\n"
	cfg := scenarios.Config{Name: "mine", MPM: "event", File: "/home/me/httpd.conf", FileText: text}
	conf := Render(cfg, Debian, "127.0.0.1:9999")
	lines := strings.Split(conf, "\n")
	if lines[0] != "ServerRoot /etc/apache2" || lines[1] != "  # loadcheck replaced: Listen 80" || lines[2] != "# loadcheck replaced: Listen [::]:8080 http" || lines[3] != "DocumentRoot /srv" {
		t.Errorf("the user's lines moved or changed beyond Listen:\n%s", strings.Join(lines[:4], "\n"))
	}
	for _, want := range []string{"Listen 127.0.0.1:9999", "LoadModule status_module /usr/lib/apache2/modules/mod_status.so",
		"ExtendedStatus On", "SetHandler server-status", "/home/me/httpd.conf",
		"<IfModule mpm_event_module>\n  LogLevel mpm_event:trace1\n</IfModule>"} {
		if !strings.Contains(conf, want) {
			t.Errorf("rendered user config lacks %q", want)
		}
	}
	if strings.Count(conf, "\nListen ") != 1 {
		t.Errorf("want exactly one active Listen:\n%s", conf)
	}
}
