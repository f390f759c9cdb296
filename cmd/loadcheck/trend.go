package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/loadcheck/loadcheck/report"
	"github.com/loadcheck/loadcheck/results"
)

// cmdTrend is `loadcheck trend RUN...`: the stored runs over time.
func cmdTrend(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("loadcheck trend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "markdown", strings.Join(report.TrendFormats, ", "))
	out := fs.String("o", "", "write to this `FILE` (atomically) instead of stdout")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadcheck trend DIR|RUN... [--format FORMAT] [-o FILE]

Follows each config through stored runs over time: a folder of run
folders (the nightly results), run folders, or result JSON files, ordered
by their start. Per config: served, dropped %, p50, p99, req/s and memory
per connection of every run, the first run as the baseline, and each run
compared with the one before as loadcheck compare judges (regressions
marked). Formats: markdown (tables), html (a plot per metric and the
tables), json, and for CI tools the newest run alone: gab-smaller and
gab-bigger (github-action-benchmark's customSmallerIsBetter and
customBiggerIsBetter) and bencher (Bencher's metric format).
Exit 0, 1 when the newest run regressed from the one before, 2 bad input.

Flags:
`)
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args, -1, "run folders, a folder of them, or result JSON files")
	if err != nil {
		return exitSetup, err
	}
	if !slices.Contains(report.TrendFormats, *format) && *format != "md" {
		return exitSetup, &usageError{fmt.Sprintf("--format %q: choose from %s", *format, strings.Join(report.TrendFormats, ", "))}
	}
	var files []*results.File
	for _, p := range pos {
		found, err := storedRuns(p, func(err error) { fmt.Fprintf(stderr, "loadcheck: warning: left out of the trend: %v\n", err) })
		if err != nil {
			return exitSetup, err
		}
		files = append(files, found...)
	}
	t := results.BuildTrend(files, results.DefaultNoise())
	if err := writeOut(*out, stdout, func(w io.Writer) error { return report.WriteTrend(w, t, *format) }); err != nil {
		return exitSetup, err
	}
	last := len(t.Runs) - 1
	for _, c := range t.Configs {
		if n := len(c.Points); last > 0 && n > 0 && c.Points[n-1].Run == last && c.Points[n-1].Regression {
			return exitFail, nil
		}
	}
	return exitPass, nil
}

// storedRuns reads the run at path (a run folder or a result JSON file),
// or every run folder directly under it; one of those that cannot be read
// is left out, and skip is told why.
func storedRuns(path string, skip func(error)) ([]*results.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		f, err := results.ReadRun(path)
		return []*results.File{f}, err
	}
	if _, err := os.Stat(filepath.Join(path, "result.json")); err == nil {
		f, err := results.ReadRun(path)
		return []*results.File{f}, err
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var out []*results.File
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(path, e.Name(), "result.json")); e.IsDir() && err == nil {
			f, err := results.ReadRun(filepath.Join(path, e.Name()))
			if err != nil {
				skip(err)
				continue
			}
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, &usageError{fmt.Sprintf("%s: no stored run in it (a run folder holds result.json)", path)}
	}
	return out, nil
}
