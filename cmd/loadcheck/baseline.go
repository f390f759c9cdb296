package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/loadcheck/loadcheck/results"
)

// defaultBaseline is where the nightly job looks for its baseline.
const defaultBaseline = ".loadcheck/baseline"

// cmdBaseline is `loadcheck baseline promote RUN`: a CI run becomes the
// baseline nightly runs are compared with.
func cmdBaseline(args []string, stdout, stderr io.Writer) (int, error) {
	fset := flag.NewFlagSet("loadcheck baseline promote", flag.ContinueOnError)
	fset.SetOutput(stderr)
	to := fset.String("to", defaultBaseline, "the baseline `DIR` the nightly job reads (.github/nightly.sh's BASELINE)")
	allowLocal := fset.Bool("allow-local", false, "promote a run made outside CI (its machine is not the runner's: every later comparison then compares machines too)")
	fset.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadcheck baseline promote RUN [--to DIR] [--allow-local]

Makes the run folder RUN the baseline of later nightly comparisons: the
folder is copied whole into DIR, replacing the baseline there in one
rename. RUN must be complete and made in CI (its result names the CI job,
environment.ci): a baseline from a laptop would make every nightly
"regression" partly the difference between two machines. Commit DIR, or
push it to the branch the workflow reads it from (docs/ci.md).
Exit 0 promoted, 2 refused or bad input.

Flags:
`)
		fset.PrintDefaults()
	}
	if len(args) == 0 || args[0] != "promote" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fset.Usage()
			return exitPass, errHelp
		}
		fset.Usage()
		return exitSetup, &usageError{`want "loadcheck baseline promote RUN"`}
	}
	pos, err := parseArgs(fset, args[1:], 1, "one run folder")
	if err != nil {
		return exitSetup, err
	}
	src := pos[0]
	if st, err := os.Stat(src); err != nil || !st.IsDir() {
		return exitSetup, &usageError{fmt.Sprintf("%s: not a run folder (runs/RUN-ID, holding result.json)", src)}
	}
	f, err := results.ReadRun(src)
	if err != nil {
		return exitSetup, err
	}
	if !f.Complete {
		return exitSetup, &usageError{fmt.Sprintf("%s: run %s did not finish (complete: false); promote a complete run", src, f.RunID)}
	}
	if f.Environment.CI == "" && !*allowLocal {
		return exitSetup, &usageError{fmt.Sprintf("%s: run %s was made on %s, not in CI (its environment.ci is empty); promote a CI run's folder (the nightly artifact), or pass --allow-local to accept the machine difference", src, f.RunID, f.Environment.Hostname)}
	}
	if err := replaceDir(src, *to); err != nil {
		return exitSetup, err
	}
	made := f.Environment.CI
	if made == "" {
		made = "outside CI, on " + f.Environment.Hostname
	}
	fmt.Fprintf(stdout, "loadcheck: the baseline in %s is now run %s (%s, started %s)\n", *to, f.RunID, made, f.StartedAt.UTC().Format("2006-01-02 15:04 UTC"))
	for _, r := range f.Runs {
		if n := max(1, len(r.Repeats)); n < 3 {
			fmt.Fprintf(stderr, "loadcheck: note: %s ran %d time(s) in it; compare can tell a change from noise only against 3 repeats or more\n", r.Config, n)
		}
	}
	return exitPass, nil
}

// replaceDir copies the folder src to dst whole: into a sibling first,
// then one rename, so that dst is never half-written.
func replaceDir(src, dst string) error {
	parent := filepath.Dir(filepath.Clean(dst))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dst)+".new-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := copyDir(src, tmp); err != nil {
		return err
	}
	old := tmp + ".old"
	if err := os.Rename(dst, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Rename(old, dst)
		return err
	}
	return os.RemoveAll(old)
}

// copyDir copies the regular files and folders under src into dst.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, 0o644)
		}
		return nil
	})
}

// cmdPrune is `loadcheck prune DIR --keep N`: the nightly history bounded.
func cmdPrune(args []string, stdout, stderr io.Writer) (int, error) {
	fset := flag.NewFlagSet("loadcheck prune", flag.ContinueOnError)
	fset.SetOutput(stderr)
	keep := fset.Int("keep", 30, "the newest `N` runs to keep")
	dryRun := fset.Bool("dry-run", false, "say what would be removed, remove nothing")
	fset.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadcheck prune DIR --keep N [--dry-run]

Keeps the N newest run folders directly under DIR (newest by the start
recorded in their result.json) and removes the older ones: the nightly
history stays bounded. Folders without a readable result.json are left
alone. Prints each removed folder. Exit 0, 2 bad input.

Flags:
`)
		fset.PrintDefaults()
	}
	pos, err := parseArgs(fset, args, 1, "one folder of run folders")
	if err != nil {
		return exitSetup, err
	}
	if *keep < 1 {
		return exitSetup, &usageError{fmt.Sprintf("--keep %d: keep at least 1 run", *keep)}
	}
	entries, err := os.ReadDir(pos[0])
	if err != nil {
		return exitSetup, err
	}
	type stored struct {
		dir string
		f   *results.File
	}
	var runs []stored
	for _, e := range entries {
		dir := filepath.Join(pos[0], e.Name())
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, results.ResultFile)); err != nil {
			continue
		}
		f, err := results.ReadRun(dir)
		if err != nil {
			fmt.Fprintf(stderr, "loadcheck: warning: %s left alone: %v\n", dir, err)
			continue
		}
		runs = append(runs, stored{dir, f})
	}
	slices.SortFunc(runs, func(a, b stored) int {
		return cmp.Or(b.f.StartedAt.Compare(a.f.StartedAt), strings.Compare(b.dir, a.dir))
	})
	verb := "removed"
	if *dryRun {
		verb = "would remove"
	}
	for _, r := range runs[min(*keep, len(runs)):] {
		if !*dryRun {
			if err := os.RemoveAll(r.dir); err != nil {
				return exitSetup, err
			}
		}
		fmt.Fprintf(stdout, "%s %s (run %s, %s)\n", verb, r.dir, r.f.RunID, r.f.StartedAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return exitPass, nil
}
