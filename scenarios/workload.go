package scenarios

import (
	"fmt"
	"path"
	"regexp"
)

// Workload is what the server serves beyond the test page.
type Workload struct {
	// Files are static files of given sizes, created in the served folder
	// before httpd starts, each at its own path; the load requests them
	// when load.paths names them.
	Files []File `yaml:"files" json:"files,omitempty"`
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
