package loadcheck_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules checks that imports point one way (docs/architecture.md).
func TestImportRules(t *testing.T) {
	const mod = "github.com/loadcheck/loadcheck"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	// forbidden[p] are the project packages p must not import; "*" is all.
	forbidden := map[string][]string{
		"bench":      {"*"},
		"backend":    {"*"},
		"promwrite":  {"*"},
		"observe":    {"*"},
		"apache":     {"*"},
		"scenarios":  {"results", "provider", "containers", "observe"},
		"provider":   {"bench", "results", "containers"},
		"containers": {"bench", "results"},
		"fleet":      {"results", "provider", "capacity", "report", "scenarios"},
		"results":    {"provider", "containers", "capacity", "report"},
		"capacity":   {"provider", "containers", "report"},
		"report":     {"provider", "containers"},
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(f[0], mod), "/")
		for _, imp := range f[1:] {
			dep, ok := strings.CutPrefix(imp, mod+"/")
			if !ok {
				continue
			}
			if dep == "cmd/loadcheck" {
				t.Errorf("%s imports cmd/loadcheck", f[0])
			}
			for _, bad := range forbidden[pkg] {
				if (bad == "*" && !strings.HasPrefix(dep, "internal/")) || bad == dep {
					t.Errorf("%s imports %s, against the layout rules", pkg, dep)
				}
			}
		}
		if _, ok := forbidden[pkg]; ok {
			seen++
		}
	}
	if seen != len(forbidden) {
		t.Errorf("found %d of the %d packages the rules name: was one renamed?", seen, len(forbidden))
	}
}
