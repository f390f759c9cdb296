package capacity

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Answer is what a planner asks first, for the scenario's target
// (its connection count): which configs hold it and with what headroom,
// and per config one card. The HTML report's first screen, the Markdown
// and the JSON (capacity.json's "answer") say the same.
type Answer struct {
	Target int `json:"target"`
	// Line answers "which config for the target" in one sentence.
	Line string `json:"line"`
	// Holding are the configs that held the target, most headroom first;
	// Short those that did not.
	Holding []string `json:"holding"`
	Short   []string `json:"short"`
	Cards   []Card   `json:"cards"`
}

// Card is one config's answer.
type Card struct {
	Config string `json:"config"`
	// Holds is the most connections it held (MaxPass); AtLeast: the
	// generator, not httpd, stopped the search, so httpd holds more.
	// FailsAt is the least count above that failed (0: none up to the
	// search's max).
	Holds   int  `json:"holds"`
	AtLeast bool `json:"at_least,omitempty"`
	FailsAt int  `json:"fails_at,omitempty"`
	// LimitedBy says in words what stopped it here: the directives, event's
	// per-process cap, memory, the generator, or this host.
	LimitedBy string `json:"limited_by"`
	// HeadroomPct is how far Holds is above the target (negative: short).
	HeadroomPct float64 `json:"headroom_pct"`
	MeetsTarget bool    `json:"meets_target"`
	// Sure says how sure the limit is (one probe, or repeated; whether it
	// depends on the arrival rate); Conditions what it held under.
	Sure       string `json:"sure"`
	Conditions string `json:"conditions"`
	// Suggestion is the change proposed for the target and how its
	// confirming run went; "" when none was needed or none applies.
	Suggestion string `json:"suggestion,omitempty"`
	// Host is the projection to the host the search names (host_memory),
	// with what it assumes.
	Host string `json:"host,omitempty"`
}

// Headroom is HeadroomPct as the card says it, or, for a config that
// held more than the target but failed at the target itself on a fresh
// server (ConfigResult.AtTarget), that it has none.
func (k Card) Headroom() string {
	if k.HeadroomPct >= 0 && !k.MeetsTarget {
		return "no headroom: failed at the target itself"
	}
	return fmt.Sprintf("%+.1f %% against the target", k.HeadroomPct)
}

// Answer sums f up for its scenario's target connection count.
func (f *File) Answer() *Answer {
	target := f.Scenario.Load.Connections
	a := &Answer{Target: target}
	for _, c := range f.Configs {
		card := c.card(f, target)
		a.Cards = append(a.Cards, card)
		if card.MeetsTarget {
			a.Holding = append(a.Holding, c.Config.Name)
		} else {
			a.Short = append(a.Short, c.Config.Name)
		}
	}
	head := map[string]float64{}
	for _, c := range a.Cards {
		head[c.Config] = c.HeadroomPct
	}
	sort.SliceStable(a.Holding, func(i, j int) bool { return head[a.Holding[i]] > head[a.Holding[j]] })
	a.Line = a.line(head)
	return a
}

// line is the answer in one sentence.
func (a *Answer) line(head map[string]float64) string {
	var held []string
	for _, n := range a.Holding {
		held = append(held, fmt.Sprintf("%s (%+.0f %%)", n, head[n]))
	}
	var fixed []string
	for _, c := range a.Cards {
		if !c.MeetsTarget && strings.HasPrefix(c.Suggestion, "PASS") {
			fixed = append(fixed, c.Config)
		}
	}
	s := fmt.Sprintf("For %d connections on this host: ", a.Target)
	switch {
	case len(held) > 0:
		s += "holds it: " + strings.Join(held, ", ") + " (headroom above the target)"
	default:
		s += "no config held it"
	}
	if len(fixed) > 0 {
		s += "; held with its suggested change, confirmed: " + strings.Join(fixed, ", ")
	}
	if n := len(a.Short) - len(fixed); n > 0 && len(held) > 0 {
		s += fmt.Sprintf("; %d short of it", n)
	}
	return s + "."
}

