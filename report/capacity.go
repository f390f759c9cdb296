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
	"github.com/loadcheck/loadcheck/scenarios"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

var capacityHeader = []string{"config", "holds", "fails at", "why it fails", "KB/conn", "CPU µs/req", "time to capacity", "directive limit", "projected elsewhere", "its limit there", "suggestion"}

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
	why := shortPhrase(c.FailReason)
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
	line := strings.TrimSpace(fmt.Sprintf("%s for %d connections: %s (%s)", label, s.Target, strings.Join(ds, ", "), s.Why))
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

// shortPhrase is the first phrase of a reason (up to its first ";"),
// for a table cell; "-" for none. The whole reason is in the details.
func shortPhrase(why string) string {
	if why == "" {
		return "-"
	}
	first, _, _ := strings.Cut(why, "; ")
	return first
}

// capacityDetail is one config's details, as short lines.
type capacityDetail struct {
	Config string
	Lines  []string
}

// capacityDetails are each config's details: why it fails, the
// projection, how memory was measured, how sure the limit is, the
// suggestion, the stepped run, the probes; one short line each.
func capacityDetails(f *capacity.File) []capacityDetail {
	var out []capacityDetail
	for _, c := range f.Configs {
		var lines []string
		add := func(label, v string) {
			if v != "" {
				lines = append(lines, label+": "+v)
			}
		}
		add("why it fails", c.FailReason)
		add("projection", c.Projection)
		add("memory", c.MemMethod)
		add("limit", c.Repeat)
		add("arrival", c.ArrivalNote())
		add("target", c.TargetNote())
		if len(c.SideBySide) > 0 {
			add("side by side", "searched at the same time as "+strings.Join(c.SideBySide, ", ")+", each against its own server")
		}
		add("not finished", c.Unfinished)
		if s := c.Suggestion; s != nil {
			add("suggestion", suggestionNote("", s))
			if s.Fallback != nil {
				add("roomier suggestion", suggestionNote("", s.Fallback))
			}
		}
		if st := c.Stepped; st != nil {
			add("stepped run", steppedNote(st))
		}
		var probes []string
		for _, p := range c.Probes {
			probes = append(probes, fmt.Sprintf("%d %s", p.Connections, p.Outcome))
		}
		add("probes", strings.Join(probes, ", "))
		out = append(out, capacityDetail{c.Config.Name, lines})
	}
	return out
}

// cardLine is a config's card in one line of text.
func cardLine(k capacity.Card) string {
	holds := fmt.Sprintf("holds %d", k.Holds)
	if k.AtLeast {
		holds = fmt.Sprintf("holds at least %d", k.Holds)
	}
	if k.FailsAt > 0 {
		holds += fmt.Sprintf(" (fails at %d)", k.FailsAt)
	}
	parts := []string{holds, "limited by " + k.LimitedBy, k.Headroom(), k.Sure}
	if k.Suggestion != "" {
		parts = append(parts, "suggestion: "+k.Suggestion)
	}
	if k.Host != "" {
		parts = append(parts, "elsewhere: "+k.Host)
	}
	return k.Config + ": " + strings.Join(parts, " · ")
}

// conditions says what every limit held under (the cards' first, with
// each config's arrival rate in its own card).
func conditions(a *capacity.Answer) string {
	if len(a.Cards) == 0 {
		return ""
	}
	c := a.Cards[0].Conditions
	if i := strings.Index(c, " ("); i >= 0 {
		if j := strings.Index(c[i:], ")"); j >= 0 {
			c = c[:i] + c[i+j+1:] // each config's arrival is its own
		}
	}
	return "Every limit held under: " + c + "."
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
	return intro + fmt.Sprintf("Each probe is a real run against a fresh container: ramp %s, warm-up %s, measured %s, %g req/s per connection; pass = %g%% served, <= %g%% dropped, p99 <= %s. %s; %.0f of %.0f min budget used.",
		l.Ramp, l.DescribeWarmUp(), l.Duration, l.RatePerConn, f.Scenario.Thresholds.MinServedPct, f.Scenario.Thresholds.MaxDroppedPct, f.Scenario.Thresholds.MaxP99,
		searchWords(f.Search), f.ElapsedS/60, f.Search.Budget.Minutes())
}

