package containers

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/loadcheck/loadcheck/results"
)

// ReadListenCounters reads the kernel's listen-queue counters from the
// TcpExt lines of path (normally /proc/net/netstat): SYNs and completed
// connections dropped because a listen queue was full. They count every
// socket in the network namespace; with host networking, the whole host.
func ReadListenCounters(path string) (results.ListenCounters, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return results.ListenCounters{}, err
	}
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "TcpExt:") || !strings.HasPrefix(lines[i+1], "TcpExt:") {
			continue
		}
		keys, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(keys) != len(vals) {
			return results.ListenCounters{}, fmt.Errorf("%s: TcpExt has %d names and %d values", path, len(keys), len(vals))
		}
		var c results.ListenCounters
		found := 0
		for k, key := range keys {
			var dst *int64
			switch key {
			case "ListenOverflows":
				dst = &c.Overflows
			case "ListenDrops":
				dst = &c.Drops
			default:
				continue
			}
			if *dst, err = strconv.ParseInt(vals[k], 10, 64); err != nil {
				return results.ListenCounters{}, fmt.Errorf("%s: %s: %w", path, key, err)
			}
			found++
		}
		if found != 2 {
			return results.ListenCounters{}, fmt.Errorf("%s: TcpExt lacks ListenOverflows or ListenDrops", path)
		}
		return c, nil
	}
	return results.ListenCounters{}, fmt.Errorf("%s: no TcpExt lines", path)
}
