package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/loadcheck/loadcheck/capacity"
	"github.com/loadcheck/loadcheck/report"
	"github.com/loadcheck/loadcheck/results"
)

// cmdReport is `loadcheck report RUN`: a stored run rendered again.
func cmdReport(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("loadcheck report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "table", "one of "+strings.Join(report.Formats, ", "))
	out := fs.String("o", "", "write to this `FILE` (atomically) instead of stdout")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadcheck report RUN [--format table|markdown|json|junit|html|github] [-o FILE]

Re-renders a stored run. RUN is a run folder (runs/RUN-ID) or a result
JSON file; a capacity run folder renders as table, markdown, json or html.
markdown suits CI job summaries and pull-request comments, junit
has one test case per config and threshold, html is one self-contained page
with plots, github prints a GitHub Actions annotation (::error, ::warning)
for each config that did not pass. Exit 0 when every config passed, 1 when one failed, 2 on bad input.

Flags:
`)
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args, 1, "one run folder")
	if err != nil {
		return exitSetup, err
	}
	if !slices.Contains(report.Formats, *format) && *format != "md" {
		return exitSetup, &usageError{fmt.Sprintf("--format %q: choose from %s", *format, strings.Join(report.Formats, ", "))}
	}
	capPath := pos[0]
	if st, err := os.Stat(capPath); err == nil && st.IsDir() {
		capPath = filepath.Join(capPath, capacity.ResultFile)
	}
	if _, err := os.Stat(capPath); err == nil && filepath.Base(capPath) == capacity.ResultFile {
		cf, err := capacity.Read(capPath)
		if err != nil {
			return exitSetup, err
		}
		if err := writeOut(*out, stdout, func(w io.Writer) error { return report.RenderCapacity(w, cf, *format) }); err != nil {
			return exitSetup, err
		}
		if !cf.Complete {
			return exitFail, nil
		}
		return exitPass, nil
	}
	f, err := results.ReadRun(pos[0])
	if err != nil {
		return exitSetup, err
	}
	if err := writeOut(*out, stdout, func(w io.Writer) error { return report.Render(w, f, *format) }); err != nil {
		return exitSetup, err
	}
	if *out != "" && *out != "-" {
		fmt.Fprintf(stderr, "loadcheck: wrote %s\n", *out)
	}
	if f.AllPass() {
		return exitPass, nil
	}
	return exitFail, nil
}