// searchWords says how the search went about it.
func searchWords(b scenarios.Capacity) string {
	s := fmt.Sprintf("A stepped run from %d to %d (each step %d times the last), then probes around its knee to %g%%", b.Start, b.Max, b.Steps(), b.PrecisionPct)
	if b.Search == scenarios.SearchBisect {
		s = fmt.Sprintf("Probes from %d doubling to %d, then bisection to %g%%", b.Start, b.Max, b.PrecisionPct)
	}
	if b.Arrival == scenarios.ArrivalNearTarget {
		s += "; arrival probed near the target only, the target itself for limits far above it"
	}
	return s
}

// RenderCapacity writes f as table, markdown, json or html. Each begins
// with the planner's answer (capacity.File.Answer): which configs hold
// the target, and a card per config.
func RenderCapacity(w io.Writer, f *capacity.File, format string) error {
	a := f.Answer()
	switch format {
	case "json":
		g := *f
		g.Planner = a
		return results.WriteIndented(w, &g)
	case "table":
		fmt.Fprintln(w, a.Line)
		for _, k := range a.Cards {
			fmt.Fprintln(w, "  "+cardLine(k))
		}
		fmt.Fprintln(w, conditions(a))
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
			tablewriter.WithColumnWidths(tw.Mapper[int, int]{3: 40, 9: 30}))
		t.Header(capacityHeader)
		for _, c := range f.Configs {
			if err := t.Append(capacityRow(c)); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
		for _, d := range capacityDetails(f) {
			fmt.Fprintln(w, d.Config+":")
			for _, l := range d.Lines {
				fmt.Fprintln(w, "  - "+l)
			}
		}
		return nil
	case "markdown", "md":
		var b strings.Builder
		fmt.Fprintf(&b, "## %s\n\n**%s**\n\n", capacityTitle(f), a.Line)
		for _, k := range a.Cards {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(cardLine(k), "|", `\|`))
		}
		fmt.Fprintf(&b, "\n%s\n\n%s\n\n", conditions(a), capacityIntro(f))
		b.WriteString("| " + strings.Join(capacityHeader, " | ") + " |\n|" + strings.Repeat(" --- |", len(capacityHeader)) + "\n")
		for _, c := range f.Configs {
			row := capacityRow(c)
			for i := range row {
				row[i] = strings.ReplaceAll(row[i], "|", `\|`)
			}
			b.WriteString("| " + strings.Join(row, " | ") + " |\n")
		}
		for _, d := range capacityDetails(f) {
			fmt.Fprintf(&b, "\n### %s\n\n", d.Config)
			for _, l := range d.Lines {
				fmt.Fprintf(&b, "- %s\n", l)
			}
		}
		_, err := io.WriteString(w, b.String())
		return err
	case "html":
		return writeCapacityHTML(w, f, a)
	}
	return fmt.Errorf("unknown format %q for a capacity run: choose from table, markdown, json, html", format)
}

