package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadcheck/loadcheck/internal/dockertest"
)

// TestHonestyPreforkStock is the case the harness exists for: 150 workers,
// 4000 keep-alive clients. Everything beyond the workers waits in the
// listen queue, and the result must say so.
func TestHonestyPreforkStock(t *testing.T) {
	dockertest.Require(t)
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := run(t, "run", "--configs", "prefork-stock", "-c", "4000", "-d", "6s", "--json", out)
	t.Logf("stdout:\n%s", stdout)
	if code != exitFail {
		t.Fatalf("got exit %d, want 1 (fail); stderr:\n%s", code, stderr)
	}
	r := readResult(t, out).Runs[0]
	c, q := r.Connections, r.Requests
	if r.Verdict != "fail" {
		t.Errorf("got verdict %q, want fail", r.Verdict)
	}
	if c.Served > 150 {
		t.Errorf("got %d served, but prefork-stock has only 150 workers", c.Served)
	}
	if c.Starved < 3500 {
		t.Errorf("got %d starved (%d partly served), want at least 3500 that never got a byte", c.Starved, c.PartlyServed)
	}
	if c.Served+c.PartlyServed+c.Starved != c.Target || q.Sent != q.OK+q.Dropped+q.InFlight {
		t.Errorf("accounting does not add up: %+v %+v", c, q)
	}
	if r.Server == nil || r.Server.PeakBusyWorkers != 150 {
		t.Fatalf("got server %+v, want peak busy workers 150", r.Server)
	}
	// What the server saw: busy workers stuck at 150 through the measured
	// window, the listen queue overflowing, and httpd saying why.
	// The window begins where the auto warm-up ended it (after the 4 s
	// ramp) and lasts 6 s; the sampler's last reading comes after the load.
	measureFrom := r.MeasureStartS
	measureTo := measureFrom + 6
	if r.WarmUpEnded == "fixed" || measureFrom < 4 {
		t.Errorf("window from %.1f s, warm-up %q: want an auto warm-up after the 4 s ramp", measureFrom, r.WarmUpEnded)
	}
	inWindow := 0
	for _, pt := range r.Server.Series {
		if pt.T >= measureFrom && pt.T < measureTo {
			inWindow++
			if pt.BusyWorkers != 150 {
				t.Errorf("busy workers %d at %.0fs, want stuck at 150", pt.BusyWorkers, pt.T)
			}
		}
	}
	if inWindow < 4 {
		t.Errorf("only %d mod_status readings in the measured window", inWindow)
	}
	if q := r.Server.PeakAcceptQueue; q < 100 {
		t.Errorf("accept queue peaked at %d, want it full (ListenBacklog 511)", q)
	}
	if k := r.Server.Kernel; k == nil || k.Overflows <= 0 {
		t.Errorf("kernel counters %+v, want listen overflows above 0", k)
	}
	var quoted bool
	for _, c := range r.Server.ErrorLog {
		quoted = quoted || (c.Code == "AH00161" && strings.Contains(c.First, "MaxRequestWorkers"))
	}
	if !quoted || !strings.Contains(stdout, "AH00161") {
		t.Errorf("error log %+v, table:\n%s\nwant AH00161 counted and quoted", r.Server.ErrorLog, stdout)
	}
	if r.TimeToCapacityS != -1 || !strings.Contains(stdout, "never held every connection") {
		t.Errorf("time to capacity %g, want never (-1)", r.TimeToCapacityS)
	}
	if s := r.Server; s.MemoryStartMB <= 0 || s.MemoryEndMB <= s.MemoryStartMB || s.CPUSeconds <= 0 || s.OOMKills != 0 {
		t.Errorf("container memory %g -> %g MB, CPU %gs, OOM kills %d: want growth, CPU and no OOM",
			s.MemoryStartMB, s.MemoryEndMB, s.CPUSeconds, s.OOMKills)
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

// TestTunedHold4000: the article's values hold 4000 keep-alive
// connections. Tuned worker must pass outright. Tuned event must answer
// every one of the 4000 (stock event starves about 3500); whether it also
// keeps every connection open through the window varies from run to run on
// this 2-core shared machine: in some runs it closes hundreds of kept-alive
// connections all along (closed_by_server), in others none after 20-35 s.
// The cause is event's per-process cap: a process that gets a connection
// while full shuts down all its kept-alive connections (see the README's
// capacity section). In the worst run seen (18402 shut down, CPU doubled)
// 4 of the 4000 got no answer before the window closed, so the test allows
// 1 %: stock event starves about 3500. The test checks what holds in every
// run, that lost connections come with the shutdowns that explain them,
// and logs the rest.
func TestTunedHold4000(t *testing.T) {
	dockertest.Require(t)
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := run(t, "run", "--configs", "worker-tuned,event-tuned", "-c", "4000", "--warmup", "60s", "-d", "5s", "--json", out)
	t.Logf("exit %d, stdout:\n%s", code, stdout)
	if code != exitPass && code != exitFail {
		t.Fatalf("got exit %d, want 0 or 1\nstderr:\n%s", code, stderr)
	}
	for _, r := range readResult(t, out).Runs {
		if r.Server == nil || float64(len(r.Server.Series)) < r.MeasureStartS+4 {
			t.Errorf("%s: want a mod_status reading every second", r.Config)
		}
		t.Logf("%s: warm-up %gs: %s", r.Config, r.WarmUpS, r.WarmUpEnded)
		if r.WarmUpS <= 0 || r.WarmUpEnded == "" {
			t.Errorf("%s: warm-up %gs, ended: %q; want both recorded", r.Config, r.WarmUpS, r.WarmUpEnded)
		}
		switch r.Config {
		case "worker-tuned":
			if r.Connections.Served != 4000 || r.Requests.OK != 20000 || r.Verdict != "pass" {
				t.Errorf("%s: got served %d, ok %d, verdict %s %v; want 4000, 20000, pass",
					r.Config, r.Connections.Served, r.Requests.OK, r.Verdict, r.Reasons)
			}
			// Held before the measured window began: the auto warm-up
			// waits for every connection answered.
			if r.TimeToCapacityS < 4 || r.TimeToCapacityS > r.MeasureStartS {
				t.Errorf("%s: time to capacity %gs, want within the ramp and warm-up (%gs)", r.Config, r.TimeToCapacityS, r.MeasureStartS)
			}
			if r.WarmUpEnded != "fixed" || r.WarmUpS != 60 {
				t.Errorf("%s: warm-up %gs ended: %q, want the fixed 60 s", r.Config, r.WarmUpS, r.WarmUpEnded)
			}
		case "event-tuned":
			c := r.Connections
			if c.Established != 4000 || c.Starved > 40 {
				t.Errorf("%s: established %d, starved %d; want 4000 and at most 40", r.Config, c.Established, c.Starved)
			}
			if r.Requests.Errors["closed_by_server"] > 0 && r.Server != nil && r.Server.BusyClosed == 0 {
				t.Errorf("%s: %d requests met a connection httpd had closed, but no event shutdown was counted", r.Config, r.Requests.Errors["closed_by_server"])
			}
			// Either it holds 4000, or it fails saying what httpd did.
			if r.Verdict != "pass" && !strings.Contains(strings.Join(r.Reasons, " "), "partly served") {
				t.Errorf("%s: failed without saying which connections: %v", r.Config, r.Reasons)
			}
			if r.Verdict != "pass" && (r.Diagnosis == "" || !strings.Contains(stdout, "why: ")) {
				t.Errorf("%s: failed with no diagnosis of what httpd did (diagnosis %q)", r.Config, r.Diagnosis)
			}
			if r.Verdict != "pass" && r.Server != nil && r.Server.BusyClosed > 0 && !strings.Contains(r.Diagnosis, "event shut down") {
				t.Errorf("%s: httpd shut down %d kept-alive connections, but the diagnosis does not say so: %q", r.Config, r.Server.BusyClosed, r.Diagnosis)
			}
		}
	}
}
