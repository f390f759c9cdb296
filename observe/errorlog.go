package observe

import (
	"bufio"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// logLine matches "[time] [module:level] [pid N...] AHnnnnn: message".
var logLine = regexp.MustCompile(`\[([a-z_0-9]*):([a-z0-9]+)\][^A]*?(AH\d{5}):`)

// ScanErrorLog counts the message codes in httpd's error log text, most
// frequent first. Lines without a code are ignored.
func ScanErrorLog(text string) []LogCode {
	byCode := map[string]*LogCode{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		m := logLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		c := byCode[m[3]]
		if c == nil {
			first := line
			if i := strings.Index(first, "["); i > 0 {
				first = first[i:] // drop the log stream's frame header bytes
			}
			if len(first) > 300 {
				first = first[:300] + "…"
			}
			c = &LogCode{Code: m[3], Level: m[2], First: first}
			byCode[m[3]] = c
		}
		c.Count++
	}
	out := make([]LogCode, 0, len(byCode))
	for _, c := range byCode {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Code < out[j].Code
	})
	return out
}

// busyShutdown matches mpm_event's trace1 line for the moment it closes a
// process's kept-alive connections because every worker of that process is
// busy (or the process is stopping). httpd 2.4.68 says "shutdown", older
// 2.4 releases "close".
var busyShutdown = regexp.MustCompile(`\[mpm_event:trace1\].*All workers are busy(?: or dying)?, will (?:shutdown|close) (\d+) keep-alive connections`)

// fullRefusal matches mpm_event's debug line for a process that got a new
// connection while at its connection limit (ThreadsPerChild +
// AsyncRequestWorkerFactor x idle workers): it stops accepting; when it
// has no idle worker left either, it shuts down its kept-alive
// connections.
var fullRefusal = regexp.MustCompile(`\[mpm_event:debug\].*Too many open connections \(\d+\), not accepting new conns in this process`)

// spareStop matches mpm_event's trace5 line for the parent stopping one
// child gracefully because the idle threads of the processes still
// accepting connections are above MaxSpareThreads. A stopping child closes
// every kept-alive connection it holds (the "dying" of the line above).
var spareStop = regexp.MustCompile(`\[mpm_event:trace5\].*Shutting down one child: active \d+/\d+, total \d+/\d+/\d+, idle threads (\d+)`)

// EventLog is what mpm_event's trace lines in httpd's error log said of a
// load. The lines carry no AH code and need "LogLevel mpm_event:trace5",
// which the rendered configs set.
type EventLog struct {
	// Shutdowns counts the moments a process closed its kept-alive
	// connections (every worker busy, or the process stopping), Closed
	// the connections it closed then.
	Shutdowns, Closed int
	// FullRefusals counts the times a process got a new connection while
	// at its connection limit and stopped accepting.
	FullRefusals int
	// SpareStops counts the processes the parent stopped for too many
	// idle threads (MaxSpareThreads); SpareIdle is the most idle threads
	// it counted at one of them.
	SpareStops, SpareIdle int
}

// ScanEventLog reads those lines of httpd's error log text up to until
// (zero: all). The cut-off leaves out the end of a run, when the client
// closes every connection and the workers busy closing them make event
// shut down the rest. A line whose time does not parse counts.
func ScanEventLog(text string, until time.Time) EventLog {
	var out EventLog
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "[mpm_event:") {
			continue
		}
		if t, ok := logTime(line); ok && !until.IsZero() && t.After(until) {
			continue
		}
		if m := busyShutdown.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1]) // \d+: only an overflow fails, and counts 0
			out.Shutdowns++
			out.Closed += n
		} else if fullRefusal.MatchString(line) {
			out.FullRefusals++
		} else if m := spareStop.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			out.SpareStops++
			out.SpareIdle = max(out.SpareIdle, n)
		}
	}
	return out
}

// logTime reads the "[Thu Nov 26 07:27:41.675130 2026]" near the start of
// an error log line (after the log stream's frame header); httpd writes it
// in the container's local time, UTC.
func logTime(line string) (time.Time, bool) {
	m := logStamp.FindStringSubmatch(line)
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse("Mon Jan 02 15:04:05 2006", m[1]+" "+m[2])
	return t, err == nil
}

var logStamp = regexp.MustCompile(`\[(\w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2})(?:\.\d+)? (\d{4})\]`)
