package observe

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Status is one reading of mod_status's machine-readable page
// (/server-status?auto). Fields the MPM does not report stay -1.
type Status struct {
	ServerVersion       string
	ServerMPM           string
	TotalAccesses       int64
	BusyWorkers         int
	IdleWorkers         int
	Processes           int
	ConnsTotal          int
	ConnsAsyncKeepAlive int
	ConnsAsyncWriting   int
	ConnsAsyncClosing   int
	// Scoreboard counts each state character ('_' waiting, 'W' sending,
	// 'K' keep-alive, '.' open slot, ...).
	Scoreboard map[string]int
}

// isTitle reports whether line is one word of letters: a section title
// of the ?auto page.
func isTitle(line string) bool {
	for _, r := range line {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// ParseStatus parses mod_status's ?auto output. Unknown keys are ignored,
// and so are section titles (one word, like mod_ssl's
// TLSSessionCacheStatus); any other line that is not "Key: value" is an
// error naming the line.
func ParseStatus(r io.Reader) (Status, error) {
	s := Status{TotalAccesses: -1, BusyWorkers: -1, IdleWorkers: -1, Processes: -1,
		ConnsTotal: -1, ConnsAsyncKeepAlive: -1, ConnsAsyncWriting: -1, ConnsAsyncClosing: -1}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	seen := false
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			if n == 1 || isTitle(line) {
				// The first line is the server name, with no colon;
				// mod_ssl adds a section title, TLSSessionCacheStatus,
				// before its session cache's lines.
				continue
			}
			return s, fmt.Errorf("mod_status line %d: %q is not \"Key: value\"", n, line)
		}
		val = strings.TrimSpace(val)
		var err error
		atoi := func(dst *int) { *dst, err = strconv.Atoi(val) }
		switch key {
		case "ServerVersion":
			s.ServerVersion = val
		case "ServerMPM":
			s.ServerMPM = val
		case "Total Accesses":
			s.TotalAccesses, err = strconv.ParseInt(val, 10, 64)
		case "BusyWorkers":
			atoi(&s.BusyWorkers)
			seen = true
		case "IdleWorkers":
			atoi(&s.IdleWorkers)
		case "Processes":
			atoi(&s.Processes)
		case "ConnsTotal":
			atoi(&s.ConnsTotal)
		case "ConnsAsyncKeepAlive":
			atoi(&s.ConnsAsyncKeepAlive)
		case "ConnsAsyncWriting":
			atoi(&s.ConnsAsyncWriting)
		case "ConnsAsyncClosing":
			atoi(&s.ConnsAsyncClosing)
		case "Scoreboard":
			s.Scoreboard = map[string]int{}
			for _, c := range val {
				s.Scoreboard[string(c)]++
			}
		}
		if err != nil {
			return s, fmt.Errorf("mod_status line %d: %s: %w", n, key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("read mod_status: %w", err)
	}
	if !seen {
		return s, fmt.Errorf("mod_status output has no BusyWorkers line: is ExtendedStatus on and the URL ?auto?")
	}
	return s, nil
}

// StatusClient reads mod_status pages: over https:// it does not verify
// the certificate, because loadcheck reads servers it started itself with
// a self-signed one.
var StatusClient = &http.Client{Transport: &http.Transport{TLSClientConfig: insecureTLS}}

var insecureTLS = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // see StatusClient

// FetchStatus reads and parses url with client.
func FetchStatus(ctx context.Context, client *http.Client, url string) (Status, error) {
	return fetch(ctx, client, url, ParseStatus)
}

// fetch GETs url with client and parses a 200 answer's body.
func fetch[T any](ctx context.Context, client *http.Client, url string, parse func(io.Reader) (T, error)) (T, error) {
	var zero T
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return zero, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return zero, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return zero, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return parse(resp.Body)
}

// ServerStats summarizes what mod_status showed during a run.
type ServerStats struct {
	Samples         int    `json:"samples"`
	FailedSamples   int    `json:"failed_samples"` // the server did not answer the status request in time
	PeakBusy        int    `json:"peak_busy_workers"`
	PeakProcesses   int    `json:"peak_processes"`
	PeakConnsTotal  int    `json:"peak_conns_total"` // event MPM only, else -1
	AccessesAtStart int64  `json:"accesses_at_start"`
	AccessesAtEnd   int64  `json:"accesses_at_end"`
	LastError       string `json:"last_error,omitempty"`
	// Points is every reading, T counted from the sampler's start.
	Points []Point `json:"points,omitempty"`
	// From the container's cgroup: memory at the first and last reading,
	// the highest, CPU used between them, and OOM kills. -1 when unknown.
	MemoryAtStart, MemoryAtEnd, MemoryPeak int64
	CPUNanos                               int64
	OOMKills                               int64
	CgroupError                            string
	// PeakAcceptQueue is the most connections seen waiting in the listening
	// socket's accept queue; -1 when it could not be read.
	PeakAcceptQueue int
	// ProcessesEnded counts httpd processes that ended while the load ran
	// (children recycled at MaxConnectionsPerChild, stopped as idle, or
	// an old generation's after a reload), from the cgroup's process list
	// at each reading: a process born and ended between two readings is
	// missed, so it is a lower bound. -1 when unknown (no cgroup).
	ProcessesEnded int `json:"processes_ended"`
	// ThreadsAtStart and PeakThreads are the most threads one httpd
	// process ran at the first reading and at any reading under the load
	// (Probe.Threads; -1 when not read). mod_http2 runs its workers as
	// threads of each child: H2MinWorkers from the start, more under load
	// up to H2MaxWorkers.
	ThreadsAtStart int `json:"threads_at_start"`
	PeakThreads    int `json:"peak_threads"`
}

// emptyStats is a summary with no reading yet: every figure unknown.
func emptyStats() ServerStats {
	return ServerStats{PeakBusy: -1, PeakProcesses: -1, PeakConnsTotal: -1, AccessesAtStart: -1, AccessesAtEnd: -1,
		MemoryAtStart: -1, MemoryAtEnd: -1, MemoryPeak: -1, CPUNanos: -1, PeakAcceptQueue: -1, ProcessesEnded: -1,
		ThreadsAtStart: -1, PeakThreads: -1}
}

// Probe says where the sampler finds the container's kernel-side figures.
type Probe struct {
	Cgroup *Cgroup // nil: no memory, CPU or OOM figures
	NetTCP string  // a /proc/PID/net/tcp file in httpd's network namespace; "": no accept queue
	Port   int     // the port httpd listens on there
	// Threads: count each httpd process's threads at every reading (from
	// the cgroup's process list, so Cgroup must be set).
	Threads bool
}

// Sampler reads mod_status every interval while a run goes on.
type Sampler struct {
	mu       sync.Mutex // guards stats while the sampler runs
	done     chan struct{}
	start    time.Time
	cg       *Cgroup
	probe    Probe
	client   *http.Client
	url      string
	cpuStart int64
	stats    ServerStats
	procs    map[int]bool // httpd's processes at the last reading
	// lastAccesses is httpd's request count at the last reading, and
	// accessBase what earlier httpds counted: a count that falls is a
	// new httpd's (a stop and a start), counting from 0.
	lastAccesses, accessBase int64
	lastCPU, cpuBase         int64 // the same for the cgroup's CPU count
}

// StartSampler takes the first reading before it returns, so that its
// keep-alive connection is open before any load starts; it then samples in
// the background until ctx ends. Holding that one connection lets it get
// answers when every worker is busy, at the price of one worker (prefork)
// or thread, which the report mentions.
//
// probe's sources, when set, are read at every tick too: the container's
// cgroup for memory, CPU and OOM kills, and its listening socket's accept
// queue.
func StartSampler(ctx context.Context, url string, interval time.Duration, probe Probe) *Sampler {
	client := &http.Client{
		Timeout: 3 * interval, // a timeout closes the connection and loses the held worker
		Transport: &http.Transport{
			MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute,
			DisableCompression: true, TLSClientConfig: insecureTLS,
		},
	}
	s := &Sampler{start: time.Now(), cg: probe.Cgroup, probe: probe, stats: emptyStats()}
	s.client, s.url = client, url
	s.done = every(ctx, interval, func() { s.sample(ctx, client, url, false) })
	return s
}

// every calls f at once, then every interval until ctx ends; the channel
// closes when the last call has returned.
func every(ctx context.Context, interval time.Duration, f func()) chan struct{} {
	f()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				f()
			}
		}
	}()
	return done
}

