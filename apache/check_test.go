package apache

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestCheckPresets(t *testing.T) {
	for _, name := range PresetNames() {
		cfg, err := Preset(name, 4000)
		if err != nil {
			t.Fatal(err)
		}
		fs := cfg.Check(4000)
		tuned := strings.HasSuffix(name, "-tuned")
		for _, f := range fs {
			if f.Error {
				t.Errorf("%s: preset contradicts itself: %s", name, f)
			}
		}
		if tuned && len(fs) != 0 {
			t.Errorf("%s: got %v, want no finding at 4000", name, fs)
		}
		if !tuned && len(fs) != 1 {
			t.Errorf("%s: got %v, want one warning that it cannot reach 4000", name, fs)
		}
	}
}

func TestCheckContradictions(t *testing.T) {
	tests := []struct {
		mpm  string
		set  []Directive
		want string
	}{
		{"worker", []Directive{{"ThreadsPerChild", "100"}, {"ThreadLimit", "64"}}, "ThreadsPerChild 100 is above ThreadLimit 64"},
		{"event", []Directive{{"ServerLimit", "10"}, {"ThreadsPerChild", "25"}, {"MaxRequestWorkers", "4000"}}, "above ServerLimit x ThreadsPerChild = 10 x 25 = 250"},
		{"prefork", []Directive{{"ServerLimit", "100"}, {"MaxRequestWorkers", "200"}}, "MaxRequestWorkers 200 is above ServerLimit 100"},
		{"event", []Directive{{"MaxRequestWorkers", "many"}}, `MaxRequestWorkers "many" is not a whole number`},
	}
	for _, tc := range tests {
		cfg := Config{Name: "mine", MPM: tc.mpm, Directives: tc.set}
		var errs []string
		for _, f := range cfg.Check(100) {
			if f.Error {
				errs = append(errs, f.Msg)
			}
		}
		if len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), tc.want) {
			t.Errorf("%s %v: got errors %q, want %q", tc.mpm, tc.set, errs, tc.want)
		}
	}
	// Event's async keep-alive: 400 workers x (2 + 1) = 1200 connections.
	ev := Config{Name: "ev", MPM: "event"}
	if fs := ev.Check(1200); len(fs) != 0 {
		t.Errorf("event defaults at 1200: %v, want none", fs)
	}
	if fs := ev.Check(1201); len(fs) != 1 || !strings.Contains(fs[0].Msg, "about 1200") {
		t.Errorf("event defaults at 1201: %v, want a warning naming 1200", fs)
	}
}

func TestUserConfig(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/httpd.conf"
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("LoadModule mpm_worker_module modules/mod_mpm_worker.so\n<IfModule mpm_worker_module>\n  ThreadsPerChild 100\n  MaxClients 300\n</IfModule>\n")
	cfg, err := UserConfig("mine", path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := cfg.Get("MaxRequestWorkers"); cfg.MPM != "worker" || cfg.File != path || v != "300" {
		t.Errorf("got %+v, want worker, the path, and MaxClients read as MaxRequestWorkers 300", cfg)
	}
	if fs := cfg.Check(100); len(fs) == 0 || !fs[0].Error || !strings.Contains(fs[0].Msg, "ThreadsPerChild 100 is above ThreadLimit 64") {
		t.Errorf("Check: %v, want the ThreadLimit contradiction", fs)
	}
	write("LoadModule mpm_worker_module a.so\nLoadModule mpm_event_module b.so\n")
	if _, err := UserConfig("mine", path); err == nil || !strings.Contains(err.Error(), "2 MPM modules") {
		t.Errorf("got %v, want an error about two MPMs", err)
	}
	if _, err := UserConfig("mine", dir+"/missing.conf"); err == nil || !strings.Contains(err.Error(), "missing.conf") {
		t.Errorf("got %v, want an error naming the file", err)
	}
	if _, err := UserConfig("my conf", path); err == nil {
		t.Error("a name with a space was accepted")
	}
}

// TestEventSpareFix: the article's tuned event config at 4000 connections
// needs MaxSpareThreads at its MaxRequestWorkers and the processes for
// 4400 connections (96 each: 32 threads x 3) started up front: 46. A
// config that has both, or another MPM, needs nothing.
func TestEventSpareFix(t *testing.T) {
	tuned, _ := Preset("event-tuned", 4000)
	s, ok := EventSpareFix(tuned, 4000)
	want := []Directive{{Name: "MaxSpareThreads", Value: "8000"}, {Name: "StartServers", Value: "46"}}
	if !ok || !slices.Equal(s.Directives, want) || !strings.Contains(s.Why, "96 each") {
		t.Fatalf("EventSpareFix(event-tuned, 4000) = %v %v (%s), want %v", ok, s.Directives, s.Why, want)
	}
	for _, d := range want {
		tuned.Set(d)
	}
	if s, ok := EventSpareFix(tuned, 4000); ok {
		t.Errorf("the fixed config got %v", s.Directives)
	}
	worker, _ := Preset("worker-tuned", 4000)
	if _, ok := EventSpareFix(worker, 4000); ok {
		t.Error("worker got an event fix")
	}
	// AsyncRequestWorkerFactor 4: 160 connections a process, 28 of them.
	tuned.Set(Directive{Name: "StartServers", Value: "10"})
	tuned.Set(Directive{Name: "AsyncRequestWorkerFactor", Value: "4"})
	if s, _ := EventSpareFix(tuned, 4000); !slices.Equal(s.Directives, []Directive{{Name: "StartServers", Value: "28"}}) {
		t.Errorf("factor 4: %v, want StartServers 28", s.Directives)
	}
}