// CapacityPlots draws served connections and p99 against the offered
// count, and memory against held connections: each config's probes as
// dots, its stepped run's steps as squares, the limit found as a ring,
// and for served the diagonal a config follows while it holds. Counts
// spanning more than tenfold go on log axes.
func CapacityPlots(f *capacity.File) ([]Plot, error) {
	served, p99, mem := capacitySeries(f)
	var out []Plot
	for _, spec := range []struct{ id, title, x, y, note string }{
		{"served", "Connections served against connections offered", "connections offered", "connections served", "Dots are probes, squares the stepped run's steps (connections answered), the ring each config's limit (the most it held); the dashed diagonal is served = offered, which a config follows while it holds. A probe stopped by a client limit is left out here and in the p99 plot: it measured the generator."},
		{"p99", "p99 latency against connections offered", "connections offered", "p99 (ms)", "Each dot is one probe's p99 over its OK responses only: a config that starves connections can still show a low p99. The ring is the limit's probe."},
		{"memory", "Container memory against connections held", "connections held (served + partly served)", "MB at the end of the probe", "Dots are probes, squares the stepped run's steps; the dashed line is the fitted memory per connection (KB/conn in the table)."},
	} {
		lines := map[string][]series{"served": served, "p99": p99, "memory": mem}[spec.id]
		o := plotOpts{w: 9 * vg.Inch, h: 4 * vg.Inch}
		if lo, hi := xSpan(lines); lo > 0 && hi/lo > 10 {
			o.logX, o.logTicks = true, true
			o.logY = spec.id == "served"
		}
		if spec.id == "served" {
			if lo, hi := xSpan(lines); hi > 0 {
				lines = append(lines, series{label: "served = offered", color: -1, xy: plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}}, dash: 2})
			}
		}
		svg, err := drawSVG(spec.title, spec.x, spec.y, lines, o)
		if err != nil {
			return nil, err
		}
		out = append(out, Plot{ID: "plot-" + spec.id, Title: spec.title, Note: spec.note, SVG: svg, Legend: legendOf(lines)})
	}
	return out, nil
}

// xSpan is the least and the greatest x of lines' points above 0.
func xSpan(lines []series) (lo, hi float64) {
	for _, l := range lines {
		for _, p := range l.xy {
			if p.X > 0 && (lo == 0 || p.X < lo) {
				lo = p.X
			}
			hi = max(hi, p.X)
		}
	}
	return lo, hi
}

// capacitySeries is each config's probes as dots (its name in the legend),
// its stepped run's steps as squares and its limit as a ring: connections
// served and p99 against connections offered, memory against connections
// held, with the fitted memory line.
func capacitySeries(f *capacity.File) (served, p99, mem []series) {
	for i, c := range f.Configs {
		probes := append([]capacity.Probe{}, c.Probes...)
		sort.Slice(probes, func(a, b int) bool { return probes[a].Connections < probes[b].Connections })
		var s, p, m, knee, kneeP99 plotter.XYs
		for _, pr := range probes {
			r := pr.Run
			if !r.Measured() {
				continue
			}
			held := float64(r.Connections.Served + r.Connections.PartlyServed)
			if r.Server != nil && r.Server.MemoryEndMB > 0 {
				m = append(m, plotter.XY{X: held, Y: r.Server.MemoryEndMB})
			}
			if pr.Outcome == capacity.ProbeClientLimited {
				continue // it measured the generator, not httpd: not a point on httpd's curves
			}
			if r.Connections.Served > 0 {
				s = append(s, plotter.XY{X: float64(pr.Connections), Y: float64(r.Connections.Served)})
			}
			if r.Requests.OK > 0 {
				p = append(p, plotter.XY{X: float64(pr.Connections), Y: r.LatencyMS.P99})
			}
			if pr.Connections == c.MaxPass && pr.Outcome == capacity.ProbePass && len(knee) == 0 {
				knee = append(knee, plotter.XY{X: float64(pr.Connections), Y: float64(r.Connections.Served)})
				if r.Requests.OK > 0 {
					kneeP99 = append(kneeP99, plotter.XY{X: float64(pr.Connections), Y: r.LatencyMS.P99})
				}
			}
		}
		var steps, stepMem plotter.XYs
		if st := c.Stepped; st != nil {
			for _, step := range st.Steps {
				if step.Answered > 0 {
					steps = append(steps, plotter.XY{X: float64(step.Connections), Y: float64(min(step.Answered, step.Connections))})
				}
				if step.MemoryMB > 0 {
					stepMem = append(stepMem, plotter.XY{X: float64(step.Connections), Y: step.MemoryMB})
				}
			}
		}
		sort.Slice(m, func(a, b int) bool { return m[a].X < m[b].X })
		served = append(served, series{label: c.Config.Name, color: i, xy: s, glyph: glyphDot},
			series{color: i, xy: steps, glyph: glyphBox}, series{color: i, xy: knee, glyph: glyphRing})
		p99 = append(p99, series{label: c.Config.Name, color: i, xy: p, glyph: glyphDot}, series{color: i, xy: kneeP99, glyph: glyphRing})
		mem = append(mem, series{label: c.Config.Name, color: i, xy: m, glyph: glyphDot}, series{color: i, xy: stepMem, glyph: glyphBox})
		if c.MemPerConnKB > 0 && len(m) > 0 && c.MemBaseMB > 0 {
			hi := m[len(m)-1].X
			mem = append(mem, series{color: i, xy: plotter.XYs{{X: m[0].X, Y: c.MemBaseMB + c.MemPerConnKB/1024*m[0].X}, {X: hi, Y: c.MemBaseMB + c.MemPerConnKB/1024*hi}}, dash: 2})
		}
	}
	return served, p99, mem
}

