package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/benchharness/harness/harness/bench"
	"github.com/benchharness/harness/harness/results"
	"github.com/benchharness/harness/harness/targets"
)

const runUsage = `usage: harness run --url http://127.0.0.1:PORT --target NAME [--pid PID | --container ID] [flags]

Measures a server someone already started (docker compose up chi, a shell, ...)
with the same pipeline as bench: verify, warm-up, fixed rate, peak search. It
never starts, pins or stops the server. CPU and memory are sampled when it is
given the server's --pid (its process tree) or --container (its cgroup);
otherwise they are reported as 0. The loader runs on the CPUs the server does
not use.
`

// runCmd is `harness run`: bench.MeasureExternal for one running server.
func runCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, runUsage); fs.PrintDefaults() }
	root := fs.String("root", ".", "repository root (holds targets/, scenarios/, results/)")
	url := fs.String("url", "", "base URL of the running server, on loopback (required)")
	name := fs.String("target", "", "its target name: targets/NAME/target.yaml gives language, framework, article row (required)")
	pid := fs.Int("pid", 0, "sample this process and its children")
	ctr := fs.String("container", "", "sample this container (id or name)")
	vcpus := fs.Float64("vcpus", 0, "the server's CPU budget (default: the container's CPU limit, else its CPU count)")
	profile := fs.String("profile", "quick", "profile in scenarios/profiles/")
	scen := fs.String("scenario", "", "request mix in scenarios/ (default: the profile's)")
	dur := fs.Duration("duration", 0, "override step and fixed-run duration (e.g. 5s)")
	repeat := fs.Int("repeat", 1, "measure this many times (fixed run + peak search); figures are medians")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the server's health check")
	out := fs.String("results", "", "results directory (default: <root>/results)")
	idle := idleFlag(fs)
	_ = fs.Parse(args)
	if *url == "" || *name == "" {
		fs.Usage()
		return errors.New("run needs --url and --target")
	}

	p, s, ref, err := loadRun(*root, *profile, *scen, *dur, *idle)
	if err != nil {
		return err
	}
	m, err := bench.ExternalManifest(filepath.Join(*root, "targets"), *name)
	if err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(*root, "results")
	}
	run, dir, err := bench.MeasureExternal(ctx, bench.Options{
		Targets: []*targets.Manifest{m}, Profile: p, Scenario: s, Reference: ref, ResultsDir: *out, Repeat: *repeat,
		RunID:   time.Now().UTC().Format("20060102-150405") + "-" + p.Name + "-external",
		Command: os.Args, Progress: bench.NewProgress(os.Stderr), KeepLoaderAwake: p.Loader.KeepAwake(),
	}, bench.External{URL: *url, PID: *pid, Container: *ctr, VCPUs: *vcpus, Timeout: *timeout})
	if dir != "" {
		if md, rerr := os.ReadFile(filepath.Join(dir, "summary.md")); rerr == nil {
			fmt.Printf("\n%s\nresults: %s\n", md, dir)
		}
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return errors.New("interrupted: partial results written")
	}
	if t := run.Targets[0]; t.Status == results.StatusFailed {
		return fmt.Errorf("target %s failed: %s", t.Name, t.Reason)
	}
	return nil
}
