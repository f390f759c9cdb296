package report

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/loadcheck/loadcheck/capacity"
	"github.com/loadcheck/loadcheck/results"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

var capacityHeader = []string{"config", "holds", "fails at", "why it fails", "KB/conn", "CPU µs/req", "time to capacity", "directive limit", "projected", "limited by", "suggestion"}

func capacityRow(c capacity.ConfigResult) []string {
	i := func(n int) string {
		if n <= 0 {
			return "-"
		}
		return strconv.Itoa(n)
	}
	holds := i(c.MaxPass)
	if c.MaxPass == 0 && len(c.Probes) > 0 {
		holds = "< " + strconv.Itoa(c.Probes[len(c.Probes)-1].Connections)
	}
	fails := i(c.FirstFail)
	if c.FirstFail == 0 && c.ClientLimitedAt > 0 {
		fails = "client-limited at " + strconv.Itoa(c.ClientLimitedAt)
		if c.MaxPass > 0 {
			holds = ">= " + holds // a lower bound: the server's limit is higher
		}
	} else if c.FirstFail == 0 && c.Unfinished == "" && c.MaxPass > 0 {
		fails = "none up to max"
	}
	why := c.FailReason
	if why == "" {
		why = "-"
	}
	ttc := "-"
	if c.TimeToCapacityS >= 0 {
		ttc = fmt.Sprintf("%gs", c.TimeToCapacityS)
	}
	sug := "-"
	if s := c.Suggestion; s != nil {
		sug = s.Verdict
		if s.Verdict != "not run" {
			sug = fmt.Sprintf("%s at %d", strings.ToUpper(s.Verdict), s.Target)
		}
		if fb := s.Fallback; fb != nil {
			sug += "; roomier: " + strings.ToUpper(fb.Verdict)
		}
	}
	f := func(v float64) string {
		if v <= 0 {
			return "-"
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return []string{c.Config.Name, holds, fails, why, f(c.MemPerConnKB), f(c.CPUPerReqUS), ttc, i(c.DirectiveLimit), i(c.ProjectedConns), c.LimitedBy, sug}
}

// suggestionNote says what a suggestion sets, why, and how its confirming
// run went.
func suggestionNote(label string, s *capacity.Suggestion) string {
	var ds []string
	for _, d := range s.Directives {
		ds = append(ds, d.Name+" "+d.Value)
	}
	line := fmt.Sprintf("%s for %d connections: %s (%s)", label, s.Target, strings.Join(ds, ", "), s.Why)
	if cr := s.Confirm; cr != nil {
		line += fmt.Sprintf("; confirming run: %s, served %d of %d, dropped %.2f%%, p99 %g ms", strings.ToUpper(s.Verdict), cr.Connections.Served, cr.Connections.Target, cr.Requests.DroppedPct, cr.LatencyMS.P99)
		if len(cr.Reasons) > 0 && s.Verdict != results.Pass {
			line += " (" + strings.Join(cr.Reasons, "; ") + ")"
		}
	}
	if s.Note != "" {
		line += "; " + s.Note
	}
	return line
}

func capacityNotes(f *capacity.File) []string {
	var out []string
	for _, c := range f.Configs {
		var parts []string
		if c.Projection != "" {
			parts = append(parts, c.Projection)
		}
		if c.MemMethod != "" {
			parts = append(parts, "memory: "+c.MemMethod)
		}
		if c.Repeat != "" {
			parts = append(parts, c.Repeat)
		}
		if n := c.ArrivalNote(); n != "" {
			parts = append(parts, n)
		}
		if c.Unfinished != "" {
			parts = append(parts, "not finished: "+c.Unfinished)
		}
		if s := c.Suggestion; s != nil {
			parts = append(parts, suggestionNote("suggestion", s))
			if s.Fallback != nil {
				parts = append(parts, suggestionNote("roomier suggestion", s.Fallback))
			}
		}
		if st := c.Stepped; st != nil {
			parts = append(parts, steppedNote(st))
		}
		var probes []string
		for _, p := range c.Probes {
			probes = append(probes, fmt.Sprintf("%d %s", p.Connections, p.Outcome))
		}
		parts = append(parts, "probes: "+strings.Join(probes, ", "))
		out = append(out, c.Config.Name+": "+strings.Join(parts, "; "))
	}
	return out
}

// steppedNote is a stepped run in one phrase: "stepped run (31 s): 250
// held, 500 not held (441 answered): knee 441".
func steppedNote(st *capacity.Stepped) string {
	if st.Error != "" {
		return "no stepped run: " + st.Error
	}
	var steps []string
	for _, s := range st.Steps {
		if s.Held {
			steps = append(steps, fmt.Sprintf("%d held", s.Connections))
		} else {
			steps = append(steps, fmt.Sprintf("%d not held (%d answered; %s)", s.Connections, s.Answered, s.Why))
		}
	}
	return fmt.Sprintf("stepped run (%.0f s): %s: knee %d", st.ElapsedS, strings.Join(steps, ", "), st.Knee)
}

func capacityTitle(f *capacity.File) string {
	t := fmt.Sprintf("loadcheck capacity, scenario %s: run %s", f.Scenario.Name, f.RunID)
	if !f.Complete {
		t += " (not every search finished)"
	}
	return t
}

func capacityIntro(f *capacity.File) string {
	l := f.Scenario.Load
	intro := ""
	if d := f.Scenario.Description; d != "" {
		intro = d + ". "
	}
	return intro + fmt.Sprintf("Each probe is a real run against a fresh container: ramp %s, warm-up %s, measured %s, %g req/s per connection; pass = %g%% served, <= %g%% dropped, p99 <= %s. Search from %d doubling to %d, then bisection to %g%%; %.0f of %.0f min budget used.",
		l.Ramp, l.DescribeWarmUp(), l.Duration, l.RatePerConn, f.Scenario.Thresholds.MinServedPct, f.Scenario.Thresholds.MaxDroppedPct, f.Scenario.Thresholds.MaxP99,
		f.Search.Start, f.Search.Max, f.Search.PrecisionPct, f.ElapsedS/60, f.Search.Budget.Minutes())
}

// RenderCapacity writes f as table, markdown, json or html.
func RenderCapacity(w io.Writer, f *capacity.File, format string) error {
	switch format {
	case "json":
		return results.WriteIndented(w, f)
	case "table":
		// The reasons are sentences: wrapped in their columns, left
		// aligned, the table stays readable in a terminal.
		left := make([]tw.Align, len(capacityHeader))
		for i := range left {
			left[i] = tw.AlignRight
		}
		left[0], left[3], left[9] = tw.AlignLeft, tw.AlignLeft, tw.AlignLeft
		t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off),
			tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: left}),
			tablewriter.WithRowAutoWrap(tw.WrapNormal),
			tablewriter.WithColumnWidths(tw.Mapper[int, int]{3: 60, 9: 30}))
		t.Header(capacityHeader)
		for _, c := range f.Configs {
			if err := t.Append(capacityRow(c)); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
		for _, n := range capacityNotes(f) {
			fmt.Fprintln(w, n)
		}
		return nil
	case "markdown", "md":
		var b strings.Builder
		fmt.Fprintf(&b, "## %s\n\n%s\n\n", capacityTitle(f), capacityIntro(f))
		b.WriteString("| " + strings.Join(capacityHeader, " | ") + " |\n|" + strings.Repeat(" --- |", len(capacityHeader)) + "\n")
		for _, c := range f.Configs {
			row := capacityRow(c)
			for i := range row {
				row[i] = strings.ReplaceAll(row[i], "|", `\|`)
			}
			b.WriteString("| " + strings.Join(row, " | ") + " |\n")
		}
		b.WriteString("\n")
		for _, n := range capacityNotes(f) {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		_, err := io.WriteString(w, b.String())
		return err
	case "html":
		return writeCapacityHTML(w, f)
	}
	return fmt.Errorf("unknown format %q for a capacity run: choose from table, markdown, json, html", format)
}

