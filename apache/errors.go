package apache

import (
	"fmt"
	"regexp"
	"strings"
)

// ConfigError is httpd rejecting a config (its -t check failed). Message
// is Apache's own output.
type ConfigError struct {
	Config  string
	File    string // the user's own file, when the config is one
	As      string // where the rendered file was, as httpd read it
	Message string
}

func (e *ConfigError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("httpd rejected %s (config %q, as %s): %s", e.File, e.Config, e.As, e.Message)
	}
	return fmt.Sprintf("httpd rejected config %q (%s): %s", e.Config, e.As, e.Message)
}

var apacheLine = regexp.MustCompile(`(?m)^.*(AH\d{5}|[Ss]yntax error|Invalid command|Cannot load).*$`)

// Message picks Apache's own error lines out of httpd's -t output, with
// drop removed first.
func Message(output, drop string) string {
	if drop != "" {
		output = strings.ReplaceAll(output, drop, "")
	}
	if lines := apacheLine.FindAllString(output, -1); len(lines) > 0 {
		return strings.TrimSpace(strings.Join(lines, "\n"))
	}
	return strings.TrimSpace(output)
}

// Tail returns the last n lines of httpd's output, indented for an error
// message.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
