package report

import (
	"bytes"
	"cmp"
	"fmt"
	"html"
	"html/template"
	"image/color"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/loadcheck/loadcheck/results"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// PlotColors are the line colors, one per config in run order; nothing
// else on the report page uses them.
var PlotColors = []color.RGBA{
	{238, 46, 47, 255}, {0, 140, 72, 255}, {24, 90, 169, 255}, {244, 125, 35, 255},
	{102, 44, 145, 255}, {0, 150, 160, 255}, {180, 56, 148, 255}, {120, 120, 0, 255},
}

func plotColor(i int) color.RGBA {
	if i < 0 { // a reference line, no config's
		return color.RGBA{R: 128, G: 128, B: 128, A: 255}
	}
	return PlotColors[i%len(PlotColors)]
}

// Plot is one chart of the HTML report.
type Plot struct {
	ID, Title, Note string
	SVG             template.HTML
	// Panels, when set, replace SVG: small multiples, one panel per
	// config on the same axes. Legend is drawn beside the data, never on it.
	Panels []Panel
	Legend []LegendItem
}

// Panel is one config's small chart of a Plot.
type Panel struct {
	ID, Config string
	Index      int
	SVG        template.HTML
	Legend     []LegendItem
}

// LegendItem is one line's key: its label, colour and whether it is dashed.
type LegendItem struct {
	Label  string
	Color  template.CSS
	Dashed bool
}

// legendCSS and legendHTML draw a Plot's or Panel's Legend beside its
// chart, on every page that has plots.
const (
	legendCSS = `.legend { list-style: none; padding: 0; margin: 0.2em 0 0 3em; font-size: 0.8em; display: flex; flex-wrap: wrap; gap: 0.2em 1.2em; }
.legend .key { display: inline-block; width: 2em; border-top: 3px solid; margin-right: 0.4em; vertical-align: middle; }
`
	legendHTML = `{{with .Legend}}<ul class="legend">{{range .}}<li><span class="key" style="border-top-color: {{.Color}}{{if .Dashed}}; border-top-style: dashed{{end}}"></span>{{.Label}}</li>{{end}}</ul>{{end}}`
)

func legendOf(lines []series) []LegendItem {
	var out []LegendItem
	for _, s := range lines {
		if len(s.xy) > 0 && s.label != "" {
			out = append(out, LegendItem{Label: s.label, Color: cssColor(s.color), Dashed: s.dash > 0})
		}
	}
	return out
}

// series is one line: a label and its points.
type series struct {
	label string
	color int
	xy    plotter.XYs
	dash  int // 0 solid; others dashed, to tell one config's lines apart
	// glyph draws the points as marks, not joined (glyphDot, glyphRing);
	// 0 draws a line.
	glyph int
}

// Point marks of a series.
const (
	glyphDot  = 1 // a small filled circle: one probe
	glyphRing = 2 // a large ring: a config's knee
	glyphBox  = 3 // a square: a step of a stepped run
)

// plotOpts shape one SVG: a log x axis, the size, and fixed axis maxima
// (0: fit the data) so that small multiples share their axes. The page
// draws each legend beside its chart (legendOf), never on the data.
type plotOpts struct {
	logX       bool
	w, h       vg.Length
	xMax, yMax float64
	// logTicks with logX labels the axis in powers of ten (the default
	// logX axis is the latency spectrum's percentiles); logY makes the y
	// axis logarithmic too.
	logTicks, logY bool
}

func drawSVG(title, xLabel, yLabel string, lines []series, o plotOpts) (template.HTML, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	p.Add(plotter.NewGrid())
	p.Y.Min = 0
	logX := o.logX
	if logX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = percentileTicks{}
		if o.logTicks {
			p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		}
	}
	if o.logY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	}
	for _, s := range lines {
		if len(s.xy) == 0 {
			continue
		}
		if s.glyph > 0 {
			sc, err := plotter.NewScatter(s.xy)
			if err != nil {
				return "", fmt.Errorf("plot %s: %w", title, err)
			}
			sc.GlyphStyle.Color = plotColor(s.color)
			switch s.glyph {
			case glyphRing:
				sc.GlyphStyle.Shape, sc.GlyphStyle.Radius = draw.RingGlyph{}, vg.Points(7)
			case glyphBox:
				sc.GlyphStyle.Shape, sc.GlyphStyle.Radius = draw.BoxGlyph{}, vg.Points(2.5)
			default:
				sc.GlyphStyle.Shape, sc.GlyphStyle.Radius = draw.CircleGlyph{}, vg.Points(3)
			}
			p.Add(sc)
			continue
		}
		l, err := plotter.NewLine(s.xy)
		if err != nil {
			return "", fmt.Errorf("plot %s: %w", title, err)
		}
		l.Color = plotColor(s.color)
		l.Width = vg.Points(2)
		if s.dash > 0 {
			l.Dashes = []vg.Length{vg.Points(float64(2 + 3*s.dash)), vg.Points(3)}
		}
		p.Add(l)
	}
	if o.xMax > 0 {
		p.X.Min, p.X.Max = 0, o.xMax
	}
	if o.yMax > 0 {
		p.Y.Max = o.yMax
	}
	if o.logY { // a log axis cannot start at 0: at the least value drawn
		p.Y.Min = math.Inf(1)
		for _, s := range lines {
			for _, pt := range s.xy {
				if pt.Y > 0 {
					p.Y.Min = min(p.Y.Min, pt.Y*0.8)
				}
			}
		}
	}
	c := vgsvg.New(o.w, o.h)
	dc := draw.New(c)
	p.Draw(dc)
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", err
	}
	svg := b.String()
	if i := strings.Index(svg, "<svg"); i > 0 {
		svg = svg[i:] // drop the XML prolog: the SVG sits inside HTML
	}
	// The points' values on hover: a transparent circle with a <title>
	// over each, in the plot's own coordinates (its outer group), so the
	// page needs no script.
	if i := strings.LastIndex(svg, "</g>"); i > 0 {
		xText := func(x float64) string { return xLabel + ": " + strconv.FormatFloat(x, 'g', 4, 64) }
		if logX { // the latency spectrum: x is 1/(1-q)
			xText = func(x float64) string { return "at p" + strconv.FormatFloat(100*(1-1/x), 'g', 5, 64) }
		}
		svg = svg[:i] + hoverPoints(p, dc, yLabel, xText, lines) + svg[i:]
	}
	return template.HTML(svg), nil
}

