package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/loadcheck/loadcheck/internal/testfix"
	"github.com/loadcheck/loadcheck/results"
	"gonum.org/v1/plot/plotter"
)

func TestGoldenReports(t *testing.T) {
	f := testfix.Fixture()
	if f.Runs[0].Verdict != results.Pass || f.Runs[1].Verdict != results.Fail || f.Runs[2].Verdict != results.Error {
		t.Fatalf("fixture verdicts %s %s %s, want pass fail error", f.Runs[0].Verdict, f.Runs[1].Verdict, f.Runs[2].Verdict)
	}
	ext := map[string]string{"table": "txt", "markdown": "md", "json": "json", "junit": "xml", "html": "html", "github": "github.txt"}
	for _, format := range Formats {
		var b bytes.Buffer
		if err := Render(&b, f, format); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		testfix.Golden(t, "report."+ext[format], b.Bytes())
	}
	if err := Render(&bytes.Buffer{}, f, "pdf"); err == nil || !strings.Contains(err.Error(), "choose from table, markdown, json, junit, html") {
		t.Errorf("unknown format: %v", err)
	}
}

// A run with repeats: medians and ranges, FLAKY with its count, each
// failing repeat's reasons, and JUnit failing the flaky config.
func TestRepeatReports(t *testing.T) {
	f := testfix.RepeatFixture()
	ext := map[string]string{"table": "txt", "markdown": "md", "junit": "xml"}
	for format, e := range ext {
		var b bytes.Buffer
		if err := Render(&b, f, format); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		testfix.Golden(t, "repeats."+e, b.Bytes())
		out := b.String()
		for _, want := range []string{"FLAKY 2/3", "FAIL 0/3", "repeat 2: "} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: no %q in\n%s", format, want, out)
			}
		}
		if format != "junit" && !strings.Contains(out, "200 (185–200)") {
			t.Errorf("%s: served not shown as median (min–max):\n%s", format, out)
		}
	}
	var b bytes.Buffer
	if err := Render(&b, f, "html"); err != nil || !strings.Contains(b.String(), "FLAKY 2/3") {
		t.Errorf("html: %v, FLAKY 2/3 shown: %v", err, strings.Contains(b.String(), "FLAKY 2/3"))
	}
}

// The renderers must say what the result says, not just match a file.
func TestReportContent(t *testing.T) {
	f := testfix.Fixture()
	var md bytes.Buffer
	if err := WriteMarkdown(&md, f); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"**1 of 3 configs passed.**", "| event-tuned | 200 | 200 | 0 |", "✅ PASS", "❌ FAIL", "**prefork-stock FAIL**",
		"- served 150 of 200 connections (75.0%), need 100%", "**mine ERROR**"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}

	var x bytes.Buffer
	if err := WriteJUnit(&x, f); err != nil {
		t.Fatal(err)
	}
	var suites junitSuites
	if err := xml.Unmarshal(x.Bytes(), &suites); err != nil {
		t.Fatalf("junit is not XML: %v", err)
	}
	if len(suites.Suites) != 3 || suites.Errors != 1 {
		t.Fatalf("suites %d errors %d, want 3 suites and 1 error", len(suites.Suites), suites.Errors)
	}
	failed := map[string]bool{}
	for _, c := range suites.Suites[1].Cases {
		if c.Failure != nil {
			failed[strings.SplitN(c.Name, ":", 2)[0]] = true
		}
	}
	if !failed["served"] || !failed["dropped"] || failed["p99"] || failed["complete"] {
		t.Errorf("prefork-stock failures %v, want served and dropped only", failed)
	}
	if s := suites.Suites[0]; s.Failures != 0 || s.Tests != 6 {
		t.Errorf("event-tuned: %d tests %d failures, want 6 and 0", s.Tests, s.Failures)
	}

	var j bytes.Buffer
	if err := Render(&j, f, "json"); err != nil {
		t.Fatal(err)
	}
	var back results.File
	if err := json.Unmarshal(j.Bytes(), &back); err != nil || back.Runs[1].Connections.Starved != 50 {
		t.Errorf("json round trip: %v, starved %d", err, back.Runs[1].Connections.Starved)
	}

	var h bytes.Buffer
	if err := WriteHTML(&h, f); err != nil {
		t.Fatal(err)
	}
	page := h.String()
	for _, id := range []string{"plot-latency", "plot-connections", "plot-errors", "plot-busy", "plot-memory"} {
		if !strings.Contains(page, `<figure id="`+id+`">`) {
			t.Errorf("html lacks figure %s", id)
		}
	}
	// Latency and memory are one chart each; connections, errors and busy
	// workers a panel per measured config (errors: only prefork-stock had
	// any): 1 + 2 + 1 + 2 + 1.
	if n := strings.Count(page, "<svg"); n != 7 {
		t.Errorf("html has %d inline SVGs, want 7", n)
	}
	for _, id := range []string{"panel-connections-event-tuned", "panel-connections-prefork-stock", "panel-errors-prefork-stock", "panel-busy-event-tuned", "panel-busy-prefork-stock"} {
		if !strings.Contains(page, `<div class="panel" id="`+id+`">`) {
			t.Errorf("html lacks the panel %s", id)
		}
	}
	for _, bad := range []string{"<script", "http://", "https://", "@import", "<link"} {
		if i := strings.Index(page, bad); i >= 0 && !strings.HasPrefix(page[i:], "http://www.w3.org/") {
			t.Errorf("html is not self-contained: it has %q at %d", bad, i)
		}
	}
}

