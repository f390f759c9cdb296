package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// actionMeta is GitHub's metadata syntax for a composite action: every
// key the file may hold, so that strict decoding refuses any other.
type actionMeta struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Author      string `yaml:"author"`
	Branding    struct {
		Icon  string `yaml:"icon"`
		Color string `yaml:"color"`
	} `yaml:"branding"`
	Inputs map[string]struct {
		Description        string `yaml:"description"`
		Required           bool   `yaml:"required"`
		Default            string `yaml:"default"`
		DeprecationMessage string `yaml:"deprecationMessage"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
		Value       string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string       `yaml:"using"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"runs"`
}

type actionStep struct {
	Name             string            `yaml:"name"`
	ID               string            `yaml:"id"`
	If               string            `yaml:"if"`
	Uses             string            `yaml:"uses"`
	With             map[string]string `yaml:"with"`
	Run              string            `yaml:"run"`
	Shell            string            `yaml:"shell"`
	Env              map[string]string `yaml:"env"`
	WorkingDirectory string            `yaml:"working-directory"`
	ContinueOnError  bool              `yaml:"continue-on-error"`
}

// TestActionMetadata checks action.yml against the Actions metadata
// syntax for composite actions: only known keys; every input and output
// described; each step either uses an action (pinned to a version) or
// runs a shell command with its shell; every inputs.X and steps.ID the
// expressions name exists; every input documented in docs/ci.md; and the
// workflows that use the action pass only inputs it has.
func TestActionMetadata(t *testing.T) {
	raw, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a actionMeta
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	if a.Name == "" || a.Description == "" || a.Runs.Using != "composite" || len(a.Runs.Steps) == 0 {
		t.Errorf("name %q, description %q, runs.using %q, %d steps", a.Name, a.Description, a.Runs.Using, len(a.Runs.Steps))
	}
	doc, err := os.ReadFile("../../docs/ci.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range a.Inputs {
		if strings.TrimSpace(in.Description) == "" {
			t.Errorf("input %s has no description", name)
		}
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("input %s is not documented in docs/ci.md", name)
		}
	}
	ids := map[string]bool{}
	for i, s := range a.Runs.Steps {
		switch {
		case (s.Uses == "") == (s.Run == ""):
			t.Errorf("step %d (%s): want exactly one of uses and run", i, s.Name)
		case s.Run != "" && s.Shell == "":
			t.Errorf("step %d (%s): a run step of a composite action needs a shell", i, s.Name)
		case s.Uses != "" && !regexp.MustCompile(`^[\w.-]+/[\w./-]+@v\d+$`).MatchString(s.Uses):
			t.Errorf("step %d (%s): uses %q, want owner/repo@vN", i, s.Name, s.Uses)
		}
		if s.ID != "" {
			ids[s.ID] = true
		}
	}
	for _, m := range regexp.MustCompile(`inputs\.([\w-]+)`).FindAllStringSubmatch(string(raw), -1) {
		if _, ok := a.Inputs[m[1]]; !ok {
			t.Errorf("action.yml names inputs.%s, which it does not declare", m[1])
		}
	}
	for _, m := range regexp.MustCompile(`steps\.([\w-]+)\.outputs`).FindAllStringSubmatch(string(raw), -1) {
		if !ids[m[1]] {
			t.Errorf("action.yml names steps.%s, no step has that id", m[1])
		}
	}
	for name, out := range a.Outputs {
		if out.Description == "" || out.Value == "" {
			t.Errorf("output %s: description %q value %q", name, out.Description, out.Value)
		}
	}
	if _, err := os.Stat("../../.github/nightly.sh"); err != nil || !strings.Contains(string(raw), "$GITHUB_ACTION_PATH/.github/nightly.sh") {
		t.Errorf("the action does not run .github/nightly.sh: %v", err)
	}

	// The workflows parse, and those that use the action (uses: ./ in this
	// repository; OWNER/loadcheck@v1 in docs/ci.md) pass it known inputs.
	workflows, _ := filepath.Glob("../../.github/workflows/*.yml")
	if len(workflows) < 4 {
		t.Errorf("workflows %v: want nightly, test, baseline and release", workflows)
	}
	used := 0
	for _, w := range workflows {
		b, err := os.ReadFile(w)
		if err != nil {
			t.Fatal(err)
		}
		var wf struct {
			Name string         `yaml:"name"`
			On   map[string]any `yaml:"on"`
			Jobs map[string]struct {
				Steps []actionStep `yaml:"steps"`
			} `yaml:"jobs"`
		}
		if err := yaml.Unmarshal(b, &wf); err != nil {
			t.Errorf("%s: %v", w, err)
			continue
		}
		if wf.Name == "" || len(wf.On) == 0 || len(wf.Jobs) == 0 {
			t.Errorf("%s: name %q, %d triggers, %d jobs", w, wf.Name, len(wf.On), len(wf.Jobs))
		}
		for _, j := range wf.Jobs {
			for _, s := range j.Steps {
				if s.Uses != "./" {
					continue
				}
				used++
				for k := range s.With {
					if _, ok := a.Inputs[k]; !ok {
						t.Errorf("%s passes %s, which action.yml does not declare", w, k)
					}
				}
			}
		}
	}
	if used == 0 {
		t.Error("no workflow uses the action")
	}
	// The workflow docs/ci.md tells a team to copy uses the action with
	// known inputs too.
	block := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	found := false
	for _, m := range block {
		if !strings.Contains(m[1], "loadcheck@v1") {
			continue
		}
		found = true
		for _, k := range regexp.MustCompile(`(?m)^\s+([\w-]+):`).FindAllStringSubmatch(m[1][strings.Index(m[1], "loadcheck@v1"):], -1) {
			if _, ok := a.Inputs[k[1]]; !ok && !slices.Contains([]string{"with"}, k[1]) {
				t.Errorf("docs/ci.md's workflow passes %s, which action.yml does not declare", k[1])
			}
		}
	}
	if !found {
		t.Error("docs/ci.md shows no workflow using loadcheck@v1")
	}
}
