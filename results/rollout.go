package results

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/loadcheck/loadcheck/bench"
)

// Rollout is what switching a running server from one config to another
// cost under load (loadcheck rollout): per phase of the measured window,
// the old generation's draining, and whether no request was lost.
type Rollout struct {
	From string `json:"from"`
	To   string `json:"to"`
	How  string `json:"how"` // graceful or restart
	// SignalS is when httpd got the signal, in seconds since the load
	// started (as the series count).
	SignalS float64 `json:"signal_s"`
	// DrainedS is how long after the signal the old generation's last
	// gracefully finishing slot (G on the scoreboard) was gone; -1 when it
	// was not within the run, 0 when none was ever seen.
	DrainedS float64 `json:"drained_s"`
	// PeakGraceful is the most G slots at one reading after the signal.
	PeakGraceful int `json:"peak_graceful_slots"`
	// RecoveredS is how long after the signal the load was whole again
	// for good: from the start of the first second after which every
	// second of the window had all its connections open and not one
	// request dropped. -1 when the window ended first.
	RecoveredS float64 `json:"recovered_s"`
	// Refused are httpd's lines saying a directive kept its old value
	// over the switch ("changing ServerLimit to 16 from original value of
	// 250 not allowed during restart"): those need a full stop and start.
	Refused []string       `json:"refused,omitempty"`
	Phases  []RolloutPhase `json:"phases"`
	// ScoreboardFull counts httpd's "scoreboard is full" lines
	// (AH00485, AH03490): the new generation could not start all its
	// processes while the old one held their slots.
	ScoreboardFull int `json:"scoreboard_full,omitempty"`
	// Acknowledged: httpd logged the signal (ackCodes), so the switch
	// did happen.
	Acknowledged bool `json:"acknowledged"`
	// ZeroLoss: no request due in the window failed; every connection
	// was kept, or reconnected in time for its next request.
	ZeroLoss bool   `json:"zero_loss"`
	Why      string `json:"why,omitempty"` // when not zero-loss
}

// RolloutPhase is one phase of the window: before the signal, switching
// (from the signal until the old generation drained, at least a
// second), after. Answers and drops count in the second they happened
// (a timeout when it fired), so a phase's drops can be requests due a
// timeout earlier.
type RolloutPhase struct {
	Name  string  `json:"name"`
	FromS float64 `json:"from_s"`
	ToS   float64 `json:"to_s"`
	Tally
}

// Tally is what some seconds of the window saw, summed from the run's
// series: a rollout's phase, a soak's minute.
type Tally struct {
	OK         int64            `json:"ok"`
	Dropped    map[string]int64 `json:"dropped,omitempty"` // by class
	Reconnects int64            `json:"reconnects"`        // connections the server closed, opened again
	// WorstP99MS is the highest of its seconds' p99 latencies: the
	// longest wait its connections saw, near enough.
	WorstP99MS float64 `json:"worst_p99_ms"`
}

// add counts one second of the series.
func (t *Tally) add(p bench.Point) {
	t.OK += p.OK
	t.Reconnects += p.Reconnects
	t.WorstP99MS = max(t.WorstP99MS, float64(p.P99US)/1000)
	for class, n := range p.Errors {
		if t.Dropped == nil {
			t.Dropped = map[string]int64{}
		}
		t.Dropped[class] += n
	}
}

// DroppedTotal sums the drops.
func (t Tally) DroppedTotal() int64 {
	var n int64
	for _, v := range t.Dropped {
		n += v
	}
	return n
}

// ackCodes are the lines each MPM (event, worker, prefork) logs on
// receiving each switch's signal, as Debian's 2.4 logs them: graceful
// (SIGUSR1), restart (SIGHUP), stop-start (SIGWINCH, graceful-stop).
var ackCodes = map[string][3]string{
	"graceful":   {"AH00493", "AH00297", "AH00171"},
	"restart":    {"AH00494", "AH00298", "AH00173"},
	"stop-start": {"AH00492", "AH00296", "AH00170"},
}

// ackOf is ackCodes[how] as a slice.
func ackOf(how string) []string {
	codes := ackCodes[how]
	return codes[:]
}

