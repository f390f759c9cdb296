package capacity

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

// Schema names the format of capacity.json.
const Schema = "loadcheck.capacity/v1"

// File is the result of `loadcheck capacity`.
type File struct {
	results.Header                    // Complete: every config's search finished within the budget
	ElapsedS       float64            `json:"elapsed_s"`
	Search         scenarios.Capacity `json:"search"`
	Configs        []ConfigResult     `json:"configs"`
	// Planner is the answer for the target (Answer), written with the
	// file by the report (capacity.json as rendered); Answer computes it.
	Planner *Answer `json:"answer,omitempty"`
}

// Probe outcomes.
const (
	ProbePass          = "pass"
	ProbeFail          = "fail"
	ProbeClientLimited = "client-limited"
	ProbeError         = "error"
)

// Probe is one real run at one connection count against a fresh container.
type Probe struct {
	Connections int         `json:"connections"`
	Outcome     string      `json:"outcome"`
	Reason      string      `json:"reason,omitempty"` // why it failed, from the server-side metrics
	Run         results.Run `json:"run"`
}

// ConfigResult is what the search found for one config.
type ConfigResult struct {
	Config apache.Config `json:"config"`
	Probes []Probe       `json:"probes"`
	// MaxPass is the largest count that passed (0: none did); FirstFail the
	// smallest count above it that failed (0: none failed up to the
	// search's max).
	MaxPass    int    `json:"max_pass"`
	FirstFail  int    `json:"first_fail"`
	FailReason string `json:"fail_reason,omitempty"`
	// ClientLimitedAt is the count at which the generator, not httpd, hit a
	// limit; the search stopped there and the server's limit is unknown.
	ClientLimitedAt int    `json:"client_limited_at,omitempty"`
	Unfinished      string `json:"unfinished,omitempty"` // why the search stopped early
	// Repeat says how the repeated probe at the limit went.
	Repeat string `json:"repeat,omitempty"`
	// Costs, from the probes' server-side readings.
	MemPerConnKB    float64     `json:"mem_per_conn_kb"`
	MemBaseMB       float64     `json:"mem_base_mb"`
	MemMethod       string      `json:"mem_method,omitempty"`
	CPUPerReqUS     float64     `json:"cpu_per_req_us"`
	TimeToCapacityS float64     `json:"time_to_capacity_s"` // at MaxPass; -1 unknown
	DirectiveLimit  int         `json:"directive_limit"`
	DirectiveHow    string      `json:"directive_how,omitempty"`
	Projection      string      `json:"projection,omitempty"`
	ProjectedConns  int         `json:"projected_conns"`
	LimitedBy       string      `json:"limited_by,omitempty"`
	Suggestion      *Suggestion `json:"suggestion,omitempty"`
	// Stepped is the stepped run the search started from, if any.
	Stepped *Stepped `json:"stepped,omitempty"`
	// ArrivalPerS is how fast connections arrived in the probes (the
	// count over the ramp, at MaxPass): the limit holds for that arrival.
	// Arrival is the limit probed once more with connections arriving
	// twice as fast: a config that then fails has a limit that depends on
	// how fast connections come, not one knee.
	ArrivalPerS float64       `json:"arrival_per_s,omitempty"`
	Arrival     *ArrivalCheck `json:"arrival_check,omitempty"`
	// ArrivalSkipped says why the limit was not probed faster, when the
	// search's arrival setting left it out (scenarios.Capacity.Arrival).
	ArrivalSkipped string `json:"arrival_skipped,omitempty"`
	// AtTarget is the scenario's target probed on a fresh server, for a
	// limit found far above it (scenarios.Capacity.ProbeTarget): a config
	// whose limit is not one knee (one that holds 8000 yet fails at
	// 4000) does not meet the target.
	AtTarget *Probe `json:"target_check,omitempty"`
	// SideBySide names the configs searched at the same time as this one
	// (scenarios.SideBySideConns), each against its own server.
	SideBySide []string `json:"side_by_side,omitempty"`
}

// ArrivalCheck is the limit probed with connections arriving faster.
type ArrivalCheck struct {
	PerS  float64 `json:"per_s"`
	RampS float64 `json:"ramp_s"`
	Probe Probe   `json:"probe"`
}

