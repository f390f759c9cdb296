package scenarios

import (
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"time"

	"github.com/docker/go-units"

	"github.com/loadcheck/loadcheck/backend"
	"github.com/loadcheck/loadcheck/bench"
)

// Workload is what the server serves beyond the test page.
type Workload struct {
	// Files are static files of given sizes, created in the served folder
	// before httpd starts, each at its own path; the load requests them
	// when load.paths names them.
	Files []File `yaml:"files" json:"files,omitempty"`
	// PathsFrom is an access log (Common or Combined Log Format) whose
	// requests, with their frequencies, replace load.paths (see
	// bench.ReadMix); relative to the scenario file.
	PathsFrom string `yaml:"paths_from" json:"paths_from,omitempty"`
	// DocRoot is a folder of this host served, read-only, as every
	// DocumentRoot instead of the test page: the site's own files
	// (relative to the scenario file; --docroot).
	DocRoot string `yaml:"docroot" json:"docroot,omitempty"`
	// Backend, when set, is a slow application loadcheck starts on
	// loopback for each config, which proxies Path to it.
	Backend Backend `yaml:"backend" json:"backend,omitzero"`
	// SlowClients makes a share of the connections slow readers; it goes
	// into the load (bench.Load.Slow), where results record it.
	SlowClients SlowClients `yaml:"slow_clients" json:"-"`
}

// SlowClients is workload.slow_clients as written: share: 20%,
// read_rate: 16k (bytes a second), recv_buffer: 4k.
type SlowClients struct {
	Share      Percent  `yaml:"share"`
	ReadRate   ByteSize `yaml:"read_rate"`
	RecvBuffer ByteSize `yaml:"recv_buffer"`
}

// Percent is a share written 20% (or 20) in a scenario.
type Percent float64

// Bench is the generator's form.
func (s SlowClients) Bench() bench.SlowClients {
	return bench.SlowClients{Pct: float64(s.Share), ReadRate: int64(s.ReadRate), RecvBuffer: int(s.RecvBuffer)}
}

// CheckSlowWindow reports, for a load with slow clients, a measured window
// too short for each slow client to have two requests in it when it reads
// the largest file it asks for at its rate: it would look starved, or
// half served, for its own slowness. The error names load.duration.
func (w Workload) CheckSlowWindow(l bench.Load) error {
	s := l.Slow
	if !s.Set() || s.ReadRate <= 0 {
		return nil
	}
	var largest File
	for _, f := range w.Files {
		asked := len(l.Mix) > 0 || slices.Contains(l.Paths, f.Path)
		if asked && f.Size > largest.Size {
			largest = f
		}
	}
	if b := w.Backend; b.Set() && (len(l.Mix) > 0 || slices.Contains(l.Paths, b.Path)) && b.Size > largest.Size {
		largest = File{Path: b.Path, Size: b.Size}
	}
	read := time.Duration(float64(largest.Size) / float64(s.ReadRate) * float64(time.Second))
	var gap time.Duration
	if !l.ClosedLoop {
		gap = time.Duration(float64(time.Second) / l.RatePerConn)
	}
	need := 2 * (read + gap)
	if largest.Size == 0 || l.Duration >= need {
		return nil
	}
	return &FieldError{Field: "duration", Msg: fmt.Sprintf("slow clients read %s (%s) at %s a second in %s, then wait %s for their next request: make the window at least %s so that each has two requests in it, or it looks starved for its own slowness",
		largest.Path, units.BytesSize(float64(largest.Size)), units.BytesSize(float64(s.ReadRate)), read.Round(100*time.Millisecond), gap, need.Round(time.Second))}
}

// Set reports whether the workload has a backend.
func (b Backend) Set() bool { return b != Backend{} }

// Backend is a workload's slow application: every answer waits a latency
// drawn from Latency ("50ms", "lognormal p50=50ms p99=400ms" or
// "quantiles p50=…"), then sends Size bytes.
type Backend struct {
	Path    string   `yaml:"path" json:"path"`
	Latency string   `yaml:"latency" json:"latency"`
	Size    ByteSize `yaml:"size" json:"size_bytes"`
}

