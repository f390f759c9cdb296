package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/loadcheck/loadcheck/results"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// compareCell is one metric of one config: base -> new (change), its
// p-value, and ! or + for a regression or an improvement.
func compareCell(d results.ConfigDelta, metric string) string {
	for _, x := range d.Deltas {
		if x.Metric != metric {
			continue
		}
		s := fmt.Sprintf("%s -> %s (%s)", results.Trim(x.Base), results.Trim(x.New), results.PctChange(x.Base, x.New))
		if x.P > 0 {
			s += fmt.Sprintf(" p=%.2g", x.P)
		}
		switch x.Verdict {
		case "regression":
			s += " !"
		case "better":
			s += " +"
		}
		return s
	}
	return "-"
}

// compareHeader and compareRow are the comparison table's.
func compareHeader() []string {
	h := append([]string{"config", "verdict"}, results.ComparedMetrics()...)
	return append(h, "result")
}

func compareRow(d results.ConfigDelta) []string {
	row := []string{d.Config, d.BaseVerdict + " -> " + d.NewVerdict}
	for _, m := range results.ComparedMetrics() {
		row = append(row, compareCell(d, m))
	}
	res := "ok"
	if d.Regression {
		res = "REGRESSION"
	}
	return append(row, res)
}

// compareSummary is the line under the table: how many regressed, and
// the rule.
func compareSummary(c results.Comparison) string {
	s := fmt.Sprintf("%d of %d configs regressed (noise: changes within %g%% (served: %g%%) or within the floors %g ms latency, %g %%-points dropped, %g KB/conn count as the same)",
		c.Regressions, len(c.Configs), c.Noise.RelPct, c.Noise.ServedPct, c.Noise.LatencyMS, c.Noise.DroppedPts, c.Noise.MemPerConnKB)
	if c.Test != "" {
		s += "; " + c.Test
	}
	return s
}

// WriteComparison renders a comparison (results.Compare) as table,
// markdown or json.
func WriteComparison(w io.Writer, c results.Comparison, format string) error {
	switch format {
	case "json":
		return results.WriteIndented(w, c)
	case "markdown", "md":
		var b strings.Builder
		fmt.Fprintf(&b, "## loadcheck compare: %s -> %s\n\n", c.Base, c.New)
		for _, warn := range c.Warnings {
			fmt.Fprintf(&b, "> **Warning:** %s\n\n", warn)
		}
		fmt.Fprintf(&b, "**%s.** `!` marks a regression, `+` an improvement beyond the noise.\n\n", compareSummary(c))
		h := compareHeader()
		b.WriteString("| " + strings.Join(h, " | ") + " |\n|" + strings.Repeat(" --- |", len(h)) + "\n")
		for _, d := range c.Configs {
			b.WriteString("| " + strings.Join(compareRow(d), " | ") + " |\n")
		}
		for _, d := range c.Configs {
			if d.Regression {
				fmt.Fprintf(&b, "\n**%s regressed:** %s\n", d.Config, strings.Join(d.Why, "; "))
			}
		}
		_, err := io.WriteString(w, b.String())
		return err
	case "table":
		for _, warn := range c.Warnings {
			fmt.Fprintf(w, "warning: %s\n", warn)
		}
		t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAlignment(tw.AlignRight))
		t.Header(compareHeader())
		for _, d := range c.Configs {
			if err := t.Append(compareRow(d)); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
		for _, d := range c.Configs {
			if d.Regression {
				fmt.Fprintf(w, "%s REGRESSION: %s\n", d.Config, strings.Join(d.Why, "; "))
			}
		}
		fmt.Fprintln(w, compareSummary(c))
		return nil
	}
	return fmt.Errorf("unknown format %q: choose from table, markdown, json", format)
}