// ArrivalNote says whether the limit held when connections came faster.
func (cc ConfigResult) ArrivalNote() string {
	a := cc.Arrival
	switch {
	case cc.ArrivalPerS == 0:
		return ""
	case a == nil && cc.ArrivalSkipped != "":
		return fmt.Sprintf("the limit holds for connections arriving at %.0f/s; not probed faster: %s", cc.ArrivalPerS, cc.ArrivalSkipped)
	case a == nil:
		return fmt.Sprintf("the limit holds for connections arriving at %.0f/s (not checked faster)", cc.ArrivalPerS)
	case a.Probe.Outcome == ProbePass:
		return fmt.Sprintf("the limit held with connections arriving at %.0f/s and at %.0f/s", cc.ArrivalPerS, a.PerS)
	}
	return fmt.Sprintf("the limit depends on how fast connections arrive: %d held arriving at %.0f/s, and %s arriving at %.0f/s (%s): use the arrival production sees after a deploy or a failover", cc.MaxPass, cc.ArrivalPerS, a.Probe.Outcome, a.PerS, a.Probe.Reason)
}

// TargetNote says how the probe at the target went, if there was one.
func (cc ConfigResult) TargetNote() string {
	p := cc.AtTarget
	switch {
	case p == nil:
		return ""
	case p.Outcome == ProbePass:
		return fmt.Sprintf("held the target (%d) too, on a fresh server", p.Connections)
	}
	return fmt.Sprintf("%s at the target (%d) on a fresh server, though it held %d: its limit is not one knee (%s)", p.Outcome, p.Connections, cc.MaxPass, p.Reason)
}

// Stepped is one run against one server with connections added in steps
// (from the search's start, each capacity.step_factor times the last),
// each step judged on its own by the same rules as an auto warm-up: held
// once every connection was open and answered for 3 s, not held once
// nothing changed for 5 s with some unanswered, or when the step did not
// settle within its cap.
type Stepped struct {
	Steps []Step `json:"steps"`
	// Held is the largest step held (0: none); Knee the estimate of the
	// limit: the connections answered at the first step not held, or the
	// last step when every step held; 0 when the run could not tell.
	Held     int     `json:"held"`
	Knee     int     `json:"knee"`
	ElapsedS float64 `json:"elapsed_s"`
	Error    string  `json:"error,omitempty"`
}

// Step is one step of a stepped run.
type Step struct {
	Connections int  `json:"connections"`
	Held        bool `json:"held"`
	// Answered is the connections answered per second when the step was
	// judged (answers per second over the rate per connection).
	Answered int     `json:"answered"`
	AfterS   float64 `json:"after_s"` // seconds from the step's start to its verdict
	Why      string  `json:"why"`
	// MemoryMB is the container's memory when the step was judged; 0
	// unknown.
	MemoryMB float64 `json:"memory_mb,omitempty"`
}

// Suggestion is a set of directive values that should let a config reach
// the scenario's connection target, with the run that checked it.
type Suggestion struct {
	Target     int                `json:"target"`
	Directives []apache.Directive `json:"directives,omitempty"`
	Why        string             `json:"why"`
	Confirm    *results.Run       `json:"confirm,omitempty"`
	Verdict    string             `json:"verdict"` // pass, fail, not run
	Note       string             `json:"note,omitempty"`
	// Fallback is a second, roomier suggestion, with its own confirming
	// run, made when this one failed in a way more room fixes.
	Fallback *Suggestion `json:"fallback,omitempty"`
}

// ProbeFunc runs one probe at n connections.
type ProbeFunc func(ctx context.Context, n int) (results.Run, error)

// Judged turns a measured run into a probe outcome.
func Judged(n int, run results.Run, cfg apache.Config, th scenarios.Thresholds) Probe {
	p := Probe{Connections: n, Run: run}
	switch {
	case !run.Measured() && run.Error != "":
		p.Outcome, p.Reason = ProbeError, run.Error
	case run.ClientLimited() != "":
		p.Outcome, p.Reason = ProbeClientLimited, run.ClientLimited()
	case run.Verdict == results.Pass:
		p.Outcome = ProbePass
	default:
		p.Outcome, p.Reason = ProbeFail, results.Diagnose(run, cfg, th)
	}
	return p
}

