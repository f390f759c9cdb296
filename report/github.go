package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/loadcheck/loadcheck/results"
)

// WriteGitHub writes one GitHub Actions workflow command per config that
// did not pass: ::error for FAIL and ERROR, ::warning for FLAKY and
// INCONCLUSIVE, so that each shows as an annotation on the job's page.
// A run whose configs all passed writes one ::notice.
func WriteGitHub(w io.Writer, f *results.File) error {
	var b strings.Builder
	bad := 0
	for _, r := range f.Runs {
		level := ""
		switch r.Verdict {
		case results.Fail, results.Error:
			level = "error"
		case results.Flaky, results.Inconclusive:
			level = "warning"
		default:
			continue
		}
		bad++
		msg := fmt.Sprintf("%s: %d of %d connections served", r.VerdictLabel(), r.Connections.Served, r.Connections.Target)
		if len(r.Reasons) > 0 {
			msg += "; " + strings.Join(r.Reasons, "; ")
		}
		if r.Diagnosis != "" {
			msg += "\nwhy: " + r.Diagnosis
		}
		fmt.Fprintf(&b, "::%s title=%s::%s\n", level, ghProperty("loadcheck "+f.Scenario.Name+": "+r.Config), ghData(msg))
	}
	if bad == 0 {
		fmt.Fprintf(&b, "::notice title=%s::%s\n", ghProperty("loadcheck "+f.Scenario.Name), ghData(fmt.Sprintf("all %d configs passed (run %s)", len(f.Runs), f.RunID)))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ghData escapes a workflow command's message (GitHub's escapeData).
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// ghProperty escapes a workflow command's property (escapeProperty).
func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
