package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/benchharness/harness/harness/bench"
	"github.com/benchharness/harness/harness/crosscheck"
	"github.com/benchharness/harness/harness/runtimes"
)

// crosscheckCmd is `harness crosscheck`: crosscheck.Run over the chosen
// targets, its table on stdout.
func crosscheckCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("crosscheck", flag.ExitOnError)
	root := fs.String("root", ".", "repository root (holds targets/, scenarios/, results/)")
	names := fs.String("targets", "chi,axum", "comma-separated targets")
	profile := fs.String("profile", "quick", "profile in scenarios/profiles/")
	oha := fs.String("oha", "", "oha binary (default: oha on PATH, else "+crosscheck.ToolsOha()+")")
	out := fs.String("results", "", "results directory (default: <root>/results)")
	pairs := fs.Int("pairs", 3, "times each target is measured by the harness on oha's arrivals and by oha, alternating; the medians are compared")
	idle := idleFlag(fs)
	_ = fs.Parse(args)

	bin, err := crosscheck.FindOha(*oha)
	if err != nil {
		return err
	}
	p, s, ref, err := loadRun(*root, *profile, crosscheck.Scenario, 0, *idle)
	if err != nil {
		return err
	}
	sel, err := selectTargets(*root, *names)
	if err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(*root, "results")
	}
	rep, dir, err := crosscheck.Run(ctx, crosscheck.Options{
		Targets: sel, Profile: p, Scenario: s, Reference: ref, Runtime: &runtimes.Local{Log: os.Stderr},
		ResultsDir: *out, RunID: time.Now().UTC().Format("20060102-150405") + "-" + p.Name + "-crosscheck",
		Command: os.Args, Oha: bin, Progress: bench.NewProgress(os.Stderr),
		KeepLoaderAwake: p.Loader.KeepAwake(), Pairs: *pairs,
	})
	if rep != nil {
		fmt.Printf("\n%s\n%s\nresults: %s\n", crosscheck.ArrivalsMarkdown(rep.Arrivals), crosscheck.Markdown(rep.Rows), dir)
	}
	return err
}
