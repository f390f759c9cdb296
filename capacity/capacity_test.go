package capacity

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/internal/testfix"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

func TestSearchFindsTheLimit(t *testing.T) {
	b := scenarios.Capacity{Start: 250, Max: 8000, PrecisionPct: 5, Budget: time.Hour, RepeatLimit: true}
	cfg, _ := apache.Preset("event-tuned", 4000)
	th := scenarios.DefaultThresholds()
	for _, limit := range []int{1, 149, 250, 251, 450, 1500, 3999, 4000, 7999} {
		cc := Search(context.Background(), cfg, b, th, testfix.FakeServer(limit, 0), testfix.Always, nil)
		if cc.MaxPass > limit || cc.FirstFail <= limit {
			t.Errorf("limit %d: holds %d, fails at %d; want holds <= limit < fails", limit, cc.MaxPass, cc.FirstFail)
		}
		if gap := float64(cc.FirstFail - cc.MaxPass); gap > float64(cc.FirstFail)*0.05 && cc.FirstFail-cc.MaxPass > 1 {
			t.Errorf("limit %d: %d..%d is wider than 5%%", limit, cc.MaxPass, cc.FirstFail)
		}
		if len(cc.Probes) > 20 {
			t.Errorf("limit %d: %d probes", limit, len(cc.Probes))
		}
		if cc.Unfinished != "" {
			t.Errorf("limit %d: unfinished: %s", limit, cc.Unfinished)
		}
		if !strings.Contains(cc.FailReason, "starved: ") {
			t.Errorf("limit %d: fail reason %q", limit, cc.FailReason)
		}
	}
	// The probes go 250, 500, 1000, 2000, then bisect below 2000 until
	// 1500..1562 is within 5 % of 1562; then 1500 once more.
	var seen []string // what onProbe was told, as it happened
	cc := Search(context.Background(), cfg, b, th, testfix.FakeServer(1500, 0), testfix.Always, func(p Probe) {
		seen = append(seen, fmt.Sprint(p.Connections, p.Outcome))
	})
	var ns, recorded []string
	for _, p := range cc.Probes {
		ns = append(ns, fmt.Sprint(p.Connections))
		recorded = append(recorded, fmt.Sprint(p.Connections, p.Outcome))
	}
	if got := strings.Join(ns, " "); got != "250 500 1000 2000 1500 1750 1625 1562 1500" {
		t.Errorf("probe order %s", got)
	}
	if fmt.Sprint(seen) != fmt.Sprint(recorded) || !strings.Contains(fmt.Sprint(seen), "1562fail") {
		t.Errorf("onProbe saw %v, the search recorded %v", seen, recorded)
	}
	if !strings.Contains(cc.Repeat, "held again") {
		t.Errorf("repeat: %q", cc.Repeat)
	}
	if cc.TimeToCapacityS != 2 {
		t.Errorf("time to capacity at the max pass: %g", cc.TimeToCapacityS)
	}
}

// A limit that passes once and fails when repeated is not reported.
func TestSearchRepeatsTheLimit(t *testing.T) {
	b := scenarios.Capacity{Start: 250, Max: 8000, PrecisionPct: 5, Budget: time.Hour, RepeatLimit: true}
	cfg, _ := apache.Preset("event-tuned", 4000)
	seen := map[int]int{}
	real := testfix.FakeServer(1500, 0)
	flaky := func(ctx context.Context, n int) (results.Run, error) {
		seen[n]++
		if n == 1500 && seen[n] == 2 {
			return real(ctx, 1600) // the second time, 100 of them starve
		}
		return real(ctx, n)
	}
	cc := Search(context.Background(), cfg, b, scenarios.DefaultThresholds(), flaky, testfix.Always, nil)
	if cc.MaxPass != 1000 || cc.FirstFail != 1500 || !strings.Contains(cc.Repeat, "passed, then failed when repeated") {
		t.Errorf("holds %d, fails at %d, repeat %q; want 1000, 1500 and the unstable note", cc.MaxPass, cc.FirstFail, cc.Repeat)
	}
}

