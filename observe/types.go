package observe

// Point is one mod_status reading. Fields the MPM does not report
// are -1.
type Point struct {
	T                   float64        `json:"t"`
	BusyWorkers         int            `json:"busy_workers"`
	IdleWorkers         int            `json:"idle_workers"`
	Processes           int            `json:"processes"`
	ConnsTotal          int            `json:"conns_total"`
	ConnsAsyncKeepAlive int            `json:"conns_async_keepalive"`
	ConnsAsyncWriting   int            `json:"conns_async_writing"`
	ConnsAsyncClosing   int            `json:"conns_async_closing"`
	TotalAccesses       int64          `json:"total_accesses"`
	Scoreboard          map[string]int `json:"scoreboard,omitempty"`      // state character -> slots
	MemoryMB            float64        `json:"memory_mb"`                 // the container's, from its cgroup; -1 unknown
	CPUSeconds          float64        `json:"cpu_seconds"`               // the container's CPU since the first reading; -1 unknown
	AcceptQueue         int            `json:"accept_queue"`              // connections waiting to be accepted; -1 unknown
	ProcessesEnded      int            `json:"processes_ended,omitempty"` // httpd processes ended since the sampler started (ServerStats.ProcessesEnded); -1 unknown
	// HTTPDProcesses counts the httpd processes in the container's
	// cgroup, the parent included; 0 unknown. mod_status gives Processes
	// for event alone; this one is there for every MPM.
	HTTPDProcesses int `json:"httpd_processes,omitempty"`
}

// ListenCounters are the kernel's ListenOverflows and ListenDrops.
type ListenCounters struct {
	Overflows int64 `json:"listen_overflows"`
	Drops     int64 `json:"listen_drops"`
}

// Sub returns the change from before to c.
func (c ListenCounters) Sub(before ListenCounters) ListenCounters {
	return ListenCounters{Overflows: c.Overflows - before.Overflows, Drops: c.Drops - before.Drops}
}

// LogCode is one Apache message code (AHnnnnn) seen in httpd's error log.
type LogCode struct {
	Code  string `json:"code"`
	Level string `json:"level"` // the level of its first occurrence: error, warn, notice...
	Count int    `json:"count"`
	First string `json:"first"` // the first line that carried it
}

// Notable reports whether a code was logged at warn or worse.
func (c LogCode) Notable() bool {
	switch c.Level {
	case "emerg", "alert", "crit", "error", "warn":
		return true
	}
	return false
}
