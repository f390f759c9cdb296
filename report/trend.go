package report

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/loadcheck/loadcheck/results"
)

// TrendFormats are the forms `loadcheck trend` writes.
var TrendFormats = []string{"markdown", "html", "json", "gab-smaller", "gab-bigger", "bencher"}

// WriteTrend renders t: markdown (a table per config), html (a plot per
// metric, a line per config, then the tables), json (the Trend itself),
// gab-smaller / gab-bigger (the latest run for github-action-benchmark's
// customSmallerIsBetter and customBiggerIsBetter tools) or bencher (the
// latest run in Bencher's metric format).
func WriteTrend(w io.Writer, t results.Trend, format string) error {
	switch format {
	case "markdown", "md":
		_, err := io.WriteString(w, trendMarkdown(t))
		return err
	case "html":
		return trendHTML(w, t)
	case "json":
		return writeJSON(w, t)
	case "gab-smaller", "gab-bigger":
		return writeJSON(w, gabEntries(t, format == "gab-bigger"))
	case "bencher":
		return writeJSON(w, bencher(t))
	}
	return fmt.Errorf("unknown format %q: choose from %s", format, strings.Join(TrendFormats, ", "))
}

func writeJSON(w io.Writer, v any) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(v)
}

// unit is the unit a trend metric is measured in, for the exports.
func unit(metric string) string {
	switch {
	case strings.HasSuffix(metric, " ms"):
		return "ms"
	case metric == "dropped %":
		return "%"
	case metric == "req/s":
		return "req/s"
	case metric == "KB/conn":
		return "KB"
	}
	return "connections"
}

// latest is each config's point in the newest run, if it has one.
func latest(t results.Trend) []struct {
	Config string
	Point  results.TrendPoint
} {
	var out []struct {
		Config string
		Point  results.TrendPoint
	}
	last := len(t.Runs) - 1
	for _, c := range t.Configs {
		if n := len(c.Points); n > 0 && c.Points[n-1].Run == last {
			out = append(out, struct {
				Config string
				Point  results.TrendPoint
			}{c.Config, c.Points[n-1]})
		}
	}
	return out
}

// gabEntry is one value for github-action-benchmark's custom tools.
type gabEntry struct {
	Name  string  `json:"name"`
	Unit  string  `json:"unit"`
	Value float64 `json:"value"`
	Extra string  `json:"extra,omitempty"`
}

func gabEntries(t results.Trend, bigger bool) []gabEntry {
	out := []gabEntry{}
	for _, l := range latest(t) {
		for _, m := range t.Metrics {
			if v, ok := l.Point.Values[m]; ok && results.HigherBetter(m) == bigger {
				out = append(out, gabEntry{Name: l.Config + " " + m, Unit: unit(m), Value: v, Extra: "run " + t.Runs[l.Point.Run].RunID + ", verdict " + l.Point.Verdict})
			}
		}
	}
	return out
}

// bencher is Bencher's metric format: benchmark -> measure -> value.
func bencher(t results.Trend) map[string]map[string]map[string]float64 {
	out := map[string]map[string]map[string]float64{}
	for _, l := range latest(t) {
		ms := map[string]map[string]float64{}
		for m, v := range l.Point.Values {
			ms[measureSlug(m)] = map[string]float64{"value": v}
		}
		out[l.Config] = ms
	}
	return out
}

// measureSlug is a metric's name as a Bencher measure: "p99 ms" -> "p99-ms".
func measureSlug(m string) string {
	r := strings.NewReplacer(" ", "-", "%", "pct", "/", "-per-")
	return r.Replace(m)
}

func trendCell(p results.TrendPoint, m string) string {
	v, ok := p.Values[m]
	if !ok {
		return "-"
	}
	s := results.Num(v)
	if v == 0 {
		s = "0"
	}
	for _, why := range p.Why {
		if strings.HasPrefix(why, m+" ") {
			return "**" + s + " ▼**"
		}
	}
	return s
}