// Every point of a plotted line carries its values for hovering: a
// transparent circle with a <title>, drawn where the line's own vertex is.
func TestPlotHoverTitles(t *testing.T) {
	lines := []series{
		{label: "event-tuned", xy: plotter.XYs{{X: 0, Y: 10}, {X: 1, Y: 4000}, {X: 2, Y: 3990}}},
		{label: "worker-tuned", color: 1, xy: plotter.XYs{{X: 0, Y: 5}, {X: 1, Y: 2500}}},
	}
	svg, err := drawSVG("open", "seconds", "open connections", lines, plotOpts{w: 300, h: 200})
	if err != nil {
		t.Fatal(err)
	}
	num := `(-?[0-9.]+)`
	var vertices [][2]float64
	for _, m := range regexp.MustCompile(`[ML]`+num+`,`+num).FindAllStringSubmatch(string(svg), -1) {
		x, _ := strconv.ParseFloat(m[1], 64)
		y, _ := strconv.ParseFloat(m[2], 64)
		vertices = append(vertices, [2]float64{x, y})
	}
	circles := regexp.MustCompile(`<circle cx="`+num+`" cy="`+num+`" r="4" fill="transparent"><title>([^<]*)</title></circle>`).FindAllStringSubmatch(string(svg), -1)
	if len(circles) != 5 {
		t.Fatalf("%d hover circles, want one per point (5):\n%s", len(circles), svg)
	}
	titles := map[string]bool{}
	for _, c := range circles {
		titles[c[3]] = true
		x, _ := strconv.ParseFloat(c[1], 64)
		y, _ := strconv.ParseFloat(c[2], 64)
		on := false
		for _, v := range vertices {
			on = on || (math.Abs(v[0]-x) < 0.01 && math.Abs(v[1]-y) < 0.01)
		}
		if !on {
			t.Errorf("circle %q at %g,%g is on no vertex of the lines", c[3], x, y)
		}
	}
	for _, want := range []string{"event-tuned — open connections: 4000; seconds: 1", "worker-tuned — open connections: 2500; seconds: 1"} {
		if !titles[want] {
			t.Errorf("no title %q among %v", want, titles)
		}
	}
}

// A run with a soak summary and one with a rollout: the HTML report has
// the soak plot (memory a minute and its fitted line, the slope in the
// legend), the rollout's lines, and the signal on its time plots; the
// table and Markdown carry the soak's minutes.
func TestSoakAndRolloutReports(t *testing.T) {
	f := testfix.Fixture()
	r := &f.Runs[0]
	r.Soak = &results.Soak{MemoryReadings: 180, MemoryMBPerHour: 12.5, MemoryMBPerHourSE: 1, MemoryFitStartMB: 40, ProcessesEnded: 4,
		Minutes: []results.SoakMinute{{Minute: 1, Tally: results.Tally{OK: 60}, MemoryMB: 40}, {Minute: 2, Tally: results.Tally{OK: 60}, MemoryMB: 40.3, ProcessesEnded: 4}, {Minute: 3, Tally: results.Tally{OK: 60}, MemoryMB: 40.6}}}
	f.Runs[1].Rollout = &results.Rollout{From: f.Runs[1].Config, To: "event-new", How: "graceful", SignalS: 3, Acknowledged: true, ZeroLoss: true, RecoveredS: 0}
	var html, table, md bytes.Buffer
	if err := WriteHTML(&html, f); err != nil {
		t.Fatal(err)
	}
	_ = WriteTable(&table, f)
	_ = WriteMarkdown(&md, f)
	h := html.String()
	for _, want := range []string{`id="plot-soak"`, r.Config + ": +12.5 MB an hour (±2.0)", "Rollout of " + f.Runs[1].Config + " to event-new", "switch (graceful) to event-new"} {
		if !strings.Contains(h, want) {
			t.Errorf("the HTML report lacks %q", want)
		}
	}
	for name, out := range map[string]string{"table": table.String(), "markdown": md.String()} {
		if !strings.Contains(out, "soak over 3 minutes") || !strings.Contains(out, "4 httpd processes ended") {
			t.Errorf("the %s lacks the soak:\n%s", name, out)
		}
	}
}