func TestSearchStopsHonestly(t *testing.T) {
	b := scenarios.Capacity{Start: 250, Max: 8000, PrecisionPct: 5, Budget: time.Hour, RepeatLimit: true}
	cfg, _ := apache.Preset("event-tuned", 4000)
	th := scenarios.DefaultThresholds()

	cc := Search(context.Background(), cfg, b, th, testfix.FakeServer(20000, 0), testfix.Always, nil)
	if cc.MaxPass != 8000 || cc.FirstFail != 0 || cc.Unfinished != "" {
		t.Errorf("never fails up to max: holds %d fails %d (%s)", cc.MaxPass, cc.FirstFail, cc.Unfinished)
	}

	// A client limit at 4000 is a ceiling: the search narrows below it
	// (3000, 3500, 3750, 3875, and 3875 again) and reports a lower bound.
	cc = Search(context.Background(), cfg, b, th, testfix.FakeServer(20000, 4000), testfix.Always, nil)
	if cc.ClientLimitedAt != 4000 || cc.MaxPass != 3875 || cc.FirstFail != 0 ||
		!strings.Contains(cc.Unfinished, "client-limited at 4000 connections (40 client_late)") || !strings.Contains(cc.Unfinished, "holds at least 3875") {
		t.Errorf("client-limited: at %d holds %d fails %d (%s)", cc.ClientLimitedAt, cc.MaxPass, cc.FirstFail, cc.Unfinished)
	}
	if n := len(cc.Probes); n != 10 || cc.Probes[4].Outcome != ProbeClientLimited {
		t.Errorf("%d probes, the fifth %+v; want 10 with the fifth client-limited", n, cc.Probes[4])
	}
	// A server fail below the client's ceiling is the server's limit: the
	// search finished.
	cc = Search(context.Background(), cfg, b, th, testfix.FakeServer(3000, 4000), testfix.Always, nil)
	if cc.ClientLimitedAt != 4000 || cc.MaxPass != 3000 || cc.FirstFail != 3125 || cc.Unfinished != "" {
		t.Errorf("fail below the client limit: at %d holds %d fails %d (%q)", cc.ClientLimitedAt, cc.MaxPass, cc.FirstFail, cc.Unfinished)
	}
	// A limit whose repeat is client-limited is not confirmed.
	calls := 0
	late := func(ctx context.Context, n int) (results.Run, error) {
		calls++
		r, err := testfix.FakeServer(20000, 4000)(ctx, n)
		if n == 3875 && calls > 9 {
			r.Requests.Errors["client_late"] = 3
		}
		return r, err
	}
	cc = Search(context.Background(), cfg, b, th, late, testfix.Always, nil)
	if cc.MaxPass != 3750 {
		t.Errorf("limit whose repeat was client-limited: holds %d, want the next lower pass 3750", cc.MaxPass)
	}

	probes := 0
	cc = Search(context.Background(), cfg, b, th, testfix.FakeServer(1500, 0), func(int) bool { probes++; return probes <= 3 }, nil)
	if len(cc.Probes) != 3 || cc.MaxPass != 1000 || !strings.Contains(cc.Unfinished, "time budget ran out before the probe at 2000") {
		t.Errorf("budget: %d probes, holds %d (%s)", len(cc.Probes), cc.MaxPass, cc.Unfinished)
	}

	failing := func(ctx context.Context, n int) (results.Run, error) { return results.Run{}, context.DeadlineExceeded }
	cc = Search(context.Background(), cfg, b, th, failing, testfix.Always, nil)
	if len(cc.Probes) != 1 || cc.Probes[0].Outcome != ProbeError || !strings.Contains(cc.Unfinished, "could not run") {
		t.Errorf("setup error: %+v", cc)
	}
}

