package main

import (
	"context"
	"fmt"
	"os"

	"github.com/benchharness/harness/harness/agent"
	"github.com/benchharness/harness/harness/runtimes/k8s"
)

// agentCmd is `harness agent`: one loader agent, driven by a coordinator
// (package agent). It reads commands as JSON lines on stdin, or from a
// ConfigMap in a cluster, and writes a report line per command on stdout;
// its own messages go to stderr.
func agentCmd(ctx context.Context, args []string) error {
	return agent.Serve(ctx, args, os.Stdin, os.Stdout, clusterCommands)
}

// clusterCommands opens -commands configmap:<namespace>/<name>, with the
// pod's service account.
func clusterCommands(from string) (agent.Commands, error) {
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
