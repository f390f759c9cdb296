package report

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/loadcheck/loadcheck/results"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// summaryHeader and summaryRow are the columns of the terminal table and
// the Markdown report.
var summaryHeader = []string{"config", "target", "served", "starved", "sent", "ok", "dropped",
	"top errors", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "req/s", "peak busy", "verdict"}

func summaryRow(r results.Run) []string {
	verdict := r.VerdictLabel()
	if r.Server != nil && r.Server.OOMKills > 0 {
		verdict += " (OOM)"
	}
	if !r.Measured() {
		what := "setup failed"
		if r.Error == "" {
			what = "killed at start: out of memory"
		}
		return []string{r.Label(), "-", "-", "-", "-", "-", "-", what, "-", "-", "-", "-", "-", "-", "-", verdict}
	}
	busy := "-"
	if r.Server != nil && r.Server.PeakBusyWorkers >= 0 {
		busy = strconv.Itoa(r.Server.PeakBusyWorkers)
	}
	errs := strings.Join(results.TopErrors(r.Requests.Errors, 2), ", ")
	if errs == "" {
		errs = "-"
	}
	c, q, l := r.Connections, r.Requests, r.LatencyMS
	i := strconv.Itoa
	row := []string{r.Label(), i(c.Target), i(c.Served), i(c.Starved), fmt.Sprint(q.Sent), fmt.Sprint(q.OK),
		fmt.Sprintf("%d (%.1f%%)", q.Dropped, q.DroppedPct), errs,
		results.Num(l.P50), results.Num(l.P90), results.Num(l.P99), results.Num(l.P999), results.Num(l.Max),
		fmt.Sprintf("%.0f", r.ThroughputRPS), busy, verdict}
	if sp := r.Spread; sp != nil && sp.Measured > 1 {
		// A config run several times: the median and the range of the
		// headline metrics; the other cells are the median repeat's.
		row[2] = spreadCell(sp.Served, "%.0f")
		row[6] = spreadCell(sp.DroppedPct, "%.2f") + "%"
		row[10] = spreadCell(sp.P99MS, "%.3g")
		row[13] = spreadCell(sp.RPS, "%.0f")
	}
	return row
}

// spreadCell shows a metric over repeats as "median (min-max)", or the
// median alone when every repeat gave the same value.
func spreadCell(r results.Range, format string) string {
	m, lo, hi := fmt.Sprintf(format, r.Median), fmt.Sprintf(format, r.Min), fmt.Sprintf(format, r.Max)
	if lo == hi {
		return m
	}
	return fmt.Sprintf("%s (%s–%s)", m, lo, hi)
}