func TestCostsProjectionSuggestion(t *testing.T) {
	b := scenarios.Capacity{Start: 250, Max: 8000, PrecisionPct: 5, Budget: time.Hour, RepeatLimit: true}
	th := scenarios.DefaultThresholds()
	stock, _ := apache.Preset("event-stock", 4000)
	cc := Search(context.Background(), stock, b, th, testfix.FakeServer(450, 0), testfix.Always, nil)
	cc.Costs()
	if cc.MemPerConnKB != 102.4 || cc.MemBaseMB != 10 || !strings.Contains(cc.MemMethod, "slope") {
		t.Errorf("memory: %g KB/conn, base %g MB (%s); want 102.4 and 10", cc.MemPerConnKB, cc.MemBaseMB, cc.MemMethod)
	}
	if cc.CPUPerReqUS != 50 {
		t.Errorf("CPU per request %g µs, want 50: the slope, without the start-up cost", cc.CPUPerReqUS)
	}
	cc.Project(4<<30, 2, 1)
	if cc.ProjectedConns != 450 || !strings.Contains(cc.LimitedBy, "MaxRequestWorkers") ||
		!strings.Contains(cc.Projection, "on a host with 4 GiB for httpd and 2 CPUs this config holds about 450 connections, limited by MaxRequestWorkers") {
		t.Errorf("projection: %d by %q: %s", cc.ProjectedConns, cc.LimitedBy, cc.Projection)
	}
	s := cc.Suggest(4000)
	if s == nil {
		t.Fatal("no suggestion for a directive-bound config")
	}
	sug := stock
	for _, d := range s.Directives {
		sug.Set(d)
	}
	if v, _ := sug.Get("MaxRequestWorkers"); v != "1475" {
		t.Errorf("event MaxRequestWorkers %s, want 1475 (4400 / 3 up to a multiple of 25)", v)
	}
	if n, _ := sug.DirectiveLimit(); n < 4000 {
		t.Errorf("the suggested event config holds %d by its directives", n)
	}
	for _, f := range sug.Check(4000) {
		t.Errorf("the suggestion draws a finding: %s", f)
	}
	for _, name := range []string{"worker-stock", "prefork-stock"} {
		c, _ := apache.Preset(name, 4000)
		cc := ConfigResult{Config: c, MaxPass: 150}
		s := cc.Suggest(4000)
		if s == nil {
			t.Fatalf("%s: no suggestion", name)
		}
		for _, d := range s.Directives {
			c.Set(d)
		}
		if n, _ := c.DirectiveLimit(); n < 4000 {
			t.Errorf("%s suggested: holds %d by its directives", name, n)
		}
		for _, f := range c.Check(4000) {
			t.Errorf("%s suggestion: %s", name, f)
		}
	}
	// A memory-bound config gets a projection by memory, and no directive
	// suggestion.
	tuned, _ := apache.Preset("event-tuned", 4000)
	big := Search(context.Background(), tuned, b, th, testfix.FakeServer(3000, 0), testfix.Always, nil)
	big.Costs()
	big.Project(1<<30, 2, 1)
	if !strings.HasPrefix(big.LimitedBy, "memory") || big.ProjectedConns != 10140 {
		t.Errorf("1 GiB host: %d by %q", big.ProjectedConns, big.LimitedBy)
	}
	if !strings.Contains(big.Projection, "this machine reached 3000 connections, not more") {
		t.Errorf("the projection hides that this machine held fewer: %s", big.Projection)
	}
	if s := big.Suggest(4000); s != nil {
		t.Errorf("a config whose directives allow 24000 got a directive suggestion: %+v", s)
	}
	// The same config failing because event stopped processes and closed
	// their kept-alive connections gets the two directives that fix it.
	stopped := big
	stopped.Probes = append([]Probe(nil), big.Probes...)
	stopped.Probes = append(stopped.Probes, Probe{Connections: 4000, Outcome: ProbeFail,
		Run: results.Run{Server: &results.Server{SpareStops: 31, SpareIdleThreads: 1024, BusyShutdowns: 60, BusyClosed: 3721}}})
	s = stopped.Suggest(4000)
	if s == nil || len(s.Directives) != 2 || s.Directives[0] != (apache.Directive{Name: "MaxSpareThreads", Value: "8000"}) || s.Directives[1] != (apache.Directive{Name: "StartServers", Value: "46"}) {
		t.Errorf("event that stopped processes: suggestion %+v, want MaxSpareThreads 8000 and StartServers 46", s)
	}
	// Held 7600, then failed at the target on a fresh server, closing
	// kept-alive connections: short of the target, the same suggestion.
	odd := big
	odd.MaxPass, odd.AtTarget = 7600, &Probe{Connections: 4000, Outcome: ProbeFail,
		Run: results.Run{Server: &results.Server{SpareStops: 15, BusyShutdowns: 81, BusyClosed: 2980}}}
	if s := odd.Suggest(4000); s == nil || len(s.Directives) != 2 || s.Directives[0].Name != "MaxSpareThreads" {
		t.Errorf("event that failed at the target above its limit: suggestion %+v, want MaxSpareThreads and StartServers", s)
	}
	odd.AtTarget.Outcome = ProbePass
	if s := odd.Suggest(4000); s != nil {
		t.Errorf("held the target on a fresh server: suggestion %+v, want none", s)
	}
}

