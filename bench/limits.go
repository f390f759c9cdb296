package bench

import (
	"fmt"
	"syscall"
)

// NofileMargin is the file descriptors a process needs beside its sockets:
// standard streams, listeners, the Docker API, the status client.
const NofileMargin = 256

// LimitError says that one process cannot hold the connections it was
// asked for, and what would fix it.
type LimitError struct {
	Connections int
	Need, Hard  uint64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%d connections need %d file descriptors in one process, but its hard nofile limit is %d; let loadcheck spread them over %d processes (drop --no-shard), lower -c to %d, or raise the hard limit to %d (ulimit -Hn %d as root, or LimitNOFILE= in the service)",
		e.Connections, e.Need, e.Hard, ShardsFor(e.Connections, e.Hard), max(int(e.Hard)-NofileMargin, 0), e.Need, e.Need)
}

// HardNofile is this process's hard limit on open files.
func HardNofile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("read nofile limit: %w", err)
	}
	return lim.Max, nil
}

// ShardsFor is the number of processes n connections need under a hard
// nofile limit of hard per process.
func ShardsFor(n int, hard uint64) int {
	per := int(hard) - NofileMargin
	if per < 1 {
		return n
	}
	return max(1, (n+per-1)/per)
}

// RaiseNofile makes sure this process may open n sockets: it raises the
// soft limit up to the hard limit, or returns a *LimitError when even the
// hard limit is too low.
func RaiseNofile(n int) error {
	need := uint64(n) + NofileMargin
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read nofile limit: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		return &LimitError{Connections: n, Need: need, Hard: lim.Max}
	}
	lim.Cur = need
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise the nofile soft limit to %d: %w; run `ulimit -n %d` first", need, err, need)
	}
	return nil
}
