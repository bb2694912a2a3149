package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/benchharness/harness/harness/sample"
)

// samplerCmd is `harness sampler`: the sidecar beside a target in its pod
// (RUNTIME=k8s). It finds the target's processes in the pod's shared PID
// namespace and writes their CPU and memory as lines on stdout, which the
// harness reads from the container's log.
func samplerCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sampler", flag.ExitOnError)
	every := fs.Duration("every", sample.DefaultStreamEvery, "sampling interval")
	wait := fs.Duration("wait", sample.DefaultNeighbourWait, "how long to wait for the target's processes to appear")
	_ = fs.Parse(args)
	src, what, err := sample.Neighbour(ctx, *wait)
	if err != nil {
		return fmt.Errorf("sampler: %w", err)
	}
	fmt.Fprintf(os.Stderr, "sampler: sampling %s every %s\n", what, *every)
	return sample.Stream(ctx, src, *every, os.Stdout)
}
