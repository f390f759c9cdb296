package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/loadcheck/loadcheck/bench"
)

// progress writes log lines to stderr and, when stderr is a terminal and
// CI is not set, a live status line that rewrites itself once a second.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	quiet bool
	live  bool
	dirty bool // a live line is on screen
	// each label's previous update, for requests per second (a capacity
	// search runs several configs side by side)
	last map[string]bench.Progress
}

func newProgress(w io.Writer, quiet bool) *progress {
	live := false
	if f, ok := w.(*os.File); ok && os.Getenv("CI") != "true" {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			live = true
		}
	}
	return &progress{w: w, quiet: quiet, live: live && !quiet}
}

func (p *progress) logf(format string, a ...any) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	fmt.Fprintf(p.w, "loadcheck: "+format+"\n", a...)
}

// update is the live line for the config called label ("[2/6 event-stock]").
func (p *progress) update(label string, s bench.Progress) {
	if !p.live {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == nil {
		p.last = map[string]bench.Progress{}
	}
	last := p.last[label]
	if s.Elapsed < last.Elapsed { // the label's next load started
		last = bench.Progress{}
	}
	rps := 0.0
	if dt := s.Elapsed - last.Elapsed; dt > 0 {
		rps = float64(s.OK-last.OK) / dt.Seconds()
	}
	p.last[label] = s
	fmt.Fprintf(p.w, "\r\033[K%s %-7s %s %3ds left  open %d  %.0f req/s  ok %d  errors %d",
		label, s.Phase, bar(s.Elapsed, s.Left), int((s.Left+time.Second-1)/time.Second), s.Open, rps, s.OK, s.Failed)
	p.dirty = true
}

// bar is a 12-cell bar of how much of the config's load has run. It is
// drawn here, not with a progress library (mpb, schollz/progressbar): the
// bar is one field of a status line that also carries the phase and the
// counts, and that every log line must clear first; those libraries own
// the terminal line and redraw it on their own clock, so each log line
// would have to go through them. Ten lines do it.
func bar(done, left time.Duration) string {
	const cells = 12
	n := cells
	if total := done + left; total > 0 {
		n = int(float64(cells) * float64(done) / float64(total))
	}
	n = min(max(n, 0), cells)
	return "[" + strings.Repeat("#", n) + strings.Repeat("-", cells-n) + "]"
}

func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
}

func (p *progress) clearLocked() {
	if p.dirty {
		fmt.Fprint(p.w, "\r\033[K")
		p.dirty = false
	}
}
