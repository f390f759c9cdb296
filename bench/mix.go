package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strings"
)

// MixEntry is one request of a mix and how often it comes, relative to
// the others.
type MixEntry struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Weight int    `json:"weight"`
}

// Mix is a request mix read from an access log.
type Mix struct {
	Entries []MixEntry
	Lines   int    // lines read
	Parsed  int    // lines that gave a request
	Skipped int    // lines that did not parse
	First   string // the first line that did not parse, and its number
}

// MaxMixSlots bounds the expanded mix: its entries' weights are scaled to
// add up to at most this many requests, each entry at least one.
const MaxMixSlots = 10000

// maxMixClasses bounds the per-path-class table: the rest is "other".
const maxMixClasses = 20

// accessLine matches Common and Combined Log Format, with Debian's
// vhost_combined "vhost:port " in front: the request line's method and
// target.
var accessLine = regexp.MustCompile(`^(?:\S+:\d+ )?\S+ \S+ \S+ \[[^\]]+\] "([A-Z]+) (\S+)(?: HTTP/[0-9.]+)?" \d{3} \S+`)

// ReadMix reads an access log in Common or Combined Log Format: each
// line's method and path (query string kept; bodies are not in the log and
// are not replayed), counted. The weights are scaled so that they add up
// to at most MaxMixSlots. An error when no line gives a request; lines
// that do not parse are counted and the first is kept.
func ReadMix(name string, r io.Reader) (Mix, error) {
	counts := map[MixEntry]int{}
	var m Mix
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m.Lines++
		line := sc.Text()
		f := accessLine.FindStringSubmatch(line)
		if f == nil || !strings.HasPrefix(f[2], "/") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			m.Skipped++
			if m.First == "" {
				m.First = fmt.Sprintf("line %d: %.200s", m.Lines, line)
			}
			continue
		}
		m.Parsed++
		counts[MixEntry{Method: f[1], Path: f[2]}]++
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("%s: %w", name, err)
	}
	if m.Parsed == 0 {
		what := "it is empty"
		if m.First != "" {
			what = "the first is " + m.First
		}
		return m, fmt.Errorf("%s: no line in Common or Combined Log Format (host ident user [date] \"GET /path HTTP/1.1\" status bytes) among %d lines; %s", name, m.Lines, what)
	}
	for e, n := range counts {
		w := int(math.Round(float64(n) * MaxMixSlots / float64(m.Parsed)))
		if m.Parsed <= MaxMixSlots {
			w = n
		}
		e.Weight = max(w, 1)
		m.Entries = append(m.Entries, e)
	}
	sort.Slice(m.Entries, func(i, j int) bool {
		a, b := m.Entries[i], m.Entries[j]
		if a.Weight != b.Weight {
			return a.Weight > b.Weight
		}
		return a.Method+" "+a.Path < b.Method+" "+b.Path
	})
	return m, nil
}

// PathClass is the class a path is reported under: its first segment
// ("/api" for /api/users?id=1, "/" for /).
func PathClass(p string) string {
	p, _, _ = strings.Cut(p, "?")
	if i := strings.IndexByte(p[min(1, len(p)):], '/'); i >= 0 {
		return p[:i+1]
	}
	return p
}

// mixClasses names each entry's class: the first segments of the paths,
// the maxMixClasses most requested each on its own, the rest "other".
func mixClasses(entries []MixEntry) (names []string, of []int) {
	weight := map[string]int{}
	for _, e := range entries {
		weight[PathClass(e.Path)] += e.Weight
	}
	for c := range weight {
		names = append(names, c)
	}
	sort.Slice(names, func(i, j int) bool {
		if weight[names[i]] != weight[names[j]] {
			return weight[names[i]] > weight[names[j]]
		}
		return names[i] < names[j]
	})
	if len(names) > maxMixClasses {
		names = append(names[:maxMixClasses], "other")
	}
	idx := map[string]int{}
	for i, n := range names {
		idx[n] = i
	}
	for _, e := range entries {
		i, ok := idx[PathClass(e.Path)]
		if !ok {
			i = len(names) - 1
		}
		of = append(of, i)
	}
	return names, of
}

// expandMix lays the entries out as a cycle of requests in which each
// comes Weight times, spread evenly (each entry at its own stride), so
// that any stretch of the cycle holds the mix.
func expandMix(entries []MixEntry) []int {
	total := 0
	for _, e := range entries {
		total += e.Weight
	}
	type slot struct {
		at    float64
		entry int
	}
	slots := make([]slot, 0, total)
	for i, e := range entries {
		step := float64(total) / float64(e.Weight)
		for k := 0; k < e.Weight; k++ {
			slots = append(slots, slot{at: step*float64(k) + step*float64(i%7)/7, entry: i})
		}
	}
	sort.SliceStable(slots, func(a, b int) bool { return slots[a].at < slots[b].at })
	out := make([]int, len(slots))
	for i, s := range slots {
		out[i] = s.entry
	}
	return out
}