// Search finds cfg's largest passing connection count: it doubles from
// b.Start up to b.Max while probes pass, then bisects between the last
// pass and the first fail until they are within b.PrecisionPct. A
// client-limited probe is a ceiling of what this host can measure: the
// search narrows below it the same way, and when no probe below it failed,
// reports the largest pass as a lower bound of the server's limit. afford
// says whether one more probe at n fits the time budget; onProbe, when set,
// gets each judged probe as it is recorded.
func Search(ctx context.Context, cfg apache.Config, b scenarios.Capacity, th scenarios.Thresholds, probe ProbeFunc, afford func(n int) bool, onProbe func(Probe)) ConfigResult {
	return SearchFrom(ctx, cfg, b, th, nil, probe, afford, onProbe)
}

// SearchFrom is Search starting from a stepped run's knee (nil: from
// b.Start): it probes the knee, then moves away from it in strides that
// double from one precision step (knee + 5 %, + 10 %, + 20 %, … while the
// probes pass; knee - 5 %, - 10 %, … while they fail, the stepped run's
// largest step held tried before any count below it, and the strides
// starting over from it when it fails too) until a pass and a fail
// bracket the limit, then bisects as Search does. The limit found
// is probed once more, as in Search; when that fails with no lower pass,
// the stepped run's largest step held is probed.
func SearchFrom(ctx context.Context, cfg apache.Config, b scenarios.Capacity, th scenarios.Thresholds, st *Stepped, probe ProbeFunc, afford func(n int) bool, onProbe func(Probe)) ConfigResult {
	cc := search(ctx, cfg, b, th, st, probe, afford, onProbe)
	cc.Stepped = st
	// No server fail below the client's ceiling: the server's limit lies
	// above what this host could measure.
	if c := cc.ClientLimitedAt; c > 0 && cc.Unfinished == "" && (cc.FirstFail == 0 || cc.FirstFail > c) {
		why := ""
		for _, p := range cc.Probes {
			if p.Connections == c && p.Outcome == ProbeClientLimited {
				why = p.Reason
			}
		}
		cc.Unfinished = fmt.Sprintf("client-limited at %d connections (%s): the generator, not httpd, hit a limit, so the server's limit is not known; it holds at least %d", c, why, cc.MaxPass)
	}
	return cc
}

func search(ctx context.Context, cfg apache.Config, b scenarios.Capacity, th scenarios.Thresholds, st *Stepped, probe ProbeFunc, afford func(n int) bool, onProbe func(Probe)) ConfigResult {
	s := &searcher{ctx: ctx, cfg: cfg, b: b, th: th, probe: probe, afford: afford, onProbe: onProbe,
		cc: ConfigResult{Config: cfg, TimeToCapacityS: -1}}
	lo, hi, start := 0, 0, b.Start
	seeded := st != nil && st.Knee > 0
	if seeded {
		start = 0
		var ok bool
		if lo, hi, ok = s.fromKnee(st); !ok {
			return s.cc.finish()
		}
	}
	for _, n := range Steps(start, b.Max, 2) {
		if lo >= b.Max {
			break
		}
		p, ok := s.run(n)
		if !ok {
			return s.cc.finish()
		}
		if p.Outcome != ProbePass {
			hi = n
			break
		}
		lo = n
	}
	for hi > 0 && float64(hi-lo) > float64(hi)*b.PrecisionPct/100 && hi-lo > 1 {
		mid := (lo + hi) / 2
		p, ok := s.run(mid)
		if !ok {
			break
		}
		if p.Outcome != ProbePass {
			hi = mid
		} else {
			lo = mid
		}
	}
	// A lower bound the stepped run gave but no probe tried.
	if s.cc = s.cc.finish(); seeded && lo > 0 && s.cc.MaxPass < lo && s.cc.Unfinished == "" && !s.cc.probed(lo) {
		if _, ok := s.run(lo); !ok {
			return s.cc.finish()
		}
		s.cc = s.cc.finish()
	}
	s.repeatLimit(seeded, st)
	return s.cc.finish()
}