var capacityHTML = template.Must(template.New("capacity").Funcs(pageFuncs).Parse(pageTop + `td:first-child, td:nth-child(4), td:nth-child(10) { text-align: left; }
h1 { font-size: 1.4em; margin: 0 0 0.3em; }
.answer { font-size: 1.1em; }
.card p { margin: 0.15em 0; }
figure svg { max-width: 100%; height: auto; }
` + cardCSS + legendCSS + `</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="answer"><strong>{{.Answer.Line}}</strong></p>
<section id="cards">
{{range $i, $k := .Answer.Cards}}<div class="card" id="card-{{.Config}}" style="border-left-color: {{color $i}}">
<h2><span>{{.Config}}</span><span class="v-{{if .MeetsTarget}}pass">holds {{$.Answer.Target}}{{else}}fail">short of {{$.Answer.Target}}{{end}}</span></h2>
<div class="nums">holds {{if .AtLeast}}at least {{end}}{{.Holds}}{{if .FailsAt}}, fails at {{.FailsAt}}{{end}} ({{.Headroom}})</div>
<p>limited by {{.LimitedBy}}</p>
<p>{{.Sure}}</p>
{{with .Suggestion}}<p>suggestion: {{.}}</p>
{{end}}{{with .Host}}<p>elsewhere: {{.}}</p>
{{end}}</div>
{{end}}</section>
<p>{{.Conditions}} {{.Intro}}</p>
<table id="capacity">
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}{{$row := .}}<tr>{{range $i, $c := .Cells}}<td>{{if eq $i 0}}<span class="swatch" style="background: {{color $row.Index}}"></span>{{end}}{{$c}}</td>{{end}}</tr>
{{end}}</table>
{{range .Plots}}<figure id="{{.ID}}">
{{.SVG}}` + legendHTML + `
<figcaption>{{.Note}}</figcaption>
</figure>
{{end}}
<h2>Details</h2>
{{range .Details}}<h3>{{.Config}}</h3>
<ul>{{range .Lines}}<li>{{.}}</li>{{end}}</ul>
{{end}}
<p><small>loadcheck {{.Version}}, schema {{.Schema}}.</small></p>
</body>
</html>
`))

func writeCapacityHTML(w io.Writer, f *capacity.File, a *capacity.Answer) error {
	plots, err := CapacityPlots(f)
	if err != nil {
		return err
	}
	var rows []htmlRow
	for i, c := range f.Configs {
		rows = append(rows, htmlRow{i, capacityRow(c)})
	}
	return capacityHTML.Execute(w, struct {
		Title, Intro, Conditions, Version, Schema string
		Answer                                    *capacity.Answer
		Header                                    []string
		Rows                                      []htmlRow
		Details                                   []capacityDetail
		Plots                                     []Plot
	}{capacityTitle(f), capacityIntro(f), conditions(a), f.Environment.LoadcheckVersion, f.Schema, a, capacityHeader, rows, capacityDetails(f), plots})
}
