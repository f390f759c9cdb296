package scenarios

import (
	"fmt"
	"os"
	"path"
	"regexp"

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
	// Backend, when set, is a slow application loadcheck starts on
	// loopback for each config, which proxies Path to it.
	Backend Backend `yaml:"backend" json:"backend,omitzero"`
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