// CapacityPlots draws served connections and p99 against the offered
// count, and memory against held connections, one line per config.
func CapacityPlots(f *capacity.File) ([]Plot, error) {
	served, p99, mem := capacitySeries(f)
	var out []Plot
	for _, spec := range []struct{ id, title, x, y, note string }{
		{"served", "Connections served against connections offered", "connections offered", "connections served", "Each point is one probe; a config holds the load while its line follows the diagonal. A probe stopped by a client limit is left out here and in the p99 plot: it measured the generator."},
		{"p99", "p99 latency against connections offered", "connections offered", "p99 (ms)", "Over OK responses only: a config that starves connections can still show a low p99."},
		{"memory", "Container memory against connections held", "connections held (served + partly served)", "MB at the end of the probe", "The slope is the memory per connection."},
	} {
		lines := map[string][]series{"served": served, "p99": p99, "memory": mem}[spec.id]
		svg, err := drawSVG(spec.title, spec.x, spec.y, lines, plotOpts{w: 9 * vg.Inch, h: 4 * vg.Inch})
		if err != nil {
			return nil, err
		}
		out = append(out, Plot{ID: "plot-" + spec.id, Title: spec.title, Note: spec.note, SVG: svg, Legend: legendOf(lines)})
	}
	return out, nil
}