// LoadMix reads the access log at path as a request mix (bench.ReadMix),
// with a line that says what it read.
func LoadMix(path string) ([]bench.MixEntry, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	// A log is a file: not a device or a pipe that never ends, nor a
	// virtual file the size of the address space (/proc/kcore).
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() || st.Size() > MaxMixLog {
		return nil, "", fmt.Errorf("%s: want an access log file of at most 4 GiB", path)
	}
	m, err := bench.ReadMix(path, f)
	if err != nil {
		return nil, "", err
	}
	note := fmt.Sprintf("request mix from %s: %d requests of %d kinds", path, m.Parsed, len(m.Entries))
	if m.Skipped > 0 {
		note += fmt.Sprintf("; %d lines skipped, not Common or Combined Log Format (the first: %s)", m.Skipped, m.First)
	}
	return m.Entries, note, nil
}

// File is one served file: Size bytes at Path.
type File struct {
	Path string   `yaml:"path" json:"path"`
	Size ByteSize `yaml:"size" json:"size_bytes"`
}

// MaxMixLog bounds the access log a request mix is read from.
const MaxMixLog = 4 << 30

// Limits of the served files: they live on a tmpfs in the container.
const (
	MaxFileSize   = 64 << 20
	MaxFilesTotal = 256 << 20
)

var filePath = regexp.MustCompile(`^(/[A-Za-z0-9._-]+)+$`)

// Validate checks each file's path and size; the error is a *FieldError
// naming files[i].path or files[i].size.
func (w Workload) Validate() error {
	var total int64
	seen := map[string]bool{}
	for i, f := range w.Files {
		field := fmt.Sprintf("files[%d]", i)
		switch {
		case !filePath.MatchString(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/index.html":
			return &FieldError{Field: field + ".path", Msg: fmt.Sprintf("want an absolute path of letters, digits, '.', '_' and '-', such as /page-100k.html (not /index.html, the test page), got %q", f.Path)}
		case seen[f.Path]:
			return &FieldError{Field: field + ".path", Msg: fmt.Sprintf("%s is listed twice", f.Path)}
		case f.Size < 0 || f.Size > MaxFileSize:
			return &FieldError{Field: field + ".size", Msg: fmt.Sprintf("want 0 to 64m, got %d bytes", f.Size)}
		}
		seen[f.Path] = true
		if total += int64(f.Size); total > MaxFilesTotal {
			return &FieldError{Field: field + ".size", Msg: "the files add up to more than 256m, which the served tmpfs holds"}
		}
	}
	if d := w.DocRoot; d != "" {
		switch st, err := os.Stat(d); {
		case err != nil:
			return &FieldError{Field: "docroot", Msg: fmt.Sprintf("%s: %v: name the folder of the site's files", d, errors.Unwrap(err))}
		case !st.IsDir():
			return &FieldError{Field: "docroot", Msg: fmt.Sprintf("%s is not a folder: name the folder of the site's files (its index.html is what / serves)", d)}
		case len(w.Files) > 0:
			return &FieldError{Field: "docroot", Msg: "serves the site's own files read-only: put the files of workload.files (--file) into it instead"}
		}
	}
	if b := w.Backend; b.Set() {
		switch {
		case !filePath.MatchString(b.Path) || path.Clean(b.Path) != b.Path:
			return &FieldError{Field: "backend.path", Msg: fmt.Sprintf("want an absolute path of letters, digits, '.', '_' and '-', such as /app, got %q", b.Path)}
		case seen[b.Path]:
			return &FieldError{Field: "backend.path", Msg: fmt.Sprintf("%s is also a served file", b.Path)}
		case b.Size < 0 || b.Size > MaxFileSize:
			return &FieldError{Field: "backend.size", Msg: fmt.Sprintf("want 0 to 64m, got %d bytes", b.Size)}
		}
		if _, err := backend.ParseLatency(b.Latency); err != nil {
			return &FieldError{Field: "backend.latency", Msg: err.Error()}
		}
	}
	return nil
}
