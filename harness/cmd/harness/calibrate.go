package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/benchharness/harness/harness/bench"
	"github.com/benchharness/harness/harness/calibrate"
)

// calibrateCmd is `harness calibrate`: the loader measured against the
// instant reference server, as every `harness bench` does first.
func calibrateCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("calibrate", flag.ExitOnError)
	root := fs.String("root", ".", "repository root (holds scenarios/)")
	profile := fs.String("profile", "quick", "profile in scenarios/profiles/")
	scen := fs.String("scenario", "", "request mix in scenarios/ (default: the profile's)")
	dur := fs.Duration("duration", 0, "override step and fixed-run duration (e.g. 5s)")
	out := fs.String("out", "", "also write the result as JSON to this file")
	idle := idleFlag(fs)
	_ = fs.Parse(args)

	p, s, _, err := loadRun(*root, *profile, *scen, *dur, *idle)
	if err != nil {
		return err
	}
	plan, err := bench.PlanFor(p)
	if err != nil {
		return err
	}
	if err := bench.PinLoader(plan); err != nil {
		return err
	}
	_, release := holdLoaderAwake(p, plan)
	defer release()
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the harness binary for the reference server: %w", err)
	}
	progress := bench.NewProgress(os.Stderr)
	res, err := calibrate.Run(ctx, bench.CalibrationConfig(p, s, plan, exe, progress.Logf))
	if err != nil {
		return err
	}
	fmt.Print(calibrate.Table(res))
	if *out != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", *out, err)
		}
	}
	return nil
}
