package scenarios

import (
	"fmt"
	"os"
	"path"
	"regexp"

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
}

// LoadMix reads the access log at path as a request mix (bench.ReadMix),
// with a line that says what it read.
func LoadMix(path string) ([]bench.MixEntry, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
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
	return nil
}
