package report

import (
	"bytes"
	"testing"

	"github.com/loadcheck/loadcheck/internal/testfix"
	"github.com/loadcheck/loadcheck/results"
)

// TestGoldenCompare: a comparison rendered as table, markdown and json
// (-update rewrites the golden files).
func TestGoldenCompare(t *testing.T) {
	next := testfix.Fixture()
	next.RunID = "20261127-060000-123456"
	next.Runs[0].LatencyMS.P99 = 40
	next.Runs[1].Connections.Served = 160
	c := results.Compare(testfix.Fixture(), next, results.DefaultNoise())
	for format, ext := range map[string]string{"table": "txt", "markdown": "md", "json": "json"} {
		var b bytes.Buffer
		if err := WriteComparison(&b, c, format); err != nil {
			t.Fatal(err)
		}
		testfix.Golden(t, "compare."+ext, b.Bytes())
	}
}
