package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/preflight"
	"github.com/loadcheck/loadcheck/provider"
)

// cmdDoctor is `loadcheck doctor`: this host's limits against a load.
func cmdDoctor(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("loadcheck doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	conns := fs.Int("c", 4000, "the `connections` the load would open")
	backlog := fs.Int("backlog", preflight.DefaultBacklog, "httpd's ListenBacklog")
	noShard := fs.Bool("no-shard", false, "check as for run --no-shard: the generator in one process")
	remote := fs.Bool("remote", false, "the server is on another host (--target): connections come from one source address")
	asJSON := fs.Bool("json", false, "print the checks as JSON")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadcheck doctor [-c N] [--backlog N] [--no-shard] [--remote] [--json]

Checks this host's limits that turn into dropped connections, against a load
of -c connections, before any load: the generator's nofile, httpd's nofile,
net.core.somaxconn against httpd's ListenBacklog, the connection-tracking
table (net.netfilter.nf_conntrack_max) and the ephemeral ports per source
address. Each line gives the value, what the load needs and, when it falls
short, the fix. run makes the same checks and says the ones that fall short.
Exit 0 when every check holds, 1 when one falls short.

Flags:
`)
		fs.PrintDefaults()
	}
	if _, err := parseArgs(fs, args, 0, "no arguments"); err != nil {
		return exitSetup, err
	}
	if *conns < 1 {
		return exitSetup, &usageError{fmt.Sprintf("-c %d: want at least one connection", *conns)}
	}
	l := preflight.Load{Connections: *conns, Backlog: *backlog, OneProcess: *noShard, HTTPDNofile: provider.NofileFor(*conns)}
	if *remote {
		l.SourceAddrs, l.Backlog, l.HTTPDNofile = 1, -1, 0
	}
	checks := preflight.Run("/proc", l)
	code := exitPass
	if len(preflight.Failed(checks)) > 0 {
		code = exitFail
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return code, enc.Encode(checks)
	}
	fmt.Fprintf(stdout, "this host against %d connections (CPU the generator may use: %g):\n", *conns, bench.CPULimit())
	for _, c := range checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(stdout, "  %s %s: %s; needs %s\n", mark, c.Name, c.Have, c.Need)
		if !c.OK {
			fmt.Fprintf(stdout, "       %s\n       fix: %s\n", c.Drops, c.Fix)
		}
	}
	return code, nil
}
