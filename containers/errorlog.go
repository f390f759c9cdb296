package containers

import (
	"bufio"
	"regexp"
	"sort"
	"strings"

	"github.com/loadcheck/loadcheck/results"
)

// logLine matches "[time] [module:level] [pid N...] AHnnnnn: message".
var logLine = regexp.MustCompile(`\[([a-z_0-9]*):([a-z0-9]+)\][^A]*?(AH\d{5}):`)

// ScanErrorLog counts the message codes in httpd's error log text, most
// frequent first. Lines without a code are ignored.
func ScanErrorLog(text string) []results.LogCode {
	byCode := map[string]*results.LogCode{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		m := logLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		c := byCode[m[3]]
		if c == nil {
			first := line
			if i := strings.Index(first, "["); i > 0 {
				first = first[i:] // drop the log stream's frame header bytes
			}
			if len(first) > 300 {
				first = first[:300] + "…"
			}
			c = &results.LogCode{Code: m[3], Level: m[2], First: first}
			byCode[m[3]] = c
		}
		c.Count++
	}
	out := make([]results.LogCode, 0, len(byCode))
	for _, c := range byCode {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Code < out[j].Code
	})
	return out
}