func TestExplainFailure(t *testing.T) {
	stock, _ := apache.Preset("prefork-stock", 4000)
	tuned, _ := apache.Preset("prefork-tuned", 4000)
	confirm := results.Run{Verdict: results.Fail}
	f := &File{Configs: []ConfigResult{
		{Config: stock, MaxPass: 148, DirectiveLimit: 150, Suggestion: &Suggestion{Target: 4000, Confirm: &confirm, Verdict: results.Fail}},
		{Config: tuned, MaxPass: 1156, FirstFail: 1187, FailReason: "partly served: 352", DirectiveLimit: 8000},
	}}
	f.ExplainFailure(&f.Configs[0])
	want := "prefork-tuned, whose directives allow 8000 connections, held only 1156 on this machine (partly served: 352): here the host limits prefork, not the directives"
	if f.Configs[0].Suggestion.Note != want {
		t.Errorf("note %q", f.Configs[0].Suggestion.Note)
	}
	f.Configs[1].MaxPass = 4000
	f.Configs[0].Suggestion.Note = ""
	f.ExplainFailure(&f.Configs[0])
	if f.Configs[0].Suggestion.Note != "" {
		t.Errorf("a config that reached the target explains nothing: %q", f.Configs[0].Suggestion.Note)
	}

	// An event confirming run that lost connections to busy shutdowns says
	// so, with what httpd held, rather than blaming the directives.
	ev, _ := apache.Preset("event-stock", 4000)
	busy := results.Run{Verdict: results.Fail, LatencyMS: results.Latency{P50: 354},
		Server: &results.Server{PeakConnsTotal: 4001, BusyShutdowns: 109, BusyClosed: 3307, FullRefusals: 180}}
	g := &File{Configs: []ConfigResult{{Config: ev, MaxPass: 437, DirectiveLimit: 450,
		Suggestion: &Suggestion{Target: 4000, Confirm: &busy, Verdict: results.Fail}}}}
	g.ExplainFailure(&g.Configs[0])
	note := g.Configs[0].Suggestion.Note
	for _, want := range []string{"event shut down 3307 kept-alive connections at 109 moments", "a connection arrives while it is full (ThreadsPerChild + AsyncRequestWorkerFactor x idle workers; 180 times here)",
		"held up to 4001 connections", "p50 here 354 ms"} {
		if !strings.Contains(note, want) {
			t.Errorf("note %q lacks %q", note, want)
		}
	}
	// Then a roomier suggestion: a thread per connection.
	fb := g.Configs[0].SuggestFallback()
	if fb == nil {
		t.Fatal("no roomier suggestion after busy shutdowns")
	}
	var ds []string
	for _, d := range fb.Directives {
		ds = append(ds, d.Name+"="+d.Value)
	}
	if got := strings.Join(ds, " "); got != "ServerLimit=176 ThreadsPerChild=25 MaxRequestWorkers=4400 StartServers=176 MaxSpareThreads=4400" || fb.Target != 4000 || fb.Verdict != "not run" {
		t.Errorf("roomier suggestion %s, target %d, verdict %s", got, fb.Target, fb.Verdict)
	}
	busy.Server.BusyClosed = 0
	if g.Configs[0].SuggestFallback() != nil {
		t.Error("a failure without busy shutdowns gets no roomier suggestion: more room would not fix it")
	}
	if f.Configs[0].SuggestFallback() != nil {
		t.Error("prefork gets no roomier suggestion")
	}
}

