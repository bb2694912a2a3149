package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/benchharness/harness/harness/agent"
	"github.com/benchharness/harness/harness/bench"
	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/runtimes/k8s"
)

// agentCmd is `harness agent`: one loader agent, driven by a coordinator
// (package agent). It reads commands as JSON lines on stdin, or from a
// ConfigMap in a cluster, and writes a report line per command on stdout;
// its own messages go to stderr.
func agentCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("agent", flag.ExitOnError)
	index := fs.Int("index", 0, "this agent's number among the step's agents")
	cpus := fs.String("cpus", "", "pin to these CPUs (e.g. 1 or 2-3); default: leave the affinity as it is")
	from := fs.String("commands", "stdin", "where commands come from: stdin, or configmap:<namespace>/<name> (in a pod, with its service account)")
	_ = fs.Parse(args)
	if *cpus != "" {
		list, err := cpuset.ParseList(*cpus)
		if err != nil {
			return fmt.Errorf("agent: -cpus: %w", err)
		}
		if err := bench.PinLoader(cpuset.Plan{LoaderCPUs: list}); err != nil {
			return err
		}
	}
	cmds, err := agentCommands(*from)
	if err != nil {
		return err
	}
	return agent.Run(ctx, *index, cmds, os.Stdout)
}

func agentCommands(from string) (agent.Commands, error) {
	if from == "stdin" {
		return agent.Lines(os.Stdin), nil
	}
	ns, name, err := k8s.ParseCommandsSource(from)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	cs, err := k8s.InClusterClient()
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	return k8s.ConfigMapCommands(cs, ns, name), nil
}