// searcher is one config's search in progress: how it probes, and what
// the probes found so far (cc).
type searcher struct {
	ctx     context.Context
	cfg     apache.Config
	b       scenarios.Capacity
	th      scenarios.Thresholds
	probe   ProbeFunc
	afford  func(n int) bool
	onProbe func(Probe)
	cc      ConfigResult
}

// run probes n connections and records the probe; false ends the search
// (interrupted, out of budget, or a probe that could not run).
func (s *searcher) run(n int) (Probe, bool) {
	cc := &s.cc
	if s.ctx.Err() != nil {
		cc.Unfinished = "interrupted"
		return Probe{}, false
	}
	if !s.afford(n) {
		cc.Unfinished = fmt.Sprintf("the time budget ran out before the probe at %d connections", n)
		return Probe{}, false
	}
	r, err := s.probe(s.ctx, n)
	if err != nil {
		r = results.Run{Config: s.cfg.Name, MPM: s.cfg.MPM, Error: err.Error()}
	}
	results.Judge(&r, s.th)
	p := Judged(n, r, s.cfg, s.th)
	if s.ctx.Err() != nil && !r.Complete {
		cc.Unfinished = "interrupted"
		return Probe{}, false
	}
	cc.Probes = append(cc.Probes, p)
	if s.onProbe != nil {
		s.onProbe(p)
	}
	switch p.Outcome {
	case ProbeError:
		cc.Unfinished = fmt.Sprintf("the probe at %d connections could not run: %s", n, p.Reason)
		return p, false
	case ProbeClientLimited:
		// A ceiling for what this host can measure, not the server's
		// limit: the search narrows below it like below a fail.
		if cc.ClientLimitedAt == 0 || n < cc.ClientLimitedAt {
			cc.ClientLimitedAt = n
		}
	}
	return p, true
}

// fromKnee brackets the limit from a stepped run's knee: the knee, then
// away from it in strides that double from one precision step, up while
// the probes pass, down while they fail. The knee is near the limit, so
// one or two probes usually bracket it. lo passed (0: none did), hi
// failed (0: none did); false ends the search.
func (s *searcher) fromKnee(st *Stepped) (lo, hi int, ok bool) {
	b := s.b
	k := min(st.Knee, b.Max)
	stride := max(1, int(float64(k)*b.PrecisionPct/100))
	p, ok := s.run(k)
	if !ok {
		return 0, 0, false
	}
	if p.Outcome == ProbePass {
		lo = k
		for d := stride; lo < b.Max; d *= 2 {
			n := min(b.Max, k+d)
			if p, ok = s.run(n); !ok {
				return 0, 0, false
			}
			if p.Outcome != ProbePass {
				return lo, n, true
			}
			lo = n
		}
		return lo, 0, true
	}
	// Fewer on a fresh server than on the stepped run's warm one. The
	// largest step that held comes before any lower count; when even that
	// fails (a config whose edge moves between runs), the strides go on
	// down from it.
	hi = k
	from, d := k, stride
	for {
		n := from - d
		if from == k && st.Held > 0 && st.Held < k && n <= st.Held {
			n = st.Held
		}
		if n <= 0 {
			return 0, hi, true // nothing passed: bisect from 0
		}
		if p, ok = s.run(n); !ok {
			return 0, 0, false
		}
		if p.Outcome == ProbePass {
			return n, hi, true
		}
		hi = n
		if from == k && n == st.Held {
			from, d = n, max(1, int(float64(n)*b.PrecisionPct/100))
			continue
		}
		d *= 2
	}
}

