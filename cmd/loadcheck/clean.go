package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/loadcheck/loadcheck/containers"
)

// cmdClean is `loadcheck clean`: removes what killed runs left behind.
func cmdClean(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadcheck clean", flag.ContinueOnError)
	fs.SetOutput(stderr)
	all := fs.Bool("all", false, "remove every loadcheck container, also those of runs still going")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadcheck clean [--all]

Removes the containers loadcheck labelled whose run is gone (crashed or
killed): a container stays while the loadcheck process that started it still
runs on this host. --all removes every loadcheck container.

Flags:
`)
		fs.PrintDefaults()
	}
	if _, err := parseArgs(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	removed, err := containers.Clean(ctx, *all)
	for _, id := range removed {
		fmt.Fprintf(stdout, "removed %s\n", id)
	}
	if err == nil && len(removed) == 0 {
		fmt.Fprintln(stdout, "no loadcheck containers of a finished run found")
	}
	return err
}