// Wait returns the summary once ctx has ended. It takes one last reading
// first, so that httpd's request count covers the whole run. That reading
// comes after the load, while the client closes its connections, so it
// does not count towards the peaks: workers closing connections ("C" on
// the scoreboard) are not the load's.
func (s *Sampler) Wait() ServerStats {
	<-s.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.sample(ctx, s.client, s.url, true)
	s.client.CloseIdleConnections()
	return s.stats
}

// Latest is the last reading taken, while the sampler runs; false before
// the first.
func (s *Sampler) Latest() (Point, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.stats.Points); n > 0 {
		return s.stats.Points[n-1], true
	}
	return Point{}, false
}

func (s *Sampler) sample(ctx context.Context, client *http.Client, url string, final bool) {
	s.mu.Lock()
	st := &s.stats
	memMB, cpuS := s.readCgroup(final)
	procs := s.readProcs(final)
	queue := -1
	if s.probe.NetTCP != "" {
		if n, err := ReadAcceptQueue(s.probe.NetTCP, s.probe.Port); err == nil {
			queue = n
			if !final {
				st.PeakAcceptQueue = max(st.PeakAcceptQueue, n)
			}
		}
	}
	s.mu.Unlock()
	cur, err := FetchStatus(ctx, client, url) // not under the lock: Latest must not wait for it
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			st.FailedSamples++
			st.LastError = err.Error()
		}
		return
	}
	st.Samples++
	if !final {
		st.PeakBusy = max(st.PeakBusy, cur.BusyWorkers)
		st.PeakProcesses = max(st.PeakProcesses, cur.Processes)
		st.PeakConnsTotal = max(st.PeakConnsTotal, cur.ConnsTotal)
	}
	if cur.TotalAccesses < s.lastAccesses {
		s.accessBase += s.lastAccesses
	}
	s.lastAccesses = cur.TotalAccesses
	cur.TotalAccesses += s.accessBase
	if st.AccessesAtStart < 0 {
		st.AccessesAtStart = cur.TotalAccesses
	}
	st.AccessesAtEnd = cur.TotalAccesses
	st.Points = append(st.Points, Point{
		T:           math.Round(time.Since(s.start).Seconds()*1000) / 1000,
		BusyWorkers: cur.BusyWorkers, IdleWorkers: cur.IdleWorkers, Processes: cur.Processes,
		ConnsTotal: cur.ConnsTotal, ConnsAsyncKeepAlive: cur.ConnsAsyncKeepAlive,
		ConnsAsyncWriting: cur.ConnsAsyncWriting, ConnsAsyncClosing: cur.ConnsAsyncClosing,
		TotalAccesses: cur.TotalAccesses, Scoreboard: cur.Scoreboard,
		MemoryMB: memMB, CPUSeconds: cpuS, AcceptQueue: queue, ProcessesEnded: st.ProcessesEnded,
		HTTPDProcesses: procs,
	})
}

