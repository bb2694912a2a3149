package main

import (
	"context"
	"os"

	"github.com/benchharness/harness/harness/agent"
)

// agentCmd is `harness agent`: one loader agent, driven by a coordinator
// (package agent). It reads commands as JSON lines on stdin and writes a
// report line per command on stdout; its own messages go to stderr.
func agentCmd(ctx context.Context, args []string) error {
	return agent.Serve(ctx, args, os.Stdin, os.Stdout)
}
