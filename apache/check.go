package apache

import (
	"fmt"
	"strconv"
	"strings"
)

// Finding is one problem with a config, found before any load.
type Finding struct {
	// Error means httpd would not run the config as written (it would
	// silently adjust a value); a warning means it runs, but cannot reach
	// the connection target.
	Error bool
	Msg   string
}

func (f Finding) String() string {
	if f.Error {
		return "error: " + f.Msg
	}
	return "warning: " + f.Msg
}

// Apache 2.4's defaults for the directives Check reads.
var mpmDefaults = map[string]map[string]int{
	"prefork": {"ServerLimit": 256, "MaxRequestWorkers": 256},
	"worker":  {"ServerLimit": 16, "ThreadLimit": 64, "ThreadsPerChild": 25, "MaxRequestWorkers": 400},
	"event":   {"ServerLimit": 16, "ThreadLimit": 64, "ThreadsPerChild": 25, "MaxRequestWorkers": 400},
}

// Check finds contradictions between a config's MPM directives, which
// httpd would resolve by quietly using other values, and the limits that
// keep it below target keep-alive connections.
func (c Config) Check(target int) []Finding {
	out, _, _, _ := c.analyze(target)
	return append(out, c.PHP.checkPool(c.Name)...)
}

// DirectiveLimit is how many keep-alive connections the config's MPM
// directives let httpd hold, whatever the hardware, and why; 0 when the
// MPM is unknown.
func (c Config) DirectiveLimit() (int, string) {
	_, n, how, _ := c.analyze(0)
	return n, how
}

// Workers is the MaxRequestWorkers httpd runs the config with: its own,
// or the MPM's default, capped as httpd caps it; 0 when the MPM is
// unknown.
func (c Config) Workers() int {
	_, _, _, w := c.analyze(0)
	return w
}

func (c Config) analyze(target int) (out []Finding, capacity int, how string, workers int) {
	defs, ok := mpmDefaults[c.MPM]
	if !ok {
		return nil, 0, "", 0
	}
	val := func(name string) int {
		if v, ok := c.Get(name); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err == nil {
				return n
			}
			out = append(out, Finding{Error: true, Msg: fmt.Sprintf("%s: %s %q is not a whole number", c.Name, name, v)})
		}
		return defs[name]
	}
	serverLimit, mrw := val("ServerLimit"), val("MaxRequestWorkers")
	if c.MPM == "prefork" {
		if mrw > serverLimit {
			out = append(out, Finding{Error: true, Msg: fmt.Sprintf(
				"%s: MaxRequestWorkers %d is above ServerLimit %d; httpd would run %d workers. Raise ServerLimit to %d or lower MaxRequestWorkers",
				c.Name, mrw, serverLimit, serverLimit, mrw)})
			mrw = serverLimit
		}
		if mrw < target {
			out = append(out, Finding{Msg: fmt.Sprintf(
				"%s: prefork holds one connection per process, and MaxRequestWorkers %d is below the %d connections asked for; expect at most %d served",
				c.Name, mrw, target, mrw)})
		}
		return out, mrw, "MaxRequestWorkers: one process per connection", mrw
	}
	threadLimit, tpc := val("ThreadLimit"), val("ThreadsPerChild")
	if tpc > threadLimit {
		out = append(out, Finding{Error: true, Msg: fmt.Sprintf(
			"%s: ThreadsPerChild %d is above ThreadLimit %d; httpd would run %d threads per process. Raise ThreadLimit to %d",
			c.Name, tpc, threadLimit, threadLimit, tpc)})
		tpc = threadLimit
	}
	if most := serverLimit * tpc; mrw > most {
		out = append(out, Finding{Error: true, Msg: fmt.Sprintf(
			"%s: MaxRequestWorkers %d is above ServerLimit x ThreadsPerChild = %d x %d = %d; httpd would lower it to %d. Raise ServerLimit to %d",
			c.Name, mrw, serverLimit, tpc, most, most, (mrw+tpc-1)/tpc)})
		mrw = most
	}
	capacity, how = mrw, "MaxRequestWorkers: one thread per connection"
	if c.MPM == "event" {
		// event serves idle keep-alive connections without a thread, up to
		// (AsyncRequestWorkerFactor + 1) connections per worker thread.
		factor := 2.0
		if v, ok := c.Get("AsyncRequestWorkerFactor"); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				factor = f
			}
		}
		capacity, how = int(float64(mrw)*(factor+1)), fmt.Sprintf("MaxRequestWorkers x (AsyncRequestWorkerFactor %g + 1)", factor)
	}
	if capacity < target {
		out = append(out, Finding{Msg: fmt.Sprintf("%s: with MaxRequestWorkers %d it can hold about %d connections (%s), below the %d asked for",
			c.Name, mrw, capacity, strings.TrimPrefix(how, "MaxRequestWorkers: "), target)})
	}
	return out, capacity, how, mrw
}