// readProcs returns the httpd processes in the cgroup now, 0 when they
// could not be read (unknown: a count from an earlier reading would look
// unchanged to the settler), and counts those gone since the last
// reading; the final one, taken as the load ends, counts none.
func (s *Sampler) readProcs(final bool) int {
	if s.cg == nil {
		return 0
	}
	now, err := s.cg.HTTPDProcs()
	if err != nil || final {
		return len(now)
	}
	if s.procs != nil {
		st := &s.stats
		st.ProcessesEnded = max(st.ProcessesEnded, 0)
		for pid := range s.procs {
			if !now[pid] {
				st.ProcessesEnded++
			}
		}
	} else if s.stats.ProcessesEnded < 0 {
		s.stats.ProcessesEnded = 0
	}
	s.procs = now
	if s.probe.Threads {
		most := -1
		for pid := range now {
			if n, err := s.cg.Threads(pid); err == nil {
				most = max(most, n)
			}
		}
		if s.stats.ThreadsAtStart < 0 {
			s.stats.ThreadsAtStart = most
		}
		s.stats.PeakThreads = max(s.stats.PeakThreads, most)
	}
	return len(now)
}

// readCgroup updates the cgroup figures and returns memory in MB and CPU
// seconds since the first reading, or -1s. The final reading, taken while
// the client closes its connections, counts CPU and OOM kills but sets
// neither the memory at the end nor its peak: those belong to the load.
func (s *Sampler) readCgroup(final bool) (memMB, cpuS float64) {
	st := &s.stats
	if s.cg == nil {
		return -1, -1
	}
	c, err := s.cg.Read()
	if err != nil {
		st.CgroupError = err.Error() // a container that exited has no cgroup left
		return -1, -1
	}
	if c.CPUNanos < s.lastCPU { // a new cgroup's count (the container started again): add the old one's
		s.cpuBase += s.lastCPU
	}
	s.lastCPU = c.CPUNanos
	c.CPUNanos += s.cpuBase
	if st.MemoryAtStart < 0 {
		st.MemoryAtStart, s.cpuStart = c.MemoryBytes, c.CPUNanos
	}
	if !final {
		st.MemoryAtEnd = c.MemoryBytes
		st.MemoryPeak = max(st.MemoryPeak, c.MemoryBytes, c.MemoryPeakBytes)
	}
	st.CPUNanos = c.CPUNanos - s.cpuStart
	st.OOMKills = max(st.OOMKills, c.OOMKills)
	return math.Round(float64(c.MemoryBytes)/(1<<20)*10) / 10, math.Round(float64(st.CPUNanos)/1e7) / 100
}

