package observe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"time"
)

// FPMStatus is one reading of php-fpm's status page (pm.status_path,
// asked for with ?json): its pool's processes, its listen queue and its
// counters since the pool started.
type FPMStatus struct {
	AcceptedConn       int64 `json:"accepted conn"`
	ListenQueue        int   `json:"listen queue"`
	MaxListenQueue     int   `json:"max listen queue"`
	ListenQueueLen     int   `json:"listen queue len"`
	IdleProcesses      int   `json:"idle processes"`
	ActiveProcesses    int   `json:"active processes"`
	TotalProcesses     int   `json:"total processes"`
	MaxActiveProcesses int   `json:"max active processes"`
	MaxChildrenReached int64 `json:"max children reached"`
	SlowRequests       int64 `json:"slow requests"`
}

// ParseFPMStatus parses php-fpm's ?json status page.
func ParseFPMStatus(r io.Reader) (FPMStatus, error) {
	var s FPMStatus
	if err := json.NewDecoder(io.LimitReader(r, 1<<20)).Decode(&s); err != nil {
		return FPMStatus{}, fmt.Errorf("php-fpm status: not its JSON page: %w", err)
	}
	if s.TotalProcesses <= 0 {
		return FPMStatus{}, fmt.Errorf("php-fpm status: no \"total processes\": not php-fpm's status page")
	}
	return s, nil
}

// FPMStats summarizes php-fpm's status pages over one load.
type FPMStats struct {
	Samples       int    `json:"samples"`
	FailedSamples int    `json:"failed_samples"`
	LastError     string `json:"last_error,omitempty"`
	// The most processes busy at once, and in the pool, and the longest
	// listen queue (requests waiting for a free process), over the
	// readings; php-fpm's own highest queue since the pool started.
	PeakActive      int `json:"peak_active_processes"`
	PeakTotal       int `json:"peak_total_processes"`
	PeakListenQueue int `json:"peak_listen_queue"`
	MaxListenQueue  int `json:"max_listen_queue"`
	ListenQueueLen  int `json:"listen_queue_len"`
	// During the load: the times the pool wanted more than
	// pm.max_children, and the requests it accepted.
	MaxChildrenReached int64      `json:"max_children_reached"`
	Accepted           int64      `json:"accepted"`
	Points             []FPMPoint `json:"points,omitempty"`

	first FPMStatus
}

// FPMPoint is one reading, T in seconds from the sampler's start.
type FPMPoint struct {
	T           float64 `json:"t"`
	Active      int     `json:"active"`
	Idle        int     `json:"idle"`
	ListenQueue int     `json:"listen_queue"`
}

// fpmSampler reads php-fpm's status every interval until stopped.
type fpmSampler struct {
	mu     sync.Mutex
	stats  FPMStats
	start  time.Time
	client *http.Client
	url    string
	done   chan struct{}
}

func startFPMSampler(ctx context.Context, url string, interval time.Duration) *fpmSampler {
	s := &fpmSampler{start: time.Now(), url: url,
		client: &http.Client{Timeout: 3 * interval, Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, TLSClientConfig: insecureTLS}}}
	s.stats.first.AcceptedConn = -1
	s.done = every(ctx, interval, func() { s.sample(ctx, false) })
	return s
}

// wait takes a last reading once the sampler's ctx has ended (for the
// counters; not for the peaks) and returns the summary.
func (s *fpmSampler) wait() FPMStats {
	<-s.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.sample(ctx, true)
	s.client.CloseIdleConnections()
	return s.stats
}

func (s *fpmSampler) sample(ctx context.Context, final bool) {
	cur, err := fetch(ctx, s.client, s.url, ParseFPMStatus)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.stats
	if err != nil {
		if ctx.Err() == nil {
			st.FailedSamples++
			st.LastError = err.Error()
		}
		return
	}
	st.Samples++
	if st.first.AcceptedConn < 0 {
		st.first = cur
	}
	st.Accepted = cur.AcceptedConn - st.first.AcceptedConn
	st.MaxChildrenReached = cur.MaxChildrenReached - st.first.MaxChildrenReached
	st.MaxListenQueue, st.ListenQueueLen = cur.MaxListenQueue, cur.ListenQueueLen
	if final {
		return
	}
	st.PeakActive = max(st.PeakActive, cur.ActiveProcesses)
	st.PeakTotal = max(st.PeakTotal, cur.TotalProcesses)
	st.PeakListenQueue = max(st.PeakListenQueue, cur.ListenQueue)
	st.Points = append(st.Points, FPMPoint{T: math.Round(time.Since(s.start).Seconds()*1000) / 1000,
		Active: cur.ActiveProcesses, Idle: cur.IdleProcesses, ListenQueue: cur.ListenQueue})
}
