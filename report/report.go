package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/loadcheck/loadcheck/results"
)

// Formats are the report formats Render knows.
var Formats = []string{"table", "markdown", "json", "junit", "html", "github"}

// Render writes f in format.
func Render(w io.Writer, f *results.File, format string) error {
	switch format {
	case "table":
		return WriteTable(w, f)
	case "markdown", "md":
		return WriteMarkdown(w, f)
	case "json":
		return results.WriteIndented(w, f)
	case "junit":
		return WriteJUnit(w, f)
	case "html":
		return WriteHTML(w, f)
	case "github":
		return WriteGitHub(w, f)
	}
	return fmt.Errorf("unknown format %q: choose from %s", format, strings.Join(Formats, ", "))
}

// describeLoad is one line saying what load the run offered.
func describeLoad(f *results.File) string {
	l := f.Scenario.Load
	mode := fmt.Sprintf("%g request/s per connection", l.RatePerConn)
	if l.ClosedLoop {
		mode = "closed loop"
	}
	d := fmt.Sprintf("%d connections, %s, ramp %s, warm-up %s, measured %s, timeout %s",
		l.Connections, mode, l.Ramp, l.DescribeWarmUp(), l.Duration, l.Timeout)
	if n := f.Scenario.Repeats(); n > 1 {
		d += fmt.Sprintf("; each config run %d times, interleaved (cells: median (min–max))", n)
	}
	return d
}

func title(f *results.File) string {
	t := fmt.Sprintf("loadcheck %s: run %s", f.Scenario.Name, f.RunID)
	if !f.Complete {
		t += " (incomplete)"
	}
	return t
}