// card is cc's answer for target.
func (cc ConfigResult) card(f *File, target int) Card {
	k := Card{Config: cc.Config.Name, Holds: cc.MaxPass, FailsAt: cc.FirstFail, LimitedBy: cc.limitWords()}
	k.AtLeast = cc.FirstFail == 0 && cc.ClientLimitedAt > 0
	if target > 0 {
		k.HeadroomPct = math.Round(float64(cc.MaxPass-target)/float64(target)*1000) / 10
		k.MeetsTarget = cc.MaxPass >= target && (cc.AtTarget == nil || cc.AtTarget.Outcome == ProbePass)
	}
	switch {
	case cc.Repeat != "" && strings.Contains(cc.Repeat, "held again"):
		k.Sure = "the limit held twice"
	case cc.Repeat != "" && strings.Contains(cc.Repeat, "unstable"):
		k.Sure = "unstable at the edge: it passed once, then failed"
	default:
		k.Sure = "one probe at the limit"
	}
	if a := cc.Arrival; a != nil {
		if a.Probe.Outcome == ProbePass {
			k.Sure += fmt.Sprintf("; held with connections arriving at %.0f/s too", a.PerS)
		} else {
			k.Sure += fmt.Sprintf("; depends on the arrival rate: not held arriving at %.0f/s", a.PerS)
		}
	} else if cc.ArrivalSkipped != "" {
		k.Sure += "; not probed arriving faster: " + cc.ArrivalSkipped
	}
	if p := cc.AtTarget; p != nil && p.Outcome == ProbePass {
		k.Sure += fmt.Sprintf("; held the target (%d) on a fresh server too", p.Connections)
	} else if p != nil {
		k.Sure += fmt.Sprintf("; %s at the target (%d) on a fresh server: not one knee", p.Outcome, p.Connections)
	}
	l := f.Scenario.Load
	k.Conditions = fmt.Sprintf("ramp %s", l.RampTime())
	if cc.ArrivalPerS > 0 {
		k.Conditions += fmt.Sprintf(" (%.0f connections/s arriving)", cc.ArrivalPerS)
	}
	k.Conditions += fmt.Sprintf(", %g req/s per connection, timeout %s, pass = %g %% served, <= %g %% dropped, p99 <= %s",
		l.RatePerConn, l.Timeout, f.Scenario.Thresholds.MinServedPct, f.Scenario.Thresholds.MaxDroppedPct, f.Scenario.Thresholds.MaxP99)
	if s := cc.Suggestion; s != nil {
		var ds []string
		for _, d := range s.Directives {
			ds = append(ds, d.Name+" "+d.Value)
		}
		k.Suggestion = fmt.Sprintf("%s at %d with %s", strings.ToUpper(s.Verdict), s.Target, strings.Join(ds, ", "))
		if fb := s.Fallback; fb != nil && s.Verdict != "pass" {
			k.Suggestion += fmt.Sprintf("; roomier: %s", strings.ToUpper(fb.Verdict))
		}
	}
	if cc.ProjectedConns > 0 {
		host, _, _ := strings.Cut(cc.Projection, "; ")
		k.Host = host + " (projected from this host's costs per connection and per request)"
	}
	return k
}

// limitWords says what stopped cc on this host, in words.
func (cc ConfigResult) limitWords() string {
	switch {
	case cc.FirstFail == 0 && cc.ClientLimitedAt > 0:
		return "the generator on this host (httpd's own limit is higher)"
	case cc.FirstFail == 0 && cc.Unfinished != "":
		return "not found: " + cc.Unfinished
	case cc.FirstFail == 0:
		return "not reached up to the search's max"
	}
	for _, p := range cc.Probes {
		if p.Outcome == ProbeFail && p.Run.Server != nil && p.Run.Server.OOMKills > 0 {
			return "memory (httpd processes killed)"
		}
	}
	if cc.DirectiveLimit > 0 && cc.MaxPass*10 >= cc.DirectiveLimit*9 {
		return "its directives: " + cc.DirectiveHow
	}
	if cc.Config.MPM == "event" && cc.eventClosedKeptAlive() {
		return "event's per-process cap (kept-alive connections closed)"
	}
	return "this host, below the directives (CPU or spawn rate: see why it fails)"
}
