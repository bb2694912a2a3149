package main

import (
	"context"
	"os"

	"github.com/benchharness/harness/harness/calibrate"
)

// refserverCmd is `harness refserver`: the calibration's instant reference
// server as a process of its own, so it can be pinned to CPUs the loader
// does not use. Its flags (-addr, -delay, -blocking, -cpus) are parsed by
// calibrate.ServeCommand, next to calibrate.StartProcess that writes them.
// It prints "listening http://127.0.0.1:PORT" once ready and serves until
// SIGINT or SIGTERM (main's ctx).
func refserverCmd(ctx context.Context, args []string) error {
	return calibrate.ServeCommand(ctx, args, os.Stdout)
}