// From a stepped run's knee: two probes when the knee is right; when it is
// high or low, the search goes on below or above it and still brackets
// the limit within the precision.
func TestSearchFromKnee(t *testing.T) {
	b := scenarios.Capacity{Start: 250, Max: 8000, PrecisionPct: 5, Budget: time.Hour, RepeatLimit: true}
	cfg, _ := apache.Preset("event-tuned", 4000)
	th := scenarios.DefaultThresholds()
	for _, tc := range []struct {
		limit, knee, held int
		probes            string
	}{
		{149, 149, 0, "149 156 149"},                                            // right: the knee holds, 5 % above fails
		{4300, 4300, 4000, "4300 4515 4300"},                                    // right, a tuned config
		{4200, 4300, 4000, "4300 4085 4085"},                                    // high: 5 % down brackets it
		{4050, 4300, 4000, "4300 4085 4000 4000"},                               // high: the step that held comes before lower counts
		{3750, 7965, 4000, "7965 7567 7169 6373 4781 4000 3800 3600 3700 3700"}, // the held step fails on a fresh server too: strides on down from it
		{1000, 900, 500, "900 945 990 1080 1035 990"},                           // low: strides up (+5, +10, +20 %), then bisect
		{8000, 8000, 8000, "8000 8000"},                                         // every step held: the max, once
		{3000, 4300, 0, "4300 4085 3870 3440 2580 3010 2795 2902 2902"},         // far too high, no step held: strides down, then bisect
	} {
		st := &Stepped{Knee: tc.knee, Held: tc.held}
		cc := SearchFrom(context.Background(), cfg, b, th, st, testfix.FakeServer(tc.limit, 0), testfix.Always, nil)
		var ns []string
		for _, p := range cc.Probes {
			ns = append(ns, fmt.Sprint(p.Connections))
		}
		if got := strings.Join(ns, " "); got != tc.probes {
			t.Errorf("limit %d, knee %d: probes %s, want %s", tc.limit, tc.knee, got, tc.probes)
		}
		if cc.MaxPass > tc.limit || (cc.FirstFail != 0 && cc.FirstFail <= tc.limit) || (cc.FirstFail == 0 && cc.MaxPass != b.Max) {
			t.Errorf("limit %d, knee %d: holds %d, fails at %d", tc.limit, tc.knee, cc.MaxPass, cc.FirstFail)
		}
		if cc.FirstFail > 0 && float64(cc.FirstFail-cc.MaxPass) > float64(cc.FirstFail)*0.05 && cc.FirstFail-cc.MaxPass > 1 {
			t.Errorf("limit %d, knee %d: %d..%d is wider than 5%%", tc.limit, tc.knee, cc.MaxPass, cc.FirstFail)
		}
		if cc.Stepped != st || !strings.Contains(cc.Repeat, "held again") {
			t.Errorf("limit %d: stepped %v, repeat %q: want the stepped run kept and the limit repeated", tc.limit, cc.Stepped, cc.Repeat)
		}
		// Without RepeatLimit (the default) the same probes but the last,
		// and the result says the limit rests on one probe.
		once := b
		once.RepeatLimit = false
		cc = SearchFrom(context.Background(), cfg, once, th, st, testfix.FakeServer(tc.limit, 0), testfix.Always, nil)
		ns = ns[:0]
		for _, p := range cc.Probes {
			ns = append(ns, fmt.Sprint(p.Connections))
		}
		if want := tc.probes[:strings.LastIndex(tc.probes, " ")]; strings.Join(ns, " ") != want || cc.Repeat != fmt.Sprintf("the limit rests on one probe at %d (repeat_limit or --repeat-limit probes it again)", cc.MaxPass) {
			t.Errorf("limit %d, knee %d, no repeat: probes %s, want %s; note %q", tc.limit, tc.knee, strings.Join(ns, " "), want, cc.Repeat)
		}
	}
}

// TestArrivalNote: the limit's arrival rate is said; held again twice as
// fast, or not, with the reason and what to do.
func TestArrivalNote(t *testing.T) {
	c := ConfigResult{MaxPass: 2000, ArrivalPerS: 500}
	if n := c.ArrivalNote(); !strings.Contains(n, "arriving at 500/s (not checked faster)") {
		t.Errorf("unchecked: %s", n)
	}
	c.Arrival = &ArrivalCheck{PerS: 1000, RampS: 2, Probe: Probe{Connections: 2000, Outcome: ProbePass}}
	if n := c.ArrivalNote(); !strings.Contains(n, "held with connections arriving at 500/s and at 1000/s") {
		t.Errorf("held: %s", n)
	}
	c.Arrival.Probe = Probe{Connections: 2000, Outcome: ProbeFail, Reason: "event shut down kept-alive connections"}
	if n := c.ArrivalNote(); !strings.Contains(n, "depends on how fast connections arrive: 2000 held arriving at 500/s, and fail arriving at 1000/s (event shut down") {
		t.Errorf("failed faster: %s", n)
	}
	c.Arrival, c.ArrivalSkipped = nil, "capacity.arrival: never"
	if n := c.ArrivalNote(); !strings.Contains(n, "arriving at 500/s; not probed faster: capacity.arrival: never") {
		t.Errorf("skipped: %s", n)
	}
	if n := c.TargetNote(); n != "" {
		t.Errorf("no probe at the target: %q", n)
	}
	c.AtTarget = &Probe{Connections: 1000, Outcome: ProbeFail, Reason: "event shut down kept-alive connections"}
	if n := c.TargetNote(); n != "fail at the target (1000) on a fresh server, though it held 2000: its limit is not one knee (event shut down kept-alive connections)" {
		t.Errorf("failed at the target: %s", n)
	}
}

// The stepped run's steps, and the search's doubling: from start, each
// the factor times the last, the last one max.
func TestSteps(t *testing.T) {
	for _, tc := range []struct {
		from, max, factor int
		want              []int
	}{
		{250, 8000, 2, []int{250, 500, 1000, 2000, 4000, 8000}},
		{250, 8000, 4, []int{250, 1000, 4000, 8000}},
		{250, 900, 4, []int{250, 900}},
		{250, 250, 4, []int{250}},
		{0, 8000, 4, nil},
	} {
		if got := Steps(tc.from, tc.max, tc.factor); !slices.Equal(got, tc.want) {
			t.Errorf("Steps(%d, %d, %d) = %v, want %v", tc.from, tc.max, tc.factor, got, tc.want)
		}
	}
}