// repeatLimit probes the limit found once more, with RepeatLimit: a load
// test at the edge is noisy, and a limit that does not hold twice is not
// reported as one. A stepped run's knee is the edge itself, where one
// connection more or less decides: it is repeated too.
func (s *searcher) repeatLimit(seeded bool, st *Stepped) {
	if s.cc.MaxPass == 0 || s.cc.Unfinished != "" {
		return
	}
	if !s.b.RepeatLimit {
		s.cc.Repeat = fmt.Sprintf("the limit rests on one probe at %d (repeat_limit or --repeat-limit probes it again)", s.cc.MaxPass)
		return
	}
	n := s.cc.MaxPass
	p, ok := s.run(n)
	if !ok {
		return
	}
	s.cc = s.cc.finish()
	if p.Outcome == ProbePass {
		s.cc.Repeat = fmt.Sprintf("the limit held again when the probe at %d was repeated", n)
		return
	}
	s.cc.Repeat = fmt.Sprintf("the probe at %d passed, then failed when repeated (%s): the edge is unstable on this host, so the next lower pass is reported", n, p.Reason)
	// No lower pass yet: the stepped run's largest step held.
	if seeded && s.cc.MaxPass == 0 && st.Held > 0 && !s.cc.probed(st.Held) {
		if _, ok := s.run(st.Held); ok {
			s.cc = s.cc.finish()
		}
	}
}

// Steps is from, factor x from, factor² x from, … up to max, the last
// one max: the counts a search probes (doubling), and a stepped run's
// steps. Empty when from is 0.
func Steps(from, max, factor int) []int {
	var n []int
	for c := from; c > 0; c = min(factor*c, max) {
		n = append(n, c)
		if c >= max {
			break
		}
	}
	return n
}

// probed reports whether a probe ran at n connections.
func (cc ConfigResult) probed(n int) bool {
	for _, p := range cc.Probes {
		if p.Connections == n {
			return true
		}
	}
	return false
}

// finish sets MaxPass and FirstFail from the probes (also after an early
// stop) and the time to capacity at MaxPass.
func (cc ConfigResult) finish() ConfigResult {
	// A count passes when every probe at it passed.
	failed := map[int]bool{}
	for _, p := range cc.Probes {
		if p.Outcome == ProbeFail || p.Outcome == ProbeClientLimited {
			failed[p.Connections] = true
		}
	}
	lo, hi := 0, 0
	for _, p := range cc.Probes {
		if p.Outcome == ProbePass && !failed[p.Connections] {
			lo = max(lo, p.Connections)
		}
	}
	for _, p := range cc.Probes {
		if p.Outcome == ProbeFail && p.Connections > lo && (hi == 0 || p.Connections < hi) {
			hi = p.Connections
			cc.FailReason = p.Reason
		}
	}
	cc.MaxPass, cc.FirstFail = lo, hi
	for _, p := range cc.Probes {
		if p.Outcome == ProbePass && p.Connections == lo {
			cc.TimeToCapacityS = p.Run.TimeToCapacityS
		}
	}
	return cc
}

// Costs fits memory against held connections across the probes (least
// squares), and divides httpd's CPU by the requests it counted.
func (cc *ConfigResult) Costs() {
	var xs, ys, reqs, cpus []float64
	for _, p := range cc.Probes {
		r, s := p.Run, p.Run.Server
		if !r.Measured() || s == nil || s.MemoryEndMB <= 0 || s.OOMKills > 0 {
			continue
		}
		xs = append(xs, float64(r.Connections.Served+r.Connections.PartlyServed))
		ys = append(ys, s.MemoryEndMB)
		if s.AccessesDuringRun > 0 {
			reqs, cpus = append(reqs, float64(s.AccessesDuringRun)), append(cpus, s.CPUSeconds)
		}
	}
	// The stepped run's steps: memory at each count held (answered, at the
	// step not held).
	over := fmt.Sprintf("%d probes", len(xs))
	if st := cc.Stepped; st != nil {
		steps := 0
		for _, s := range st.Steps {
			if s.MemoryMB > 0 && s.Answered > 0 {
				xs, ys = append(xs, float64(min(s.Connections, s.Answered))), append(ys, s.MemoryMB)
				steps++
			}
		}
		if steps > 0 {
			over += fmt.Sprintf(" and %d steps of the stepped run", steps)
		}
	}
	// CPU per request is the slope of httpd's CPU against the requests it
	// counted: what one more request costs, without the fixed cost of
	// starting processes; the average when the probes do not show a slope.
	if slope, _, ok := fit(reqs, cpus); ok && slope > 0 {
		cc.CPUPerReqUS = math.Round(slope*1e6*10) / 10
	} else if len(reqs) > 0 {
		var c, n float64
		for i := range reqs {
			c, n = c+cpus[i], n+reqs[i]
		}
		cc.CPUPerReqUS = math.Round(c/n*1e6*10) / 10
	}
	slope, icept, ok := fit(xs, ys)
	switch {
	case ok && slope > 0:
		cc.MemPerConnKB = math.Round(slope*1024*10) / 10
		cc.MemBaseMB = math.Round(icept*10) / 10
		cc.MemMethod = "slope of container memory against held connections over " + over
	case len(xs) > 0:
		// Memory did not grow with connections (for example every process
		// was started up front): the average cost at the largest probe.
		i := 0
		for j := range xs {
			if xs[j] > xs[i] {
				i = j
			}
		}
		if xs[i] > 0 {
			cc.MemPerConnKB = math.Round(ys[i]/xs[i]*1024*10) / 10
			cc.MemMethod = fmt.Sprintf("memory did not grow with connections; average at %g connections (an upper bound)", xs[i])
		}
	}
}