func trendMarkdown(t results.Trend) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## loadcheck trend: %d runs", len(t.Runs))
	if n := len(t.Runs); n > 0 {
		fmt.Fprintf(&b, ", %s to %s", t.Runs[0].At.UTC().Format("2006-01-02 15:04"), t.Runs[n-1].At.UTC().Format("2006-01-02 15:04"))
	}
	fmt.Fprintf(&b, "\n\nBaseline: run %s (the first). Each run is compared with the one before it, as `loadcheck compare` judges; a regression is **bold ▼**.\n", t.Baseline)
	for _, c := range t.Configs {
		fmt.Fprintf(&b, "\n### %s\n\n| run | date | verdict | %s | regression |\n|%s\n", c.Config, strings.Join(t.Metrics, " | "), strings.Repeat(" --- |", len(t.Metrics)+4))
		for _, p := range c.Points {
			r := t.Runs[p.Run]
			cells := []string{r.RunID, r.At.UTC().Format("2006-01-02 15:04"), p.Verdict}
			for _, m := range t.Metrics {
				cells = append(cells, trendCell(p, m))
			}
			reg := "-"
			if p.Regression {
				reg = "**" + strings.Join(p.Why, "; ") + "**"
			}
			fmt.Fprintf(&b, "| %s | %s |\n", strings.Join(cells, " | "), reg)
		}
	}
	return b.String()
}

var trendPage = template.Must(template.New("trend").Funcs(pageFuncs).Parse(pageTop + `.reg { color: #b3261e; font-weight: bold; }
` + legendCSS + `</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>{{.Intro}}</p>
{{range .Plots}}<figure id="{{.ID}}">{{.SVG}}` + legendHTML + `<figcaption>{{.Note}}</figcaption></figure>
{{end}}
{{range .Configs}}{{$c := .}}<h2><span class="swatch" style="background: {{color .Index}}"></span>{{.Config}}</h2>
<table>
<tr><th>run</th><th>date</th><th>verdict</th>{{range $.Metrics}}<th>{{.}}</th>{{end}}<th>regression</th></tr>
{{range .Rows}}<tr>{{range .Cells}}<td>{{.}}</td>{{end}}<td class="{{if .Regression}}reg{{end}}">{{.Why}}</td></tr>
{{end}}</table>
{{end}}
</body>
</html>
`))

func trendHTML(w io.Writer, t results.Trend) error {
	type row struct {
		Cells      []string
		Regression bool
		Why        string
	}
	type cfg struct {
		Index  int
		Config string
		Rows   []row
	}
	var plots []Plot
	for _, m := range t.Metrics {
		var lines []series
		for i, c := range t.Configs {
			s := series{label: c.Config, color: i}
			for _, p := range c.Points {
				if v, ok := p.Values[m]; ok {
					s.xy = append(s.xy, plotter.XY{X: float64(p.Run + 1), Y: v})
				}
			}
			if len(s.xy) > 0 {
				lines = append(lines, s)
			}
		}
		if len(lines) == 0 {
			continue
		}
		svg, err := drawSVG(m+" over runs", "run (oldest first)", m, lines, plotOpts{w: 9 * vg.Inch, h: 3 * vg.Inch})
		if err != nil {
			return err
		}
		plots = append(plots, Plot{ID: "trend-" + measureSlug(m), Title: m, SVG: svg, Legend: legendOf(lines), Note: "one line per config; the runs are listed in the tables below"})
	}
	var cfgs []cfg
	for i, c := range t.Configs {
		x := cfg{Index: i, Config: c.Config}
		for _, p := range c.Points {
			r := t.Runs[p.Run]
			cells := []string{r.RunID, r.At.UTC().Format("2006-01-02 15:04"), p.Verdict}
			for _, m := range t.Metrics {
				cells = append(cells, strings.Trim(trendCell(p, m), "*"))
			}
			x.Rows = append(x.Rows, row{Cells: cells, Regression: p.Regression, Why: strings.Join(p.Why, "; ")})
		}
		cfgs = append(cfgs, x)
	}
	intro := fmt.Sprintf("%d runs; baseline %s (the first). Each run is compared with the one before it, as loadcheck compare judges; a regressed value is marked ▼.", len(t.Runs), t.Baseline)
	return trendPage.Execute(w, struct {
		Title, Intro string
		Plots        []Plot
		Metrics      []string
		Configs      []cfg
	}{"loadcheck trend", intro, plots, t.Metrics, cfgs})
}