// capacitySeries is each config's probes as points: connections served and
// p99 against connections offered, memory against connections held.
func capacitySeries(f *capacity.File) (served, p99, mem []series) {
	for i, c := range f.Configs {
		probes := append([]capacity.Probe{}, c.Probes...)
		sort.Slice(probes, func(a, b int) bool { return probes[a].Connections < probes[b].Connections })
		var s, p, m plotter.XYs
		for _, pr := range probes {
			r := pr.Run
			if !r.Measured() {
				continue
			}
			if r.Server != nil && r.Server.MemoryEndMB > 0 {
				m = append(m, plotter.XY{X: float64(r.Connections.Served + r.Connections.PartlyServed), Y: r.Server.MemoryEndMB})
			}
			if pr.Outcome == capacity.ProbeClientLimited {
				continue // it measured the generator, not httpd: not a point on httpd's curves
			}
			s = append(s, plotter.XY{X: float64(pr.Connections), Y: float64(r.Connections.Served)})
			if r.Requests.OK > 0 {
				p = append(p, plotter.XY{X: float64(pr.Connections), Y: r.LatencyMS.P99})
			}
		}
		sort.Slice(m, func(a, b int) bool { return m[a].X < m[b].X })
		served = append(served, series{c.Config.Name, i, s, 0})
		p99 = append(p99, series{c.Config.Name, i, p, 0})
		mem = append(mem, series{c.Config.Name, i, m, 0})
	}
	return served, p99, mem
}

var capacityHTML = template.Must(template.New("capacity").Funcs(pageFuncs).Parse(pageTop + `td:first-child, td:nth-child(4), td:nth-child(10) { text-align: left; }
` + legendCSS + `</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>{{.Intro}}</p>
<table id="capacity">
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}{{$row := .}}<tr>{{range $i, $c := .Cells}}<td>{{if eq $i 0}}<span class="swatch" style="background: {{color $row.Index}}"></span>{{end}}{{$c}}</td>{{end}}</tr>
{{end}}</table>
<ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>
{{range .Plots}}<figure id="{{.ID}}">
{{.SVG}}` + legendHTML + `
<figcaption>{{.Note}}</figcaption>
</figure>
{{end}}
<p><small>loadcheck {{.Version}}, schema {{.Schema}}.</small></p>
</body>
</html>
`))

func writeCapacityHTML(w io.Writer, f *capacity.File) error {
	plots, err := CapacityPlots(f)
	if err != nil {
		return err
	}
	var rows []htmlRow
	for i, c := range f.Configs {
		rows = append(rows, htmlRow{i, capacityRow(c)})
	}
	return capacityHTML.Execute(w, struct {
		Title, Intro, Version, Schema string
		Header                        []string
		Rows                          []htmlRow
		Notes                         []string
		Plots                         []Plot
	}{capacityTitle(f), capacityIntro(f), f.Environment.LoadcheckVersion, f.Schema, capacityHeader, rows, capacityNotes(f), plots})
}