// WaitStatus polls url until it answers 200 or the timeout passes.
func WaitStatus(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if _, err := FetchStatus(ctx, StatusClient, url); err == nil {
			return nil
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer within %s: %w", url, timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ParseProtocols counts the worker slots of mod_status's HTML page (not
// ?auto) by the protocol of the request each served last, its Protocol
// column ("http/1.1", "h2", "h2c"); slots that show none are left out.
// httpd's own view of what the load spoke: an h2 load whose requests all
// show http/1.1 here never reached mod_http2.
func ParseProtocols(r io.Reader) (map[string]int, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, err
	}
	page := string(b)
	// The workers' table: from its header row, the one with a Protocol
	// cell (event's process table before it has headers of its own), to
	// its end.
	at := strings.Index(page, ">Protocol</th>")
	if at < 0 {
		return nil, fmt.Errorf("mod_status's page has no Protocol column: is ExtendedStatus on?")
	}
	start := strings.LastIndex(page[:at], "<tr>")
	table := page[max(start, 0):]
	if end := strings.Index(table, "</table>"); end >= 0 {
		table = table[:end]
	}
	rows := strings.Split(table, "<tr>")
	col := -1
	for i, h := range thCell.FindAllStringSubmatch(rows[min(1, len(rows)-1)], -1) {
		if strings.TrimSpace(h[1]) == "Protocol" {
			col = i
		}
	}
	out := map[string]int{}
	for _, row := range rows[min(2, len(rows)):] {
		cells := tdCell.FindAllStringSubmatch(row, -1)
		if col < 0 || len(cells) <= col {
			continue
		}
		if p := strings.TrimSpace(cells[col][1]); p != "" {
			out[p]++
		}
	}
	return out, nil
}

var (
	thCell = regexp.MustCompile(`(?s)<th[^>]*>(.*?)</th>`)
	tdCell = regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`)
)

// FetchProtocols reads mod_status's HTML page at url (its ?auto URL is
// taken too) with client, and counts its slots by protocol (see
// ParseProtocols).
func FetchProtocols(ctx context.Context, client *http.Client, url string) (map[string]int, error) {
	return fetch(ctx, client, strings.TrimSuffix(url, "?auto"), ParseProtocols)
}
