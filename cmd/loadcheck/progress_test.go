package main

import (
	"bytes"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/bench"
)

func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, live: true}
	p.update("[2/6 event-tuned]", bench.Progress{Phase: bench.PhaseRamp, Elapsed: time.Second, Open: 1000, OK: 500})
	// Another config's load between the two (capacity's side by side):
	// each label's requests per second are its own.
	p.update("[1/6 event-stock]", bench.Progress{Phase: bench.PhaseRamp, Elapsed: 2 * time.Second, Open: 300, OK: 100})
	p.update("[2/6 event-tuned]", bench.Progress{Phase: bench.PhaseMeasure, Elapsed: 3 * time.Second, Left: 9 * time.Second, Open: 4000, OK: 8500, Failed: 7})
	last := b.String()[strings.LastIndex(b.String(), "\r"):]
	if want := "[2/6 event-tuned] measure [###---------]   9s left  open 4000  4000 req/s  ok 8500  errors 7"; !strings.Contains(last, want) {
		t.Errorf("progress line %q, want %q", last, want)
	}
	p.logf("a log line")
	if !strings.HasSuffix(b.String(), "\r\033[Kloadcheck: a log line\n") {
		t.Errorf("a log line must first clear the live line: %q", b.String())
	}
	// Not a terminal, or CI: no live line at all.
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if newProgress(f, false).live {
		t.Error("live progress on a file")
	}
	q := &progress{w: &b}
	before := b.Len()
	q.update("[1/1 x]", bench.Progress{OK: 1})
	if b.Len() != before {
		t.Error("a non-live progress wrote a status line")
	}
}

func TestBuildVersion(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "3f2a9c1b7e44aa00bb11cc22dd33ee44ff556677"}, {Key: "vcs.time", Value: "2026-11-27T03:40:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	for _, tc := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{bi, "dev (3f2a9c1b7e44+dirty, 2026-11-27T03:40:00Z)"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}}, "v1.2.0"},
		{nil, "dev"},
	} {
		if got := buildVersion(tc.bi, "dev"); got != tc.want {
			t.Errorf("buildVersion = %q, want %q", got, tc.want)
		}
	}
}