// WriteTable renders one row per config, then each failing config's reasons.
func WriteTable(w io.Writer, f *results.File) error {
	if f.Target != "" {
		fmt.Fprintf(w, "loaded %s\n", f.Target)
	}
	for _, l := range imageLines(f) {
		fmt.Fprintln(w, l)
	}
	if e := f.Environment; e.ServerCPUs != "" {
		fmt.Fprintf(w, "CPUs apart: httpd on %s, the generator on %s\n", e.ServerCPUs, e.GeneratorCPUs)
	}
	if n := f.Scenario.Repeats(); n > 1 {
		fmt.Fprintf(w, "each config ran %d times, interleaved: served, dropped, p99 and req/s show median (min–max); a config that passed some repeats is FLAKY\n", n)
	}
	t := tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAlignment(tw.AlignRight),
		tablewriter.WithHeaderAlignment(tw.AlignCenter),
	)
	t.Header(summaryHeader)
	for _, r := range f.Runs {
		if err := t.Append(summaryRow(r)); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	for _, r := range f.Runs {
		if r.Verdict == results.Pass {
			continue
		}
		fmt.Fprintf(w, "%s %s:\n", r.Config, r.VerdictLabel())
		for _, why := range r.Reasons {
			fmt.Fprintf(w, "  - %s\n", why)
		}
		if r.Diagnosis != "" {
			fmt.Fprintf(w, "  why: %s\n", r.Diagnosis)
		}
		if a := arrivalLine(r); a != "" {
			fmt.Fprintf(w, "  arrival: %s\n", a)
		}
	}
	for _, r := range f.Runs {
		for _, l := range r.Rollout.Lines() {
			fmt.Fprintln(w, l)
		}
		for i, l := range r.Soak.Lines() {
			if i == 0 {
				l = r.Config + " " + l
			}
			fmt.Fprintln(w, l)
		}
	}
	for _, l := range tlsLines(f) {
		fmt.Fprintln(w, l)
	}
	for _, l := range pathClassLines(f) {
		fmt.Fprintln(w, l)
	}
	for _, l := range clientGroupLines(f) {
		fmt.Fprintln(w, l)
	}
	for _, l := range shardLines(f) {
		fmt.Fprintln(w, l)
	}
	for _, l := range generatorLines(f) {
		fmt.Fprintln(w, l)
	}
	for _, l := range headroomLines(f) {
		fmt.Fprintln(w, l)
	}
	if lines := serverSide(f); len(lines) > 0 {
		fmt.Fprintln(w, "server side (kernel counters count the whole host when httpd shares its network: host networking, or a native httpd):")
		for _, l := range lines {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	return nil
}

// serverSide says, per config, when it reached capacity and what httpd and
// the kernel reported.
func serverSide(f *results.File) []string {
	var lines []string
	for _, r := range f.Runs {
		if !r.Measured() {
			continue
		}
		parts := []string{timeToCapacity(r.TimeToCapacityS)}
		if r.WarmUpEnded != "" && r.WarmUpEnded != "fixed" {
			parts = append([]string{fmt.Sprintf("warm-up %gs: %s", r.WarmUpS, r.WarmUpEnded)}, parts...)
		}
		if s := r.Server; s != nil {
			if s.StatusSamples > 0 {
				counted := fmt.Sprintf("httpd counted %d requests", s.AccessesDuringRun)
				if r.HTTP2() {
					// mod_http2 ends some streams' requests before they
					// have a scoreboard handle to be counted on.
					counted = fmt.Sprintf("httpd counted %d requests (mod_status misses some over HTTP/2: its access log does not)", s.AccessesDuringRun)
				}
				parts = append(parts, fmt.Sprintf("%s, the client got %d responses and sent %d status reads",
					counted, clientResponses(r), s.StatusSamples-1))
			}
			if q := r.Requests; q.OK > 0 && q.BytesRead/q.OK >= 512 { // the 3-byte test page alone is not worth a line
				parts = append(parts, fmt.Sprintf("the client read %s of bodies in the window (%g MB/s)", units.HumanSize(float64(r.Requests.BytesRead)), r.ReadMBps))
			}
			if b := s.Backend; b != nil {
				parts = append(parts, fmt.Sprintf("backend %s (%s): %d requests, at most %d at once, waits p50 %s ms p99 %s ms",
					b.Path, b.Latency, b.Requests, b.PeakConcurrency, results.Num(b.WaitMS.P50), results.Num(b.WaitMS.P99)))
			}
			if p := s.PHPFPM; p != nil {
				max := "?"
				if m, ok := r.FPMPool("pm.max_children"); ok {
					max = m
				}
				parts = append(parts, fmt.Sprintf("php-fpm: at most %d of %s children busy (%d in the pool), listen queue peak %d, max children reached %d times, %d requests",
					p.PeakActive, max, p.PeakTotal, p.PeakListenQueue, p.MaxChildrenReached, p.Accepted))
				if p.FailedSamples > 0 {
					parts[len(parts)-1] += fmt.Sprintf(" (%d of its status reads unanswered: %s)", p.FailedSamples, p.LastError)
				}
			}
			if n := r.Connections.IdleReopens; n > 0 {
				parts = append(parts, fmt.Sprintf("httpd closed %d idle connections at its keep-alive timeout; each was opened again for its next request, as a browser does (not a failure)", n))
			}
			if n := r.Connections.ClientReopens; n > 0 {
				parts = append(parts, fmt.Sprintf("the load closed %d connections itself after %d requests each and opened new ones (churn, not a failure)", n, f.Scenario.Load.RequestsPerConnection))
			}
			if n := s.ProcessesEnded; n > 0 {
				parts = append(parts, fmt.Sprintf("%d httpd processes ended during the load (recycled at MaxConnectionsPerChild, stopped as spare, or a reload's old generation; read every second, so at least that many)", n))
			}
			if len(s.AccessLogLines) > 0 {
				var logs []string
				for _, name := range slices.Sorted(maps.Keys(s.AccessLogLines)) {
					logs = append(logs, fmt.Sprintf("%s %d", name, s.AccessLogLines[name]))
				}
				parts = append(parts, "lines per access log: "+strings.Join(logs, ", "))
			}
			if len(s.Protocols) > 0 {
				var ps []string
				for _, p := range slices.Sorted(maps.Keys(s.Protocols)) {
					ps = append(ps, fmt.Sprintf("%s %d", p, s.Protocols[p]))
				}
				parts = append(parts, "worker slots by the protocol of their last request: "+strings.Join(ps, ", "))
			}
			if s.PeakThreads > 0 {
				parts = append(parts, s.DescribeH2Workers())
			}
			if s.MemoryEndMB > 0 {
				parts = append(parts, fmt.Sprintf("memory %g -> %g MB (peak %g, %g KB per connection held), CPU %gs",
					s.MemoryStartMB, s.MemoryEndMB, s.MemoryPeakMB, s.MemoryPerConnKB, s.CPUSeconds))
			}
			if s.OOMKills > 0 {
				parts = append(parts, fmt.Sprintf("OOM-killed processes: %d", s.OOMKills))
			}
			if s.PeakAcceptQueue >= 0 {
				parts = append(parts, fmt.Sprintf("accept queue peak %d", s.PeakAcceptQueue))
			}
			if k := s.Kernel; k != nil {
				parts = append(parts, fmt.Sprintf("kernel listen overflows +%d, drops +%d", k.Overflows, k.Drops))
			}
			if s.BusyClosed > 0 {
				parts = append(parts, s.DescribeBusyShutdowns())
			}
			shown := 0
			for _, c := range s.ErrorLog {
				if c.Notable() && shown < 2 {
					parts = append(parts, fmt.Sprintf("httpd %s x%d: %s", c.Code, c.Count, c.First))
					shown++
				}
			}
		}
		lines = append(lines, fmt.Sprintf("%s: %s", r.Config, strings.Join(parts, "; ")))
	}
	return lines
}

// clientResponses counts every response the client read over the whole
// run, errors with a status and late answers included: what httpd's Total
// Accesses counts, but for requests httpd answered after the client's last
// read.
func clientResponses(r results.Run) int64 {
	var n int64
	for _, p := range r.Series {
		n += p.OK + p.Late + p.Errors["http_4xx"] + p.Errors["http_5xx"]
	}
	return n
}

func timeToCapacity(s float64) string {
	if s < 0 {
		return "never held every connection"
	}
	return "held every connection from " + strconv.FormatFloat(s, 'f', -1, 64) + "s"
}

// tlsLines are the https:// runs' TLS, one line per config.
// shardLines say, for a config loaded from several generator processes,
// what each one did: a process that was itself the limit shows here.
func shardLines(f *results.File) []string {
	var out []string
	for _, r := range f.Runs {
		if len(r.GeneratorShards) == 0 {
			continue
		}
		var parts []string
		for _, s := range r.GeneratorShards {
			p := fmt.Sprintf("#%d %d of %d served, %d ok, %d dropped, client_late %d", s.Shard, s.Served, s.Target, s.OK, s.Dropped, s.ClientLate)
			if n := s.PortsExhausted + s.ClientNofile; n > 0 {
				p += fmt.Sprintf(", ports_exhausted %d, client_nofile %d", s.PortsExhausted, s.ClientNofile)
			}
			if s.Node != "" {
				p += " on " + s.Node
			}
			if s.ClockOffsetMS != nil {
				// The shard's clock against the coordinator's; rounded first,
				// so that a tiny negative offset does not print as -0.0.
				p += fmt.Sprintf(" (clock %+.1f ms off)", math.Round(-*s.ClockOffsetMS*10)/10+0)
			}
			parts = append(parts, p)
		}
		kind := fmt.Sprintf("%d processes", len(r.GeneratorShards))
		if r.Fleet != "" {
			kind = fmt.Sprintf("%s, %d shards", r.Fleet, len(r.GeneratorShards))
		}
		out = append(out, fmt.Sprintf("%s generator: %s: %s", r.Config, kind, strings.Join(parts, "; ")))
	}
	return out
}

// pathClassLines are a request mix's per-path-class results, a line per
// config and class.
func pathClassLines(f *results.File) []string {
	var out []string
	for _, r := range f.Runs {
		for _, c := range r.PathClasses {
			out = append(out, fmt.Sprintf("%s %s: %d ok, %d dropped (%g%%), p50 %s ms, p99 %s ms",
				r.Config, c.Class, c.OK, c.Dropped, c.DroppedPct, results.Num(c.LatencyMS.P50), results.Num(c.LatencyMS.P99)))
		}
	}
	if len(out) > 0 {
		out = append([]string{"per path class (the request mix's first path segments):"}, out...)
	}
	return out
}

// clientGroupLines are the fast and the slow clients apart, a line per
// config and group: a config that protects fast clients from slow ones
// shows it here.
func clientGroupLines(f *results.File) []string {
	var out []string
	for _, r := range f.Runs {
		for _, g := range r.ClientGroups {
			c, q := g.Connections, g.Requests
			out = append(out, fmt.Sprintf("%s %s: %d of %d served, %d starved; %d ok, %d dropped (%g%%), p50 %s ms, p99 %s ms",
				r.Config, g.Group, c.Served, c.Target, c.Starved, q.OK, q.Dropped, math.Round(q.DroppedPct*100)/100,
				results.Num(g.LatencyMS.P50), results.Num(g.LatencyMS.P99)))
		}
	}
	if len(out) > 0 {
		out = append([]string{"fast and slow clients (workload.slow_clients; the p99 threshold judges the fast ones):"}, out...)
	}
	return out
}

func tlsLines(f *results.File) []string {
	var out []string
	for _, r := range f.Runs {
		t := r.TLS
		if t == nil {
			continue
		}
		h := t.HandshakeMS
		line := fmt.Sprintf("%s TLS: %s; %d handshakes (%d resumed, %d failed), handshake ms p50 %s p90 %s p99 %s max %s",
			r.Config, strings.Join(slices.DeleteFunc([]string{t.Version, t.Cipher, t.Group}, func(s string) bool { return s == "" }), " "), t.Handshakes, t.Resumed, t.Failed, results.Num(h.P50), results.Num(h.P90), results.Num(h.P99), results.Num(h.Max))
		if t.ServerCPUPerHandshakeUS > 0 {
			line += fmt.Sprintf("; httpd CPU about %g µs per handshake (%s)", t.ServerCPUPerHandshakeUS, t.ServerCPUHow)
		}
		out = append(out, line)
	}
	return out
}

// generatorLines say how hard the generator itself worked in each
// config's window: its CPUs' use and the requests it sent late, the signs
// that the test box, not the config, was the limit (an INCONCLUSIVE
// verdict past their limits).
func generatorLines(f *results.File) []string {
	var out []string
	for _, r := range f.Runs {
		g := r.Generator
		if g == nil || (g.CPUs == 0 && g.LateSends == 0) {
			continue
		}
		var parts []string
		if g.CPUs > 0 {
			parts = append(parts, fmt.Sprintf("its %s %.0f%% busy over the window (busiest second %.0f%%)", results.CPUCount(g.CPUs), g.BusyPct, g.PeakBusyPct))
		}
		parts = append(parts, fmt.Sprintf("%d requests sent late (latest %s ms)", g.LateSends, results.Num(g.SendLateMaxMS)))
		out = append(out, fmt.Sprintf("%s generator: %s", r.Config, strings.Join(parts, "; ")))
	}
	return out
}

// imageLines name the httpd the configs ran: the image, its ID and what
// httpd -v said; one line when every config ran the same.
func imageLines(f *results.File) []string {
	describe := func(r results.Run) string {
		if r.Image == "" && r.HTTPDVersion == "" {
			return ""
		}
		s := "httpd: " + cmp.Or(r.HTTPDVersion, "version unknown")
		if r.Image != "" {
			s += " from image " + r.Image
			if id := strings.TrimPrefix(r.ImageID, "sha256:"); id != "" {
				s += " (sha256:" + id[:min(12, len(id))] + ")"
			}
		} else {
			s += " on this host"
		}
		return s
	}
	seen := map[string]bool{}
	var lines []string
	for _, r := range f.Runs {
		if d := describe(r); d != "" && !seen[d] {
			seen[d] = true
			lines = append(lines, d)
		}
	}
	if len(lines) <= 1 {
		return lines
	}
	lines = lines[:0]
	for _, r := range f.Runs {
		if d := describe(r); d != "" {
			lines = append(lines, r.Config+" "+d)
		}
	}
	return lines
}

// headroomLines say, per config, how much of each limit it used at its
// peak, and its costs projected onto production when asked for.
func headroomLines(f *results.File) []string {
	var out []string
	for _, r := range f.Runs {
		if l := r.Headroom.Lines(); len(l) > 0 {
			out = append(out, fmt.Sprintf("%s headroom: %s", r.Config, strings.Join(l, "; ")))
		}
		if l := r.Projection.Line(); l != "" {
			out = append(out, r.Config+" "+l)
		}
	}
	return out
}

// arrivalLine says whether a config that did not pass depends on how fast
// its connections arrived: the arrival check's finding, or, without one,
// the arrival rate and how to check it.
func arrivalLine(r results.Run) string {
	switch {
	case r.Arrival != nil:
		return r.ArrivalNote()
	case r.ArrivalPerS > 0 && (r.Verdict == results.Fail || r.Verdict == results.Flaky):
		return fmt.Sprintf("connections arrived at %.0f/s; --arrival-check runs it again with them arriving 4x more slowly, to tell whether that decided it", r.ArrivalPerS)
	}
	return ""
}
