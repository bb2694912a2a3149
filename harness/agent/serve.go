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
// agent over out and its commands: in, or with -commands another source,
// which open opens (a cluster's; nil: only stdin).
func Serve(ctx context.Context, args []string, in io.Reader, out io.Writer, open func(from string) (Commands, error)) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	index := fs.Int("index", 0, "this agent's number among the step's agents")
	cpus := fs.String("cpus", "", "pin to these CPUs (e.g. 1 or 2-3); default: leave the affinity as it is")
	from := fs.String("commands", "stdin", "where commands come from: stdin, or configmap:<namespace>/<name> (in a pod, with its service account)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cmds := Lines(in)
	if *from != "stdin" {
		if open == nil {
			return fmt.Errorf("agent: -commands %q: only stdin here", *from)
		}
		var err error
		if cmds, err = open(*from); err != nil {
			return err
		}
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
	return Run(ctx, *index, cmds, out)
}
