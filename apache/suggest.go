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
