package results

import (
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/observe"
)

// TestServerFrom: the observers' readings become the result's server
// figures: peaks as read, Total Accesses over the run, memory in MB (one
// decimal) and per connection held, CPU seconds, and figures a server did
// not give stay unset.
func TestServerFrom(t *testing.T) {
	seen := observe.Report{Stats: observe.ServerStats{Samples: 12, FailedSamples: 1, PeakBusy: 40, PeakProcesses: 73, PeakConnsTotal: 4001,
		AccessesAtStart: 100, AccessesAtEnd: 24100, MemoryAtStart: 20 << 20, MemoryAtEnd: 220 << 20, MemoryPeak: 230 << 20,
		CPUNanos: 3_456_000_000, OOMKills: 0, PeakAcceptQueue: 7},
		Kernel: &observe.ListenCounters{Overflows: 3}, KernelScope: "host"}
	conns := Connections{Target: 4000, Served: 3000, PartlyServed: 1000}
	s := ServerFrom(seen, conns, 1<<30, 1.5, 20000)
	switch {
	case s.StatusSamples != 12 || s.StatusFailed != 1 || s.PeakBusyWorkers != 40 || s.PeakProcesses != 73 || s.PeakConnsTotal != 4001 || s.PeakAcceptQueue != 7:
		t.Errorf("status figures %+v", s)
	case s.AccessesDuringRun != 24000:
		t.Errorf("accesses during the run %d, want 24000", s.AccessesDuringRun)
	case s.MemoryStartMB != 20 || s.MemoryEndMB != 220 || s.MemoryPeakMB != 230 || s.MemoryLimitMB != 1024 || s.CPULimit != 1.5 || s.Nofile != 20000:
		t.Errorf("memory %g -> %g (peak %g, limit %g), cpus %g, nofile %d", s.MemoryStartMB, s.MemoryEndMB, s.MemoryPeakMB, s.MemoryLimitMB, s.CPULimit, s.Nofile)
	case s.MemoryPerConnKB != 51.2: // 200 MB over the 4000 connections held
		t.Errorf("memory per connection %g KB, want 51.2", s.MemoryPerConnKB)
	case s.CPUSeconds != 3.46:
		t.Errorf("CPU %g s, want 3.46", s.CPUSeconds)
	case s.Kernel == nil || s.Kernel.Overflows != 3 || s.KernelScope != "host":
		t.Errorf("kernel %+v %q", s.Kernel, s.KernelScope)
	}
	// A server without a cgroup reading or Total Accesses (-1).
	seen.Stats.MemoryAtStart, seen.Stats.AccessesAtStart = -1, -1
	if s := ServerFrom(seen, conns, 0, 0, 0); s.MemoryEndMB != 0 || s.MemoryPerConnKB != 0 || s.CPUSeconds != 0 || s.AccessesDuringRun != 0 {
		t.Errorf("unknown figures filled in: %+v", s)
	}
}

// TestReadErrorLog: codes and event's lines, the end of the run left out.
func TestReadErrorLog(t *testing.T) {
	log := "[Thu Nov 26 07:27:50.1 2026] [mpm_event:trace5] [pid 1:tid 1] event.c(3012): Shutting down one child: active 73/250, total 73/73/250, idle threads 1024, max workers 8000\n" +
		"[Thu Nov 26 07:27:50.2 2026] [mpm_event:trace1] [pid 40:tid 126] event.c(1709): All workers are busy or dying, will shutdown 61 keep-alive connections\n" +
		"[Thu Nov 26 07:27:51.1 2026] [mpm_event:error] [pid 1:tid 1] AH00485: scoreboard is full, not at MaxRequestWorkers\n" +
		"[Thu Nov 26 07:28:30.0 2026] [mpm_event:trace1] [pid 40:tid 126] event.c(1709): All workers are busy or dying, will shutdown 900 keep-alive connections\n"
	var s Server
	s.ReadErrorLog(log, time.Date(2026, 11, 26, 7, 28, 0, 0, time.UTC))
	if s.SpareStops != 1 || s.SpareIdleThreads != 1024 || s.BusyShutdowns != 1 || s.BusyClosed != 61 || len(s.ErrorLog) != 1 || s.ErrorLog[0].Code != "AH00485" {
		t.Errorf("got stops %d (idle %d), shutdowns %d closing %d, codes %+v", s.SpareStops, s.SpareIdleThreads, s.BusyShutdowns, s.BusyClosed, s.ErrorLog)
	}
}