func fit(xs, ys []float64) (slope, icept float64, ok bool) {
	n := float64(len(xs))
	if len(xs) < 2 {
		return 0, 0, false
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx, sy, sxx, sxy = sx+xs[i], sy+ys[i], sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0, 0, false
	}
	slope = (n*sxy - sx*sy) / d
	return slope, (sy - slope*sx) / n, true
}

// Project says how many connections the config would hold on a host with
// hostMemory bytes for httpd and cpus CPUs at ratePerConn requests per
// second on each connection (0: closed loop, no CPU bound).
func (cc *ConfigResult) Project(hostMemory int64, cpus, ratePerConn float64) {
	cc.DirectiveLimit, cc.DirectiveHow = cc.Config.DirectiveLimit()
	type bound struct {
		n    int
		what string
	}
	var bounds []bound
	if cc.DirectiveLimit > 0 {
		bounds = append(bounds, bound{cc.DirectiveLimit, cc.DirectiveHow})
	}
	hostMB := float64(hostMemory) / (1 << 20)
	if cc.MemPerConnKB > 0 && hostMB > cc.MemBaseMB {
		bounds = append(bounds, bound{int((hostMB - cc.MemBaseMB) / (cc.MemPerConnKB / 1024)), fmt.Sprintf("memory (%.0f KB per connection)", cc.MemPerConnKB)})
	}
	if cc.CPUPerReqUS > 0 && ratePerConn > 0 && cpus > 0 {
		bounds = append(bounds, bound{int(cpus / (cc.CPUPerReqUS / 1e6 * ratePerConn)), fmt.Sprintf("CPU (%.0f µs per request at %g req/s per connection on %g CPUs)", cc.CPUPerReqUS, ratePerConn, cpus)})
	}
	if len(bounds) == 0 {
		cc.Projection = "no projection: the probes gave neither memory nor CPU readings, and the MPM is unknown"
		return
	}
	sort.Slice(bounds, func(i, j int) bool { return bounds[i].n < bounds[j].n })
	cc.ProjectedConns, cc.LimitedBy = bounds[0].n, bounds[0].what
	cc.Projection = fmt.Sprintf("on a host with %s for httpd and %g CPUs this config holds about %d connections, limited by %s",
		gib(hostMemory), cpus, cc.ProjectedConns, cc.LimitedBy)
	if cc.FirstFail > 0 && cc.MaxPass < cc.ProjectedConns {
		cc.Projection += fmt.Sprintf("; but this machine reached %d connections, not more: what stopped it is in the fail reason", cc.MaxPass)
	}
}

func gib(b int64) string {
	return strconv.FormatFloat(float64(b)/(1<<30), 'f', -1, 64) + " GiB"
}