// hoverPoints is a transparent circle per point of lines inside p's data
// area, titled with its line's label and its values.
func hoverPoints(p *plot.Plot, dc draw.Canvas, yLabel string, xText func(float64) string, lines []series) string {
	da := p.DataCanvas(dc)
	trX, trY := p.Transforms(&da)
	var b strings.Builder
	for _, s := range lines {
		for _, pt := range s.xy {
			if pt.X < p.X.Min || pt.X > p.X.Max || pt.Y < p.Y.Min || pt.Y > p.Y.Max {
				continue
			}
			fmt.Fprintf(&b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"4\" fill=\"transparent\"><title>%s — %s: %s; %s</title></circle>\n",
				trX(pt.X), trY(pt.Y), html.EscapeString(s.label), html.EscapeString(yLabel), strconv.FormatFloat(pt.Y, 'g', 4, 64),
				html.EscapeString(xText(pt.X)))
		}
	}
	return b.String()
}

// percentileTicks labels a 1/(1-q) axis with percentiles.
type percentileTicks struct{}

func (percentileTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for x, label := range map[float64]string{1: "0%", 2: "50%", 10: "90%", 100: "99%", 1e3: "99.9%", 1e4: "99.99%", 1e5: "99.999%", 1e6: "99.9999%"} {
		if x >= min && x <= max {
			out = append(out, plot.Tick{Value: x, Label: label})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out
}

// spectrum is the latency percentile spectrum, as HdrHistogram's plotter
// draws it: x is 1/(1-q), y the latency in milliseconds.
func spectrum(r results.Run) plotter.XYs {
	var xy plotter.XYs
	if h := r.Hist; h != nil && h.TotalCount() > 0 {
		last := 1 - 1/float64(h.TotalCount())
		for i := 0; i <= 120; i++ {
			q := 1 - math.Pow(10, -float64(i)/20)
			if q > last && i > 0 {
				break
			}
			xy = append(xy, plotter.XY{X: 1 / (1 - q), Y: float64(h.ValueAtQuantile(q*100)) / 1000})
		}
		return xy
	}
	l := r.LatencyMS // a result without its .hlog: the stored percentiles
	if r.Requests.OK == 0 {
		return nil
	}
	for _, p := range []struct{ q, v float64 }{{0.5, l.P50}, {0.9, l.P90}, {0.99, l.P99}, {0.999, l.P999}} {
		xy = append(xy, plotter.XY{X: 1 / (1 - p.q), Y: p.v})
	}
	return xy
}

// Plots draws the report's charts for f.
func Plots(f *results.File) ([]Plot, error) {
	lat, open, errs, busy, mem := plotSeries(f)
	var soak []series
	for i, r := range f.Runs {
		if sk := r.Soak; sk != nil && sk.MemoryReadings >= 3 {
			var pts plotter.XYs
			for _, m := range sk.Minutes {
				if m.MemoryMB >= 0 {
					pts = append(pts, plotter.XY{X: float64(m.Minute), Y: m.MemoryMB})
				}
			}
			hours := float64(len(sk.Minutes)) / 60
			fit := plotter.XYs{{X: 0, Y: sk.MemoryFitStartMB}, {X: float64(len(sk.Minutes)), Y: sk.MemoryFitStartMB + sk.MemoryMBPerHour*hours}}
			soak = append(soak, series{r.Config, i, pts, 0, 0}, series{fmt.Sprintf("%s: %+.1f MB an hour (±%.1f)", r.Config, sk.MemoryMBPerHour, 1.96*sk.MemoryMBPerHourSE), i, fit, 2, 0})
		}
	}
	specs := []plotSpec{
		{"latency", "Latency by percentile (corrected for coordinated omission)", "percentile", "latency (ms)", "Each line is one config's latency at every percentile of its OK responses in the measured window, as HdrHistogram's plotter draws it.", "no config got an OK response.", lat, true, false},
		{"connections", "Connections open", "seconds since the first connection opened", "open connections", "One panel per config, all on the same axes. A config that holds the target stays flat at it; dips are connections the server closed. The fall at the end is loadcheck closing them after the measured window.", "no connection was opened.", open, false, true},
		{"errors", "Dropped requests by class, per second", "seconds since the first connection opened", "dropped requests", "One panel per config, all on the same axes; one line per error class (dashed for the second and later).", "no request was dropped in any config.", errs, false, true},
		{"busy", "httpd busy workers (mod_status)", "seconds since load started", "busy workers", "One panel per config, all on the same axes.", "no mod_status reading.", busy, false, true},
		{"memory", "Container memory", "seconds since load started", "MB", "From the container's cgroup.", "the container's memory was not readable.", mem, false, false},
	}
	if len(soak) > 0 {
		specs = append(specs, plotSpec{"soak", "Soak: memory at each minute's end, and its fitted growth", "minute of the measured window", "MB",
			"Each config's memory at the end of every minute (solid) and the least-squares line through every reading (dashed), with its slope and 95 % interval.", "", soak, false, false})
	}
	var out []Plot
	for _, s := range specs {
		drawn := false
		for _, l := range s.lines {
			drawn = drawn || len(l.xy) > 0
		}
		if !drawn {
			out = append(out, Plot{ID: "plot-" + s.id, Title: s.title, Note: "Nothing to draw: " + s.empty})
			continue
		}
		pl := Plot{ID: "plot-" + s.id, Title: s.title, Note: s.note}
		var err error
		if !s.panels {
			lines := s.lines
			if !s.logX {
				lines = withSwitchMarks(f, lines)
			}
			pl.SVG, err = drawSVG(s.title, s.x, s.y, lines, plotOpts{logX: s.logX, w: 9 * vg.Inch, h: 4 * vg.Inch})
			pl.Legend = legendOf(lines)
		} else {
			pl.Panels, err = panels(f, s)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, pl)
	}
	return out, nil
}

// plotSpec is one plot of the report: its text, its lines, and whether it
// is drawn as one panel per config.
type plotSpec struct {
	id, title, x, y, note, empty string
	lines                        []series
	logX, panels                 bool
}

// plotSeries is each measured config's lines: latency by percentile, open
// connections, dropped requests by class, busy workers and memory.
func plotSeries(f *results.File) (lat, open, errs, busy, mem []series) {
	for i, r := range f.Runs {
		if !r.Measured() {
			continue
		}
		lat = append(lat, series{r.Config, i, spectrum(r), 0, 0})
		var o plotter.XYs
		byClass := map[string]plotter.XYs{}
		for _, p := range r.Series {
			o = append(o, plotter.XY{X: p.T, Y: float64(p.Open)})
			for c, n := range p.Errors {
				byClass[c] = append(byClass[c], plotter.XY{X: p.T, Y: float64(n)})
			}
		}
		open = append(open, series{r.Config, i, o, 0, 0})
		classes := make([]string, 0, len(byClass))
		for c := range byClass {
			classes = append(classes, c)
		}
		sort.Strings(classes)
		for j, c := range classes {
			errs = append(errs, series{c, i, fillSeconds(r, byClass[c]), j, 0})
		}
		if s := r.Server; s != nil {
			var b, m plotter.XYs
			for _, p := range s.Series {
				if p.BusyWorkers >= 0 {
					b = append(b, plotter.XY{X: p.T, Y: float64(p.BusyWorkers)})
				}
				if p.MemoryMB >= 0 {
					m = append(m, plotter.XY{X: p.T, Y: p.MemoryMB})
				}
			}
			busy = append(busy, series{r.Config, i, b, 0, 0})
			mem = append(mem, series{r.Config, i, m, 0, 0})
		}
	}
	return lat, open, errs, busy, mem
}

// panels draws s as small multiples: one panel per config, the same axes
// for all.
func panels(f *results.File, s plotSpec) ([]Panel, error) {
	var out []Panel
	var xMax, yMax float64
	for _, l := range s.lines {
		for _, p := range l.xy {
			xMax, yMax = max(xMax, p.X), max(yMax, p.Y)
		}
	}
	for i, r := range f.Runs {
		var mine []series
		for _, l := range s.lines {
			if l.color == i && len(l.xy) > 0 {
				mine = append(mine, l)
			}
		}
		if len(mine) == 0 {
			continue
		}
		if ro := r.Rollout; ro != nil && !s.logX {
			mine = append(mine, switchMark(ro, i, yMax*1.05))
		}
		svg, err := drawSVG(r.Config, s.x, s.y, mine, plotOpts{w: 4.4 * vg.Inch, h: 2.6 * vg.Inch, xMax: xMax, yMax: yMax * 1.05})
		if err != nil {
			return nil, err
		}
		panel := Panel{ID: "panel-" + s.id + "-" + r.Config, Config: r.Config, Index: i, SVG: svg}
		if len(mine) > 1 || s.id == "errors" {
			panel.Legend = legendOf(mine)
		}
		out = append(out, panel)
	}
	return out, nil
}

// switchMark is a rollout's signal on a time plot of config i: a dashed
// vertical line from 0 to top.
func switchMark(ro *results.Rollout, i int, top float64) series {
	return series{label: fmt.Sprintf("switch (%s) to %s", ro.How, ro.To), color: i, xy: plotter.XYs{{X: ro.SignalS, Y: 0}, {X: ro.SignalS, Y: top}}, dash: 3}
}

// withSwitchMarks adds each rollout's signal to lines, a time plot of
// every config.
func withSwitchMarks(f *results.File, lines []series) []series {
	top := 0.0
	for _, l := range lines {
		for _, p := range l.xy {
			top = max(top, p.Y)
		}
	}
	for i, r := range f.Runs {
		if r.Rollout != nil && top > 0 {
			lines = append(lines, switchMark(r.Rollout, i, top))
		}
	}
	return lines
}

// fillSeconds adds zero points for the seconds of r's series in which a
// class had no error, so a line drops to zero instead of skipping.
func fillSeconds(r results.Run, pts plotter.XYs) plotter.XYs {
	at := map[float64]float64{}
	for _, p := range pts {
		at[p.X] = p.Y
	}
	out := make(plotter.XYs, 0, len(r.Series))
	for _, p := range r.Series {
		out = append(out, plotter.XY{X: p.T, Y: at[p.T]})
	}
	return out
}

// pageFuncs are the HTML pages' template functions.
var pageFuncs = template.FuncMap{
	"color": cssColor,
}

// cssColor is config i's plot colour for CSS.
func cssColor(i int) template.CSS {
	c := plotColor(i)
	return template.CSS(fmt.Sprintf("rgb(%d,%d,%d)", c.R, c.G, c.B))
}

// pageTop is the head both HTML pages share, up to their own CSS rules:
// one file, no script, no network fonts.
const pageTop = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: sans-serif; margin: 2em auto; max-width: 75em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.5em; text-align: right; vertical-align: top; }
th { background: #eee; }
figure { margin: 1.5em 0; }
figcaption { font-size: 0.85em; color: #555; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.3em; }
`

// cardCSS lays out the cards both HTML pages begin with: one per config.
const cardCSS = `#cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(17em, 1fr)); gap: 0.6em; margin: 0.8em 0 1.2em; }
.card { border: 1px solid #bbb; border-left-width: 5px; padding: 0.4em 0.6em; font-size: 0.85em; }
.card h2 { font-size: 1.05em; margin: 0 0 0.3em; display: flex; justify-content: space-between; }
.card .v-pass { color: #1a7f37; } .card .v-fail, .card .v-error, .card .v-flaky { color: #b3261e; } .card .v-inconclusive { color: #9a6700; }
.card .nums { font-size: 1.15em; margin: 0.2em 0; }
`

var htmlReport = template.Must(template.New("report").Funcs(pageFuncs).Parse(pageTop + `td:first-child, td:nth-child(8) { text-align: left; }
.pass { font-weight: bold; }
.fail, .error { font-weight: bold; text-decoration: underline; }
pre { background: #f4f4f4; padding: 0.5em; font-size: 0.8em; overflow-x: auto; }
h1 { font-size: 1.4em; margin: 0 0 0.3em; }
` + cardCSS + `.panels { display: grid; grid-template-columns: repeat(auto-fill, minmax(26em, 1fr)); gap: 0.4em; }
.panel svg { max-width: 100%; height: auto; }
` + legendCSS + `.card .why { color: #444; margin: 0.2em 0 0; display: -webkit-box; -webkit-line-clamp: 4; -webkit-box-orient: vertical; overflow: hidden; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>{{.Summary}} {{.Load}}</p>
{{range .Images}}<p class="image">{{.}}</p>
{{end}}<section id="cards">
{{range .Cards}}<div class="card" id="card-{{.Config}}" style="border-left-color: {{color .Index}}">
<h2><span>{{.Config}}</span><span class="v-{{.Class}}">{{.Verdict}}</span></h2>
<div class="nums">{{.Nums}}</div>
<p class="why" title="{{.Why}}">{{.Why}}</p>
</div>
{{end}}</section>
{{with .Description}}<p><em>{{.}}</em></p>
{{end}}
<table id="summary">
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}{{$row := .}}<tr>{{range $i, $c := .Cells}}<td>{{if eq $i 0}}<span class="swatch" style="background: {{color $row.Index}}"></span>{{end}}{{$c}}</td>{{end}}</tr>
{{end}}</table>
{{range .Runs}}{{if ne .Verdict "pass"}}<h3>{{.Config}}: {{.VerdictLabel}}</h3>
<ul>{{range .Reasons}}<li>{{.}}</li>{{end}}</ul>
{{with .Diagnosis}}<p class="why">Why: {{.}}</p>{{end}}{{with .ArrivalNote}}<p class="why">Arrival: {{.}}</p>{{end}}
{{end}}{{end}}
{{range .Runs}}{{with .Rollout}}<h3 id="rollout-{{.From}}">Rollout of {{.From}} to {{.To}}</h3>
<pre class="rollout">{{range .Lines}}{{.}}
{{end}}</pre>
{{end}}{{end}}{{range .Plots}}<figure id="{{.ID}}">
{{if .Panels}}<h3>{{.Title}}</h3>
<div class="panels">{{range .Panels}}<div class="panel" id="{{.ID}}">{{.SVG}}` + legendHTML + `</div>
{{end}}</div>
{{else if .SVG}}{{.SVG}}` + legendHTML + `
{{else}}<h3>{{.Title}}</h3>{{end}}
<figcaption>{{.Note}}</figcaption>
</figure>
{{end}}
{{with .TLS}}<h2>TLS</h2>
<ul>{{range .}}<li>{{.}}</li>{{end}}</ul>
{{end}}{{with .ServerSide}}<h2>Server side</h2>
<ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
<h2>Configs</h2>
{{range .Runs}}{{if .HTTPDConf}}<details><summary>{{.Config}} httpd.conf</summary><pre>{{.HTTPDConf}}</pre></details>
{{end}}{{end}}
<p><small>loadcheck {{.Version}}, schema {{.Schema}}, started {{.Started}}.</small></p>
</body>
</html>
`))

type htmlRow struct {
	Index int
	Cells []string
}

// card is one config on the report's first screen: its verdict, the
// headline numbers, and in one line why (what httpd did).
type card struct {
	Index                        int
	Config, Verdict, Class, Nums string
	Why                          string
}

func cardOf(i int, r results.Run) card {
	c := card{Index: i, Config: r.Config, Verdict: r.VerdictLabel(), Class: r.Verdict}
	if !r.Measured() {
		c.Nums, c.Why = "not measured", cmp.Or(r.Error, "killed at start: out of memory")
		return c
	}
	c.Nums = fmt.Sprintf("served %d of %d · dropped %.2f%% · p99 %s ms", r.Connections.Served, r.Connections.Target, r.Requests.DroppedPct, results.Num(r.LatencyMS.P99))
	switch {
	case r.Verdict == results.Pass:
		c.Why = fmt.Sprintf("held every connection through the window, %.0f req/s", r.ThroughputRPS)
	case r.Diagnosis != "":
		c.Why = r.Diagnosis
	default:
		c.Why = strings.Join(r.Reasons, "; ")
	}
	return c
}

// WriteHTML renders f as one self-contained HTML page: no script, no
// external font or stylesheet, every plot an inline SVG.
func WriteHTML(w io.Writer, f *results.File) error {
	plots, err := Plots(f)
	if err != nil {
		return err
	}
	var rows []htmlRow
	var cards []card
	pass := 0
	for i, r := range f.Runs {
		rows = append(rows, htmlRow{i, summaryRow(r)})
		cards = append(cards, cardOf(i, r))
		if r.Verdict == results.Pass {
			pass++
		}
	}
	data := struct {
		Title, Description, Summary, Load, Version string
		Schema, Started                            string
		Header                                     []string
		Rows                                       []htmlRow
		Cards                                      []card
		Runs                                       []results.Run
		Plots                                      []Plot
		ServerSide, TLS, Images                    []string
	}{
		Title: title(f), Description: f.Scenario.Description, Summary: fmt.Sprintf("%d of %d configs passed.", pass, len(f.Runs)), Load: describeLoad(f),
		Version: f.Environment.LoadcheckVersion, Schema: f.Schema, Started: f.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC"),
		Header: summaryHeader, Rows: rows, Cards: cards, Runs: f.Runs, Plots: plots, ServerSide: append(append(serverSide(f), generatorLines(f)...), headroomLines(f)...), TLS: tlsLines(f), Images: imageLines(f),
	}
	return htmlReport.Execute(w, data)
}
