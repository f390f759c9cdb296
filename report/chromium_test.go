package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/internal/testfix"
	"github.com/loadcheck/loadcheck/results"
)

// chromium finds Debian's chromium. In CI (CI=true) a missing browser is a
// failure: .ci/run installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; .ci/run installs Debian's chromium package (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium); CI=true makes this a failure")
	return ""
}

func headless(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	home := t.TempDir() // chromium's profile and crash files stay out of $HOME
	args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--user-data-dir=" + filepath.Join(home, "profile")}, args...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, errb.String())
	}
	return out.Bytes()
}

// TestHTMLReportInChromium renders the HTML report in headless Chromium and
// checks that the plots are really drawn: the DOM holds the five SVG
// figures, and the screenshot holds the lines of every measured config in
// their colors. LOADCHECK_SCREENSHOT=PATH keeps the screenshot.
func TestHTMLReportInChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var b bytes.Buffer
	f := testfix.Fixture()
	if err := WriteHTML(&b, f); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	url := "file://" + page

	dom := string(headless(t, bin, "--dump-dom", url))
	for _, id := range []string{"plot-latency", "plot-connections", "plot-errors", "plot-busy", "plot-memory"} {
		i := strings.Index(dom, `id="`+id+`"`)
		if i < 0 || !strings.Contains(dom[i:min(len(dom), i+400)], "<svg") {
			t.Errorf("the rendered page has no SVG in figure %s", id)
		}
	}

	shot := filepath.Join(dir, "report.png")
	headless(t, bin, "--screenshot="+shot, "--window-size=1300,3600", url)
	if keep := os.Getenv("LOADCHECK_SCREENSHOT"); keep != "" {
		if data, err := os.ReadFile(shot); err == nil {
			_ = os.WriteFile(keep, data, 0o644)
		}
	}
	fh, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer fh.Close()
	img, err := png.Decode(fh)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	// Each measured config draws five lines of at least a few hundred
	// pixels in its color; the table's colour swatch is about 100 pixels.
	for i, r := range f.Runs {
		n := colorPixels(img, i)
		switch {
		case r.Measured() && n < 3000:
			t.Errorf("%s: %d pixels in its plot color; its lines are not drawn", r.Config, n)
		case !r.Measured() && n > 1000:
			t.Errorf("%s was never measured, yet %d pixels have its plot color", r.Config, n)
		}
		t.Logf("%s: %d pixels of its color", r.Config, n)
	}
}

// colorPixels counts the pixels close to PlotColors[i].
func colorPixels(img image.Image, i int) int {
	want := PlotColors[i]
	n := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if near(r>>8, want.R) && near(g>>8, want.G) && near(b>>8, want.B) {
				n++
			}
		}
	}
	return n
}

func near(a uint32, b uint8) bool {
	d := int(a) - int(b)
	return d > -24 && d < 24
}

// layoutOf renders the fixture's HTML report in headless Chromium at the
// window size given, with script (test-only; the report has none) run in
// a copy of it, and decodes the body attribute each name holds (JSON)
// into the matching value.
func layoutOf(t *testing.T, window, script string, attrs map[string]any) *results.File {
	t.Helper()
	var b bytes.Buffer
	f := testfix.Fixture()
	if err := WriteHTML(&b, f); err != nil {
		t.Fatal(err)
	}
	layoutPage(t, b.String(), window, script, attrs)
	return f
}

