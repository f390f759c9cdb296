package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// helpFlag is one flag as `loadcheck CMD -h` prints it.
type helpFlag struct {
	name, arg, usage, def string
}

// helpFlags parses the flags of `loadcheck args... -h` (flag's
// PrintDefaults format: "  -name ARG" then "    \tusage (default X)").
func helpFlags(t *testing.T, args ...string) []helpFlag {
	t.Helper()
	_, _, stderr := run(t, append(args, "-h")...)
	var out []helpFlag
	head := regexp.MustCompile(`^  -(\S+)(?: (.+))?$`)
	for _, l := range strings.Split(stderr, "\n") {
		if m := head.FindStringSubmatch(l); m != nil {
			out = append(out, helpFlag{name: m[1], arg: m[2]})
			continue
		}
		if u, ok := strings.CutPrefix(l, "    \t"); ok && len(out) > 0 {
			f := &out[len(out)-1]
			f.usage = strings.TrimSpace(f.usage + " " + u)
		}
	}
	for i := range out {
		f := &out[i]
		if m := regexp.MustCompile(` \(default (.+)\)$`).FindStringSubmatch(f.usage); m != nil {
			f.def, f.usage = strings.Trim(m[1], `"`), strings.TrimSuffix(f.usage, m[0])
		}
	}
	if len(out) == 0 && !strings.Contains(stderr, "Usage: loadcheck "+strings.Join(args, " ")) {
		t.Fatalf("loadcheck %s -h printed no usage:\n%s", strings.Join(args, " "), stderr)
	}
	return out
}

// otherCommands are the commands whose flags docs/usage.md lists in its
// generated section, in its order.
var otherCommands = [][]string{{"capacity"}, {"rollout"}, {"report"}, {"compare"}, {"trend"}, {"validate"}, {"doctor"}, {"plan"}, {"shard"}, {"merge"}, {"clean"}, {"generator-image"}, {"baseline", "promote"}, {"prune"}}

const (
	flagsBegin = "<!-- every other command's flags: generated from their -h by TestUsageDoc; go test ./cmd/loadcheck -run TestUsageDoc -update rewrites it -->"
	flagsEnd   = "<!-- end of the generated flags -->"
)

// TestUsageDoc keeps docs/usage.md true to the flag sets: every flag of
// `loadcheck run -h` has a row in its table and every row names real
// flags, with the default -h prints; the other commands' flags are a
// section generated from their -h, which must match the file (-update
// rewrites it).
func TestUsageDoc(t *testing.T) {
	raw, err := os.ReadFile("../../docs/usage.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	t.Setenv("LOADCHECK_RESULTS", "") // the defaults a user sees, not the tests' folder
	runFlags := helpFlags(t, "run")
	inRun := map[string]helpFlag{}
	for _, f := range runFlags {
		inRun[f.name] = f
	}
	// run's table: the first table of the page.
	start := strings.Index(doc, "| flag | default | meaning |")
	end := strings.Index(doc[start:], "\n\n")
	if start < 0 || end < 0 {
		t.Fatal("docs/usage.md has no run flag table")
	}
	documented := map[string]bool{}
	name := regexp.MustCompile("`--?([a-z][a-z0-9-]*)")
	for _, row := range strings.Split(doc[start:start+end], "\n")[2:] {
		cells := strings.Split(strings.ReplaceAll(row, `\|`, "\x00"), "|")
		if len(cells) < 5 {
			t.Errorf("run table: a row without three cells: %s", row)
			continue
		}
		flagCell, defCell := cells[1], strings.Trim(cells[2], "` ")
		for _, m := range name.FindAllStringSubmatch(flagCell, -1) {
			f, ok := inRun[m[1]]
			if !ok {
				t.Errorf("docs/usage.md's run table has --%s, which loadcheck run does not have", m[1])
				continue
			}
			documented[m[1]] = true
			if f.def != "" && len(name.FindAllString(flagCell, -1)) == 1 && !sameDefault(defCell, f.def) {
				t.Errorf("--%s: docs/usage.md says the default is %q, run -h %q", m[1], defCell, f.def)
			}
		}
	}
	for _, f := range runFlags {
		if !documented[f.name] {
			t.Errorf("loadcheck run --%s has no row in docs/usage.md's flag table (-h: %s)", f.name, f.usage)
		}
	}

	// The other commands: generated.
	var b strings.Builder
	b.WriteString(flagsBegin + "\n")
	for _, cmd := range otherCommands {
		flags := helpFlags(t, cmd...)
		shared := 0
		for _, f := range flags {
			if _, ok := inRun[f.name]; ok {
				shared++
			}
		}
		fmt.Fprintf(&b, "\n### `loadcheck %s`\n\n", strings.Join(cmd, " "))
		own := flags
		if shared > len(runFlags)/2 {
			own = slices.DeleteFunc(slices.Clone(flags), func(f helpFlag) bool { _, ok := inRun[f.name]; return ok })
			fmt.Fprintf(&b, "Every flag of `loadcheck run` above (%d of them), and:\n\n", shared)
		}
		if len(own) == 0 {
			b.WriteString("No flags.\n")
			continue
		}
		b.WriteString("| flag | default | meaning |\n|---|---|---|\n")
		for _, f := range own {
			flagText := "`--" + f.name
			if len(f.name) == 1 {
				flagText = "`-" + f.name
			}
			if f.arg != "" {
				flagText += " " + f.arg
			}
			flagText += "`"
			fmt.Fprintf(&b, "| %s | %s | %s |\n", flagText, strings.ReplaceAll(f.def, "|", `\|`), strings.ReplaceAll(f.usage, "|", `\|`))
		}
	}
	b.WriteString("\n" + flagsEnd)
	want := b.String()
	i, j := strings.Index(doc, flagsBegin), strings.Index(doc, flagsEnd)
	if i < 0 || j < i {
		t.Fatalf("docs/usage.md lacks the generated section's markers:\n%s\n...\n%s", flagsBegin, flagsEnd)
	}
	if got := doc[i : j+len(flagsEnd)]; got != want {
		if u := flag.Lookup("update"); u != nil && u.Value.String() == "true" {
			if err := os.WriteFile("../../docs/usage.md", []byte(doc[:i]+want+doc[j+len(flagsEnd):]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("docs/usage.md's generated flags differ from the commands' -h: go test ./cmd/loadcheck -run TestUsageDoc -update rewrites them")
	}
}

// sameDefault reports whether the table's default cell says the default
// -h prints: the same text, within it, or the same duration (60s, 1m0s).
func sameDefault(cell, def string) bool {
	if strings.Contains(cell, def) || strings.Contains(def, cell) && cell != "" {
		return true
	}
	a, errA := time.ParseDuration(cell)
	b, errB := time.ParseDuration(def)
	return errA == nil && errB == nil && a == b
}

// TestUserDocsNoTestNames: the pages a user reads say what is checked,
// not which internal test checks it (docs/architecture.md, for
// contributors, and the dated findings may name tests).
func TestUserDocsNoTestNames(t *testing.T) {
	pages, _ := filepath.Glob("../../docs/*.md")
	pages = append(pages, "../../README.md")
	testName := regexp.MustCompile(`\bTest[A-Z]\w+|\bBenchmark[A-Z]\w+`)
	comment := regexp.MustCompile(`(?s)<!--.*?-->`)
	for _, p := range pages {
		if filepath.Base(p) == "architecture.md" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range testName.FindAllString(comment.ReplaceAllString(string(b), ""), -1) {
			t.Errorf("%s names the internal test %s: say what is checked instead", filepath.Base(p), m)
		}
	}
}
