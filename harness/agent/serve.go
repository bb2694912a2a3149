package agent

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/load"
)

// Serve is `harness agent`: it parses the flags the local coordinator
// writes (startProcess), next to it here, pins the process, and runs the
// agent over in and out.
func Serve(ctx context.Context, args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	index := fs.Int("index", 0, "this agent's number among the step's agents")
	cpus := fs.String("cpus", "", "pin to these CPUs (e.g. 1 or 2-3); default: leave the affinity as it is")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpus != "" {
		list, err := cpuset.ParseList(*cpus)
		if err != nil {
			return fmt.Errorf("agent: -cpus %q: %w", *cpus, err)
		}
		if err := load.PinProcess(list); err != nil {
			return err
		}
	}
	return Run(ctx, *index, Lines(in), out)
}
