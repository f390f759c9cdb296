package apache

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Sizing is a set of directives meant to let a config hold a number of
// keep-alive connections, and the formula behind them in words.
type Sizing struct {
	Directives []Directive
	Why        string
}

// Int is the config's whole-number directive name, or def when it is
// unset or not a whole number.
func (c Config) Int(name string, def int) int {
	if v, ok := c.Get(name); ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			return n
		}
	}
	return def
}

// withHeadroom is the target plus 10 %: status reads take a worker too,
// and event holds a little less than its formula (441 of 450 in a stock
// run at 4000).
func withHeadroom(target int) int { return int(math.Ceil(float64(target) * 1.1)) }

// SizeFor proposes directives for cfg's MPM that should hold target
// keep-alive connections, with every process started up front and none
// reaped as idle; false for an MPM it does not know.
func SizeFor(cfg Config, target int) (Sizing, bool) {
	want := withHeadroom(target)
	switch cfg.MPM {
	case "event":
		factor := 2.0
		if v, ok := cfg.Get("AsyncRequestWorkerFactor"); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				factor = f
			}
		}
		tpc := cfg.Int("ThreadsPerChild", 25)
		return Sizing{Directives: threadedDirectives(int(math.Ceil(float64(want)/(factor+1))), tpc),
			Why: fmt.Sprintf("every process started up front and none reaped as idle (StartServers = ServerLimit, MaxSpareThreads = MaxRequestWorkers): event closes the kept-alive connections of a process it stops. event holds up to MaxRequestWorkers x (AsyncRequestWorkerFactor %g + 1) connections: MaxRequestWorkers >= %d (the target plus 10%%) / %g, a multiple of ThreadsPerChild %d, with ServerLimit to match", factor, want, factor+1, tpc)}, true
	case "worker":
		tpc := cfg.Int("ThreadsPerChild", 25)
		return Sizing{Directives: threadedDirectives(want, tpc),
			Why: fmt.Sprintf("every process started up front and none reaped as idle (StartServers = ServerLimit, MaxSpareThreads = MaxRequestWorkers). worker holds one connection per thread: MaxRequestWorkers >= %d (the target plus 10%%), a multiple of ThreadsPerChild %d, with ServerLimit to match", want, tpc)}, true
	case "prefork":
		var ds []Directive
		for _, d := range []struct {
			name string
			v    int
		}{{"ServerLimit", want}, {"MaxRequestWorkers", want}, {"StartServers", want}, {"MinSpareServers", 75}, {"MaxSpareServers", want}} {
			ds = append(ds, Directive{Name: d.name, Value: strconv.Itoa(d.v)})
		}
		return Sizing{Directives: ds,
			Why: fmt.Sprintf("prefork holds one connection per process: ServerLimit and MaxRequestWorkers >= %d (the target plus 10%%), and StartServers as high, because prefork spawns at most 32 processes a second. Switching to event needs far less memory per connection", want)}, true
	}
	return Sizing{}, false
}

// EventSpareFix is the smallest change to an event config whose directives
// allow target connections but whose processes close their kept-alive
// connections under it (docs/findings/2026-12-04-event-tuned.md): no
// process stopped for idle threads (MaxSpareThreads = MaxRequestWorkers;
// at a low request rate nearly every thread of a process still accepting
// is idle, and a stopping process closes every connection it holds), and
// enough processes started up front for target plus 10 % at
// ThreadsPerChild x (AsyncRequestWorkerFactor + 1) connections each
// (event spawns at most 32 a second, doubling from 1, slower than
// connections arrive). false when the config already has both.
func EventSpareFix(cfg Config, target int) (Sizing, bool) {
	if cfg.MPM != "event" {
		return Sizing{}, false
	}
	factor := 2.0
	if v, ok := cfg.Get("AsyncRequestWorkerFactor"); ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
			factor = f
		}
	}
	tpc := max(cfg.Int("ThreadsPerChild", 25), 1)
	mrw := cfg.Int("MaxRequestWorkers", 400)
	procs := int(math.Ceil(float64(withHeadroom(target)) / (float64(tpc) * (factor + 1))))
	procs = min(procs, cfg.Int("ServerLimit", 16))
	var ds []Directive
	if cfg.Int("MaxSpareThreads", 250) < mrw {
		ds = append(ds, Directive{Name: "MaxSpareThreads", Value: strconv.Itoa(mrw)})
	}
	if cfg.Int("StartServers", 3) < procs {
		ds = append(ds, Directive{Name: "StartServers", Value: strconv.Itoa(procs)})
	}
	if len(ds) == 0 {
		return Sizing{}, false
	}
	return Sizing{Directives: ds, Why: fmt.Sprintf("the directives allow the target, but event stopped processes or filled them as connections arrived, and closed their kept-alive connections: MaxSpareThreads = MaxRequestWorkers (%d) so that httpd stops no process for its idle threads, and StartServers %d so that the processes for %d connections (the target plus 10%%, %g each: ThreadsPerChild %d x (AsyncRequestWorkerFactor %g + 1)) are there before they arrive",
		mrw, procs, withHeadroom(target), float64(tpc)*(factor+1), tpc, factor)}, true
}

// ThreadPerConnection sizes an event config like worker, a thread per
// connection: then no process holds many more connections than it has
// threads, and it stays below its cap (ThreadsPerChild +
// AsyncRequestWorkerFactor x idle workers) although connections spread
// unevenly over the processes.
func ThreadPerConnection(cfg Config, target int) Sizing {
	tpc := cfg.Int("ThreadsPerChild", 25)
	want := withHeadroom(target)
	return Sizing{Directives: threadedDirectives(want, tpc),
		Why: fmt.Sprintf("a thread per connection, as for worker: MaxRequestWorkers >= %d (the target plus 10%%), so that no process holds many more connections than its %d threads and none reaches its cap, with every process started up front and none reaped", want, tpc)}
}

// threadedDirectives sizes a worker or event config to threads threads
// (rounded up to whole processes of tpc), every process started up front
// and none reaped as idle.
func threadedDirectives(threads, tpc int) []Directive {
	tpc = max(tpc, 1) // a nonsense ThreadsPerChild of 0 must not divide by zero
	mrw := (threads + tpc - 1) / tpc * tpc
	var out []Directive
	for _, d := range []struct {
		name string
		v    int
	}{{"ServerLimit", mrw / tpc}, {"ThreadsPerChild", tpc}, {"MaxRequestWorkers", mrw}, {"StartServers", mrw / tpc}, {"MaxSpareThreads", mrw}} {
		out = append(out, Directive{Name: d.name, Value: strconv.Itoa(d.v)})
	}
	return out
}
