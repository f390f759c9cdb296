package report

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/capacity"
	"github.com/loadcheck/loadcheck/internal/testfix"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

func capacityFixture() *capacity.File {
	f := testfix.Fixture()
	b := scenarios.Capacity{Start: 250, Max: 2000, PrecisionPct: 10, Budget: time.Hour, HostMemory: 4 << 30}
	out := &capacity.File{Header: results.Header{Schema: capacity.Schema, RunID: "cap-1", StartedAt: f.StartedAt, Complete: true,
		Scenario: f.Scenario, Environment: f.Environment}, ElapsedS: 600, Search: b}
	for i, name := range []string{"event-stock", "event-tuned"} {
		cfg, _ := apache.Preset(name, 4000)
		cc := capacity.Search(context.Background(), cfg, b, f.Scenario.Thresholds, testfix.FakeServer([]int{450, 1700}[i], 0), testfix.Always, nil)
		cc.Costs()
		cc.Project(4<<30, 2, 1)
		if s := cc.Suggest(4000); s != nil {
			cc.Suggestion = s
			r := testfix.Fixture().Runs[0]
			s.Confirm, s.Verdict = &r, r.Verdict
		}
		out.Configs = append(out.Configs, cc)
	}
	out.Configs[0].SideBySide = []string{"worker-stock"} // searched at the same time
	return out
}

func TestGoldenCapacity(t *testing.T) {
	f := capacityFixture()
	for format, ext := range map[string]string{"table": "txt", "markdown": "md"} {
		var b bytes.Buffer
		if err := RenderCapacity(&b, f, format); err != nil {
			t.Fatal(err)
		}
		testfix.Golden(t, "capacity."+ext, b.Bytes())
	}
	var h bytes.Buffer
	if err := RenderCapacity(&h, f, "html"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"plot-served", "plot-p99", "plot-memory"} {
		if !strings.Contains(h.String(), `<figure id="`+id+`">`+"\n<svg") {
			t.Errorf("capacity html lacks plot %s", id)
		}
	}
	if err := RenderCapacity(&h, f, "junit"); err == nil {
		t.Error("junit for a capacity run did not fail")
	}
}

// event's limit is connections, and it closes kept-alive connections when
// a process's workers are all busy: the fail reason says which happened,
// instead of "server at MaxRequestWorkers (peak busy 2 of 150)".
// A client-limited probe measured the generator: it is not drawn on
// httpd's served and p99 curves, though the memory httpd used still is.
func TestCapacityPlotsLeaveOutClientLimited(t *testing.T) {
	cfg, _ := apache.Preset("event-tuned", 4000)
	b := scenarios.Capacity{Start: 250, Max: 8000, PrecisionPct: 5, Budget: time.Hour, HostMemory: 4 << 30}
	th := scenarios.Thresholds{MinServedPct: 100, MaxDroppedPct: 0.1, MaxP99: time.Second}
	cc := capacity.Search(context.Background(), cfg, b, th, testfix.FakeServer(10000, 1000), testfix.Always, nil)
	if cc.ClientLimitedAt != 1000 {
		t.Fatalf("client-limited at %d, want 1000", cc.ClientLimitedAt)
	}
	served, p99, mem := capacitySeries(&capacity.File{Configs: []capacity.ConfigResult{cc}})
	for name, s := range map[string]series{"served": served[0], "p99": p99[0]} {
		for _, xy := range s.xy {
			if xy.X == 1000 {
				t.Errorf("%s points %v include the client-limited probe at 1000", name, s.xy)
			}
		}
		if len(s.xy) != len(cc.Probes)-1 {
			t.Errorf("%s: %d points for %d probes, one client-limited", name, len(s.xy), len(cc.Probes))
		}
	}
	if len(mem[0].xy) != len(cc.Probes) {
		t.Errorf("memory points %v, want all %d probes", mem[0].xy, len(cc.Probes))
	}
}

// The table shows a client-limited search as a lower bound, and a failed
// suggestion followed by a roomier one with both verdicts.
func TestCapacityRows(t *testing.T) {
	cc := capacity.ConfigResult{MaxPass: 3875, ClientLimitedAt: 4000, Unfinished: "client-limited at 4000 connections (40 client_late); holds at least 3875"}
	if row := capacityRow(cc); row[1] != ">= 3875" || row[2] != "client-limited at 4000" {
		t.Errorf("table row holds %q, fails at %q; want a lower bound and the client limit", row[1], row[2])
	}
	ev, _ := apache.Preset("event-stock", 4000)
	row := capacityRow(capacity.ConfigResult{Config: ev, Suggestion: &capacity.Suggestion{Target: 4000, Verdict: results.Fail, Fallback: &capacity.Suggestion{Target: 4000, Verdict: results.Pass}}})
	if row[len(row)-1] != "FAIL at 4000; roomier: PASS" {
		t.Errorf("suggestion cell %q", row[len(row)-1])
	}
}

// The JSON, the Markdown, the table and the HTML carry the same answer:
// the line and every card of capacity.File.Answer.
func TestCapacityAnswerInEveryFormat(t *testing.T) {
	f := capacityFixture()
	out := map[string]string{}
	for _, format := range []string{"json", "markdown", "table", "html"} {
		var b bytes.Buffer
		if err := RenderCapacity(&b, f, format); err != nil {
			t.Fatal(err)
		}
		out[format] = b.String()
	}
	var back capacity.File
	if err := json.Unmarshal([]byte(out["json"]), &back); err != nil {
		t.Fatal(err)
	}
	a := back.Planner
	if a == nil || a.Line == "" || len(a.Cards) != len(f.Configs) {
		t.Fatalf("capacity.json's answer: %+v", a)
	}
	for _, format := range []string{"markdown", "table"} {
		if !strings.Contains(out[format], a.Line) {
			t.Errorf("the %s lacks the JSON's answer %q", format, a.Line)
		}
		for _, k := range a.Cards {
			if !strings.Contains(out[format], cardLine(k)) {
				t.Errorf("the %s lacks %s's card %q", format, k.Config, cardLine(k))
			}
		}
	}
	if !strings.Contains(html.UnescapeString(out["html"]), a.Line) {
		t.Errorf("the HTML lacks the answer %q", a.Line)
	}
}
