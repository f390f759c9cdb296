package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/loadcheck/loadcheck/generator/swarm"
)

// cmdGeneratorImage builds the generator image when it is missing and
// prints its tag, for make generator-image and for pushing it to a
// registry a cluster pulls from.
func cmdGeneratorImage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadcheck generator-image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadcheck generator-image

Builds the image that swarm and Kubernetes shards run, when it is missing:
this very loadcheck binary on loadcheck's Debian image (make image builds
that), tagged loadcheck/generator:HASH by the binary's SHA-256 and labelled
org.loadcheck.version. Prints the tag. A shard refuses a request planned by
another loadcheck version. For Kubernetes, push it where the cluster pulls
from and give it as --generator-image.
`)
	}
	if _, err := parseArgs(fs, args, 0, "no argument"); err != nil {
		return err
	}
	tag, err := swarm.GeneratorImage(ctx, version)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tag)
	return nil
}