// WriteMarkdown renders f for a CI job summary or a pull-request comment.
func WriteMarkdown(w io.Writer, f *results.File) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", title(f))
	if d := f.Scenario.Description; d != "" {
		fmt.Fprintf(&b, "_%s_\n\n", d)
	}
	pass := 0
	for _, r := range f.Runs {
		if r.Verdict == results.Pass {
			pass++
		}
	}
	fmt.Fprintf(&b, "**%d of %d configs passed.** %s; started %s on %s (%d CPUs), loadcheck %s.\n\n",
		pass, len(f.Runs), describeLoad(f), f.StartedAt.UTC().Format(time.RFC3339), f.Environment.Hostname, f.Environment.CPUs, f.Environment.LoadcheckVersion)
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	b.WriteString("| " + strings.Join(summaryHeader, " | ") + " |\n|")
	for i := range summaryHeader {
		if i == 0 || i == 7 {
			b.WriteString(" --- |")
		} else {
			b.WriteString(" ---: |")
		}
	}
	b.WriteString("\n")
	for _, r := range f.Runs {
		row := summaryRow(r)
		for i := range row {
			row[i] = cell(row[i])
		}
		if r.Verdict == results.Pass {
			row[len(row)-1] = "✅ " + row[len(row)-1]
		} else {
			row[len(row)-1] = "❌ " + row[len(row)-1]
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	for _, r := range f.Runs {
		if lines := r.Rollout.Lines(); len(lines) > 0 {
			fmt.Fprintf(&b, "\n```\n%s\n```\n", strings.Join(lines, "\n"))
		}
		if lines := r.Soak.Lines(); len(lines) > 0 {
			fmt.Fprintf(&b, "\n**%s**\n\n```\n%s\n```\n", r.Config, strings.Join(lines, "\n"))
		}
	}
	for _, r := range f.Runs {
		if r.Verdict == results.Pass {
			continue
		}
		fmt.Fprintf(&b, "\n**%s %s**\n\n", r.Config, r.VerdictLabel())
		for _, why := range r.Reasons {
			fmt.Fprintf(&b, "- %s\n", why)
		}
		if r.Diagnosis != "" {
			fmt.Fprintf(&b, "\nWhy: %s\n", r.Diagnosis)
		}
		if a := arrivalLine(r); a != "" {
			fmt.Fprintf(&b, "\nArrival: %s\n", a)
		}
	}
	for _, lines := range [][]string{tlsLines(f), pathClassLines(f), clientGroupLines(f)} {
		if len(lines) > 0 {
			b.WriteString("\n")
			for _, l := range lines {
				fmt.Fprintf(&b, "- %s\n", l)
			}
		}
	}
	if lines := append(append(serverSide(f), generatorLines(f)...), headroomLines(f)...); len(lines) > 0 {
		b.WriteString("\n<details><summary>Server side</summary>\n\n")
		for _, l := range lines {
			fmt.Fprintf(&b, "- %s\n", l)
		}
		b.WriteString("\n</details>\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
	SystemOut string      `xml:"system-out,omitempty"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// repeatCases are the JUnit cases of a config run several times: one per
// repeat, failed with that repeat's reasons, and one for the verdict over
// all of them, so that a flaky config fails with its count.
func repeatCases(r results.Run, class string) (cases []junitCase, failures, errs int) {
	for _, rep := range r.Repeats {
		c := junitCase{Name: fmt.Sprintf("repeat %d", rep.Repeat), ClassName: class, Time: fmt.Sprintf("%.3f", rep.MeasuredS)}
		text := strings.Join(rep.Reasons, "\n")
		switch rep.Verdict {
		case results.Error, results.Inconclusive:
			c.Error = &junitProblem{Message: text, Type: "setup", Text: text}
			errs++
		case results.Fail:
			if rep.Diagnosis != "" {
				text += "\nwhy: " + rep.Diagnosis
			}
			c.Failure = &junitProblem{Message: strings.Join(rep.Reasons, "; "), Type: "repeat", Text: text}
			failures++
		}
		cases = append(cases, c)
	}
	c := junitCase{Name: fmt.Sprintf("every one of %d repeats passes", len(r.Repeats)), ClassName: class, Time: "0"}
	if r.Verdict != results.Pass {
		msg := fmt.Sprintf("%s: %s repeats passed", r.VerdictLabel(), r.Spread.Count())
		c.Failure = &junitProblem{Message: msg, Type: r.Verdict, Text: msg + "\n" + strings.Join(r.Reasons, "\n")}
		failures++
	}
	return append(cases, c), failures, errs
}

// WriteJUnit renders f as JUnit XML: one test suite per config and one test
// case per threshold, so CI systems show pass and fail natively.
func WriteJUnit(w io.Writer, f *results.File) error {
	all := junitSuites{Name: "loadcheck " + f.Scenario.Name}
	for _, r := range f.Runs {
		s := junitSuite{Name: r.Config, Time: fmt.Sprintf("%.3f", r.MeasuredS), Timestamp: f.StartedAt.UTC().Format("2006-01-02T15:04:05")}
		class := "loadcheck." + f.Scenario.Name + "." + r.Config
		if len(r.Repeats) > 0 {
			s.Cases, s.Failures, s.Errors = repeatCases(r, class)
		} else if !r.Measured() {
			msg := r.Error
			typ := "setup"
			if msg == "" {
				msg, typ = r.Server.OOMAtStart, "oom"
			}
			c := junitCase{Name: "setup", ClassName: class, Time: "0"}
			if typ == "setup" {
				c.Error = &junitProblem{Message: msg, Type: typ, Text: msg}
				s.Errors++
			} else {
				c.Failure = &junitProblem{Message: msg, Type: typ, Text: msg}
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
		} else {
			for _, ch := range results.Checks(r, f.Scenario.Thresholds) {
				c := junitCase{Name: ch.Name + ": " + ch.Want, ClassName: class, Time: "0"}
				switch {
				case ch.Failed && r.Verdict == results.Inconclusive:
					// The generator was the limit: nothing here judges the
					// config, so it is an error of the test, not a failure.
					c.Error = &junitProblem{Message: strings.Split(ch.Message, "\n")[0], Type: "inconclusive", Text: ch.Message}
					s.Errors++
				case ch.Failed:
					text := ch.Message
					if r.Diagnosis != "" {
						text += "\nwhy: " + r.Diagnosis
					}
					c.Failure = &junitProblem{Message: strings.Split(ch.Message, "\n")[0], Type: ch.Name, Text: text}
					s.Failures++
				}
				s.Cases = append(s.Cases, c)
			}
			s.SystemOut = strings.Join(summaryRow(r), " | ")
		}
		s.Tests = len(s.Cases)
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Errors += s.Errors
		all.Suites = append(all.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