// Suggest proposes directives that should reach target when cc's limit is
// a directive rather than the hardware, or, for event, how it runs its
// processes (a failed probe saw it close kept-alive connections although
// its directives allow the target: apache.EventSpareFix); nil when
// nothing is to be changed.
func (cc *ConfigResult) Suggest(target int) *Suggestion {
	cfg := cc.Config
	if cc.MaxPass >= target && (cc.AtTarget == nil || cc.AtTarget.Outcome != ProbeFail) {
		return nil // it held the target (a limit above it, and the target too when probed)
	}
	limit, _ := cfg.DirectiveLimit()
	if limit >= target && cc.eventClosedKeptAlive() {
		// Allowed by the limits, lost to how event runs its processes.
		if size, ok := apache.EventSpareFix(cfg, target); ok {
			return &Suggestion{Target: target, Verdict: "not run", Directives: size.Directives, Why: size.Why}
		}
	}
	if limit == 0 || limit >= target {
		return nil // not a directive limit: the hardware, or an unknown MPM
	}
	size, ok := apache.SizeFor(cfg, target)
	if !ok {
		return nil
	}
	return &Suggestion{Target: target, Verdict: "not run", Directives: size.Directives, Why: size.Why}
}

// eventClosedKeptAlive reports whether a failed probe saw event close
// kept-alive connections (a process stopped, or full as they arrived).
func (cc *ConfigResult) eventClosedKeptAlive() bool {
	probes := cc.Probes
	if cc.AtTarget != nil {
		probes = append(slices.Clip(probes), *cc.AtTarget)
	}
	for _, p := range probes {
		if p.Outcome == ProbeFail && p.Run.Server != nil && (p.Run.Server.BusyClosed > 0 || p.Run.Server.SpareStops > 0) {
			return true
		}
	}
	return false
}

// SuggestFallback proposes, after event's suggestion failed because
// processes shut down their kept-alive connections, a thread per
// connection: then no process holds many more connections than it has
// threads, and it stays below its cap (ThreadsPerChild +
// AsyncRequestWorkerFactor x idle workers) although connections spread
// unevenly. nil when that does not apply.
func (cc *ConfigResult) SuggestFallback() *Suggestion {
	s := cc.Suggestion
	if cc.Config.MPM != "event" || s == nil || s.Confirm == nil || s.Verdict == results.Pass || s.Confirm.Server == nil || s.Confirm.Server.BusyClosed == 0 {
		return nil
	}
	size := apache.ThreadPerConnection(cc.Config, s.Target)
	return &Suggestion{Target: s.Target, Verdict: "not run", Directives: size.Directives, Why: size.Why}
}

// ExplainFailure adds to a failed suggestion what the other configs of the
// same MPM showed: when one whose directives allow the target held fewer
// connections on this machine, the host is the limit, not the directives.
func (f *File) ExplainFailure(cc *ConfigResult) {
	s := cc.Suggestion
	if s == nil || s.Confirm == nil || s.Verdict == results.Pass {
		return
	}
	if srv := s.Confirm.Server; srv != nil && srv.BusyClosed > 0 {
		s.Note = fmt.Sprintf("%s. The server as a whole was below its limit (it held up to %d connections), but event caps each process, connections do not spread evenly over the processes, and busy workers (p50 here %s ms) lower the cap further",
			srv.DescribeBusyShutdowns(), srv.PeakConnsTotal, results.Num(s.Confirm.LatencyMS.P50))
		return
	}
	for _, o := range f.Configs {
		if o.Config.Name == cc.Config.Name || o.Config.MPM != cc.Config.MPM || o.DirectiveLimit < s.Target || o.MaxPass >= s.Target {
			continue
		}
		s.Note = fmt.Sprintf("%s, whose directives allow %d connections, held only %d on this machine (%s): here the host limits %s, not the directives",
			o.Config.Name, o.DirectiveLimit, o.MaxPass, o.FailReason, cc.Config.MPM)
		return
	}
}

// WriteJSON writes f to path atomically.
func (f *File) WriteJSON(path string) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode capacity result: %w", err)
	}
	return results.WriteFileAtomic(path, append(data, '\n'))
}

// ResultFile is the name of the capacity result in a run folder.
const ResultFile = "capacity.json"

// Read reads a capacity.json, refusing other schemas.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: not a loadcheck capacity result (damaged or cut short?): %s", path, results.JSONWhere(data, err))
	}
	if f.Schema != Schema {
		return nil, fmt.Errorf("%s: schema %q, but this loadcheck reads %q", path, f.Schema, Schema)
	}
	return &f, nil
}

// Save writes f as ResultFile in the run folder dir.
func (f *File) Save(dir string) error { return f.WriteJSON(filepath.Join(dir, ResultFile)) }