// RolloutOf is run's rollout from config from to config to (how), with
// httpd signalled signalS seconds into the load.
func RolloutOf(run Run, from, to, how string, signalS float64) *Rollout {
	r := &Rollout{From: from, To: to, How: how, SignalS: math.Round(signalS*100) / 100, DrainedS: 0}
	start, end := run.MeasureStartS, run.MeasureStartS+run.MeasuredS
	stopStart := how == "stop-start" // the old server exits before the new one starts: no G slot is the old one's
	if s := run.Server; s != nil {
		lastG := -1.0
		for _, p := range s.Series {
			if g := p.Scoreboard["G"]; p.T >= signalS && g > 0 && !stopStart {
				r.PeakGraceful, lastG = max(r.PeakGraceful, g), p.T
			}
		}
		switch {
		case lastG < 0:
		case len(s.Series) > 0 && lastG >= s.Series[len(s.Series)-1].T:
			r.DrainedS = -1
		default:
			r.DrainedS = math.Round((lastG-signalS+1)*10) / 10 // gone by the next reading
		}
		for _, c := range s.ErrorLog {
			switch c.Code {
			case "AH00485", "AH03490", "AH00288": // event's, and worker's
				r.ScoreboardFull += c.Count
			case ackCodes[how][0], ackCodes[how][1], ackCodes[how][2]:
				r.Acknowledged = true
			}
			if i := strings.Index(c.First, "changing "); i >= 0 && strings.Contains(c.First, "not allowed during restart") {
				r.Refused = append(r.Refused, c.Code+": "+strings.TrimSpace(c.First[i:]))
			}
		}
	}
	r.RecoveredS = -1
	for _, p := range run.Series {
		if p.T <= signalS || p.Phase != bench.PhaseMeasure {
			continue // a second over before the signal, or outside the window
		}
		whole := p.Open >= int64(run.Connections.Target)
		for _, n := range p.Errors {
			whole = whole && n == 0
		}
		switch {
		case !whole:
			r.RecoveredS = -1
		case r.RecoveredS < 0:
			r.RecoveredS = math.Round(max(p.T-1-signalS, 0)*10) / 10
		}
	}
	switchEnd := signalS + max(1, r.DrainedS)
	switch {
	case stopStart && r.RecoveredS >= 0:
		switchEnd = signalS + max(1, r.RecoveredS) // until the new server holds them all again
	case stopStart, r.DrainedS < 0:
		switchEnd = end
	}
	switchEnd = min(switchEnd, end)
	r.Phases = []RolloutPhase{{Name: "before", FromS: start, ToS: signalS}, {Name: "switching", FromS: signalS, ToS: switchEnd}, {Name: "after", FromS: switchEnd, ToS: end}}
	for i := range r.Phases {
		r.Phases[i].FromS, r.Phases[i].ToS = math.Round(r.Phases[i].FromS*10)/10, math.Round(r.Phases[i].ToS*10)/10
	}
	for _, p := range run.Series {
		mid := p.T - 0.5
		if mid < start || mid > end {
			continue
		}
		ph := &r.Phases[0]
		switch {
		case mid >= switchEnd:
			ph = &r.Phases[2]
		case mid >= signalS:
			ph = &r.Phases[1]
		}
		ph.add(p)
	}
	var lost []string
	for _, p := range r.Phases {
		if n := p.DroppedTotal(); n > 0 {
			lost = append(lost, fmt.Sprintf("%d %s (%s)", n, p.Name, classes(p.Dropped)))
		}
	}
	switch {
	case !run.Measured():
		r.Why = "the run was not measured"
	case run.Server != nil && run.Server.Died != "":
		r.Why = "httpd died: " + run.Server.Died
	case run.Server != nil && !r.Acknowledged:
		r.Why = fmt.Sprintf("httpd never logged the signal (%s): the switch cannot be shown to have happened", strings.Join(ackOf(how), ", "))
	case len(lost) > 0:
		r.Why = "requests failed: " + strings.Join(lost, "; ")
	case r.DrainedS < 0:
		r.Why = "the old generation was still finishing when the window ended"
	default:
		r.ZeroLoss = true
	}
	return r
}

// classes is drops by class, most first: "closed_by_server 12, reset 3".
func classes(m map[string]int64) string {
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		if m[a] != m[b] {
			return int(m[b] - m[a])
		}
		return strings.Compare(a, b)
	})
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(out, ", ")
}

// Lines say the rollout in words.
func (r *Rollout) Lines() []string {
	if r == nil {
		return nil
	}
	verdict := "ZERO-LOSS: no request failed, every connection kept or reconnected in time"
	if !r.ZeroLoss {
		verdict = "NOT zero-loss: " + r.Why
	}
	out := []string{fmt.Sprintf("rollout %s -> %s (%s) at %.1f s: %s", r.From, r.To, r.How, r.SignalS, verdict)}
	for _, p := range r.Phases {
		line := fmt.Sprintf("  %s (%.1f-%.1f s): %d ok, %d dropped", p.Name, p.FromS, p.ToS, p.OK, p.DroppedTotal())
		if len(p.Dropped) > 0 {
			line += " (" + classes(p.Dropped) + ")"
		}
		line += fmt.Sprintf(", %d reconnects after the server closed them, worst p99 %s ms", p.Reconnects, Num(p.WorstP99MS))
		out = append(out, line)
	}
	switch {
	case r.How == "stop-start":
		out = append(out, "  old server: stopped gracefully before the new one started (the switching phase lasts until the load recovered)")
	case r.DrainedS < 0:
		out = append(out, fmt.Sprintf("  old generation: still finishing at the end (peak %d G slots)", r.PeakGraceful))
	case r.PeakGraceful > 0:
		out = append(out, fmt.Sprintf("  old generation: drained %.1f s after the signal (peak %d G slots)", r.DrainedS, r.PeakGraceful))
	default:
		out = append(out, "  old generation: no G slot seen (gone within a reading)")
	}
	if r.RecoveredS >= 0 {
		out = append(out, fmt.Sprintf("  recovered %.1f s after the signal: from then on every connection open and not one request dropped", r.RecoveredS))
	} else {
		out = append(out, "  never recovered in the window: some second up to its end had a connection not open or a request dropped")
	}
	for _, l := range r.Refused {
		out = append(out, "  httpd kept the old value: "+l+" (only a full stop and start changes it)")
	}
	lostAfter := len(r.Phases) == 3 && r.Phases[1].DroppedTotal()+r.Phases[2].DroppedTotal() > 0
	switch {
	case r.ScoreboardFull > 0:
		out = append(out, fmt.Sprintf("  httpd said the scoreboard was full %d times (AH00485/AH03490/AH00288): raise ServerLimit above what one generation needs", r.ScoreboardFull))
	case r.PeakGraceful > 0 && lostAfter:
		out = append(out, fmt.Sprintf("  the old generation held up to %d scoreboard slots (G) while the new one started, and requests failed after the signal: a ServerLimit above what one generation needs leaves the new one room", r.PeakGraceful))
	}
	return out
}
