package observe

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ReadListenCounters reads the kernel's listen-queue counters from the
// TcpExt lines of path (normally /proc/net/netstat): SYNs and completed
// connections dropped because a listen queue was full. They count every
// socket in the network namespace; with host networking, the whole host.
func ReadListenCounters(path string) (ListenCounters, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return ListenCounters{}, err
	}
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "TcpExt:") || !strings.HasPrefix(lines[i+1], "TcpExt:") {
			continue
		}
		keys, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(keys) != len(vals) {
			return ListenCounters{}, fmt.Errorf("%s: TcpExt has %d names and %d values", path, len(keys), len(vals))
		}
		var c ListenCounters
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
				return ListenCounters{}, fmt.Errorf("%s: %s: %w", path, key, err)
			}
			found++
		}
		if found != 2 {
			return ListenCounters{}, fmt.Errorf("%s: TcpExt lacks ListenOverflows or ListenDrops", path)
		}
		return c, nil
	}
	return ListenCounters{}, fmt.Errorf("%s: no TcpExt lines", path)
}

// ReadAcceptQueue returns the number of connections waiting in the accept
// queue of the socket listening on port, from path (a /proc/PID/net/tcp
// file, which shows that process's network namespace). For a listening
// socket the kernel puts the accept queue's length in the rx_queue field.
func ReadAcceptQueue(path string, port int) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	want := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		// sl local_address rem_address st tx_queue:rx_queue ...
		if len(f) < 5 || f[3] != "0A" || !strings.HasSuffix(f[1], want) {
			continue
		}
		_, rx, ok := strings.Cut(f[4], ":")
		if !ok {
			return 0, fmt.Errorf("%s: bad queue field %q", path, f[4])
		}
		n, err := strconv.ParseInt(rx, 16, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		return int(n), nil
	}
	return 0, fmt.Errorf("%s: nothing listens on port %d", path, port)
}