// layoutPage is layoutOf for any page of loadcheck's.
func layoutPage(t *testing.T, doc, window, script string, attrs map[string]any) {
	t.Helper()
	bin := chromium(t)
	page := filepath.Join(t.TempDir(), "page.html")
	if err := os.WriteFile(page, []byte(strings.Replace(doc, "</body>", "<script>"+script+"</script></body>", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := string(headless(t, bin, "--dump-dom", "--window-size="+window, "file://"+page))
	for name, v := range attrs {
		m := regexp.MustCompile(name + `="([^"]*)"`).FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("the probe did not run (%s); the page:\n%.300s", name, dom)
		}
		if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), v); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFirstScreenCards renders the HTML report at 1280x800 in headless
// Chromium and checks that the first screen holds a verdict card for every
// config.
func TestFirstScreenCards(t *testing.T) {
	var cards [][]any
	f := layoutOf(t, "1280,800", `document.body.setAttribute("data-cards", JSON.stringify([...document.querySelectorAll(".card")].map(e => { const r = e.getBoundingClientRect(); return [e.id, Math.round(r.bottom), Math.round(r.right)]; })));`,
		map[string]any{"data-cards": &cards})
	if len(cards) != len(f.Runs) {
		t.Fatalf("%d cards for %d configs: %v", len(cards), len(f.Runs), cards)
	}
	for i, c := range cards {
		if id, bottom, right := c[0], c[1].(float64), c[2].(float64); id != "card-"+f.Runs[i].Config || bottom > 800 || right > 1280 {
			t.Errorf("card %v ends at (%g, %g): want card-%s within the first 1280x800 screen", id, right, bottom, f.Runs[i].Config)
		}
	}
}

// TestPlotLegendsOutside renders the report in headless Chromium and
// reads the layout back: no legend box intersects a chart's box, and
// connections, errors and busy workers have a panel per measured config.
// legendsProbe records, for every chart with a legend beside it, the
// legend's box and the chart's; and the panels' ids.
const legendsProbe = `
const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
const out = [];
for (const fig of document.querySelectorAll("figure, .panel")) {
  for (const l of fig.querySelectorAll(":scope > .legend")) {
    for (const s of fig.querySelectorAll(":scope > svg")) out.push([fig.id, box(l), box(s)]);
  }
}
document.body.setAttribute("data-legends", JSON.stringify(out));
document.body.setAttribute("data-panels", JSON.stringify([...document.querySelectorAll(".panel")].map(p => p.id)));`

// checkLegends fails when fewer than least legends sit beside charts, or
// one lies on its chart.
func checkLegends(t *testing.T, legends [][]any, least int) {
	t.Helper()
	if len(legends) < least {
		t.Errorf("%d legends beside charts, want at least %d", len(legends), least)
	}
	for _, l := range legends {
		lb, sb := l[1].([]any), l[2].([]any)
		f := func(v []any, i int) float64 { return v[i].(float64) }
		if f(lb, 0) < f(sb, 2) && f(sb, 0) < f(lb, 2) && f(lb, 1) < f(sb, 3) && f(sb, 1) < f(lb, 3) {
			t.Errorf("%v: the legend %v lies on the chart %v", l[0], lb, sb)
		}
	}
}

func TestPlotLegendsOutside(t *testing.T) {
	var legends [][]any
	var panels []string
	layoutOf(t, "1300,3600", legendsProbe, map[string]any{"data-legends": &legends, "data-panels": &panels})
	checkLegends(t, legends, 3) // latency, memory, prefork-stock's errors
	for _, want := range []string{"panel-connections-event-tuned", "panel-connections-prefork-stock", "panel-busy-event-tuned", "panel-busy-prefork-stock", "panel-errors-prefork-stock"} {
		if !slices.Contains(panels, want) {
			t.Errorf("no panel %s among %v", want, panels)
		}
	}
}

// The capacity report and the trend page render in Chromium too: every
// plot drawn, each with its legend beside it, not on its data.
func TestCapacityAndTrendPagesInChromium(t *testing.T) {
	var capPage bytes.Buffer
	if err := RenderCapacity(&capPage, capacityFixture(), "html"); err != nil {
		t.Fatal(err)
	}
	var nights []*results.File
	for i := range 10 {
		f := testfix.Fixture()
		f.RunID = fmt.Sprintf("night-%02d", i)
		f.StartedAt = f.StartedAt.Add(time.Duration(i) * 24 * time.Hour)
		nights = append(nights, f)
	}
	var trendPage bytes.Buffer
	if err := WriteTrend(&trendPage, results.BuildTrend(nights, results.DefaultNoise()), "html"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		doc   string
		plots int
	}{{"capacity", capPage.String(), 3}, {"trend", trendPage.String(), 5}} {
		var legends [][]any
		var panels []string
		layoutPage(t, c.doc, "1300,3600", legendsProbe, map[string]any{"data-legends": &legends, "data-panels": &panels})
		checkLegends(t, legends, c.plots)
		if n := strings.Count(c.doc, "<title>"); n < c.plots*5 {
			t.Errorf("%s: %d hover titles", c.name, n)
		}
	}
}

// The capacity report's first screen answers the planner: the answer
// line and one card per config within 1280x800, in the configs' order.
func TestCapacityFirstScreen(t *testing.T) {
	var capPage bytes.Buffer
	f := capacityFixture()
	if err := RenderCapacity(&capPage, f, "html"); err != nil {
		t.Fatal(err)
	}
	var cards [][]any
	layoutPage(t, capPage.String(), "1280,800", `document.body.setAttribute("data-cards", JSON.stringify([...document.querySelectorAll(".answer, .card")].map(e => { const r = e.getBoundingClientRect(); return [e.id || e.className, Math.round(r.bottom), Math.round(r.right)]; })));`,
		map[string]any{"data-cards": &cards})
	if len(cards) != len(f.Configs)+1 {
		t.Fatalf("%d boxes for the answer and %d configs: %v", len(cards), len(f.Configs), cards)
	}
	for i, c := range cards {
		want := "answer"
		if i > 0 {
			want = "card-" + f.Configs[i-1].Config.Name
		}
		if id, bottom, right := c[0], c[1].(float64), c[2].(float64); id != want || bottom > 800 || right > 1280 {
			t.Errorf("%v ends at (%g, %g): want %s within the first 1280x800 screen", id, right, bottom, want)
		}
	}
}

// TestCapacityCurvesInsidePlots: every point of the capacity report's
// three plots lies within its axes (a hover point is drawn for each
// point inside them, none for one outside: as many as the series hold,
// the log axes' non-positive values aside) and, in Chromium, inside its
// plot's box on the page.
func TestCapacityCurvesInsidePlots(t *testing.T) {
	f := capacityFixture()
	plots, err := CapacityPlots(f)
	if err != nil {
		t.Fatal(err)
	}
	served, p99, mem := capacitySeries(f)
	want := map[string]int{}
	for id, lines := range map[string][]series{"plot-served": served, "plot-p99": p99, "plot-memory": mem} {
		lo, hi := xSpan(lines)
		logX := lo > 0 && hi/lo > 10
		logY := logX && id == "plot-served"
		for _, l := range lines {
			for _, p := range l.xy {
				if (!logX || p.X > 0) && (!logY || p.Y > 0) {
					want[id]++
				}
			}
		}
		if id == "plot-served" && hi > 0 {
			want[id] += 2 // the served = offered diagonal's ends
		}
	}
	for _, p := range plots {
		if got := strings.Count(string(p.SVG), `fill="transparent"><title>`); got != want[p.ID] || got == 0 {
			t.Errorf("%s: %d points inside its axes, want all %d", p.ID, got, want[p.ID])
		}
	}
	var capPage bytes.Buffer
	if err := RenderCapacity(&capPage, f, "html"); err != nil {
		t.Fatal(err)
	}
	var boxes [][]any
	layoutPage(t, capPage.String(), "1300,3600", `document.body.setAttribute("data-points", JSON.stringify([...document.querySelectorAll("figure[id^=plot-] svg")].map(s => {
  const r = s.getBoundingClientRect();
  const cs = [...s.querySelectorAll("circle")];
  const out = cs.filter(c => { const b = c.getBoundingClientRect(), x = (b.left + b.right) / 2, y = (b.top + b.bottom) / 2; return x < r.left || x > r.right || y < r.top || y > r.bottom; }).length;
  return [s.closest("figure").id, cs.length, out];
})));`, map[string]any{"data-points": &boxes})
	if len(boxes) != len(plots) {
		t.Fatalf("%d plots on the page, want %d: %v", len(boxes), len(plots), boxes)
	}
	for _, b := range boxes {
		if id, n, out := b[0].(string), b[1].(float64), b[2].(float64); int(n) != want[id] || out != 0 {
			t.Errorf("%s: %g points on the page, %g of them outside its plot; want %d, none outside", id, n, out, want[id])
		}
	}
}
