package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/benchharness/harness/harness/bench"
	"github.com/benchharness/harness/harness/calibrate"
	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/crosscheck"
	"github.com/benchharness/harness/harness/scenario"
)

// loaderBenchCmd is `harness loader-bench` (`make loader-bench`): the
// loader beside wrk against the same instant reference server, the server
// on a whole CPU and both loaders on the rest.
func loaderBenchCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("loader-bench", flag.ExitOnError)
	root := fs.String("root", ".", "repository root (holds scenarios/)")
	profile := fs.String("profile", "quick", "profile in scenarios/profiles/ (loader settings, fixed rate)")
	wrkPath := fs.String("wrk", "wrk", "wrk binary")
	conns := fs.Int("wrk-connections", 64, "wrk's connections")
	dur := fs.Duration("duration", 5*time.Second, "wrk's run and each loader step")
	idleRate := fs.Float64("idle-rate", 667, "the light rate at which the loader's own CPU is read")
	out := fs.String("out", "", "also write the result as JSON to this file")
	withAgents := fs.Bool("agents", true, "also calibrate the loader as agent processes, one per loader CPU")
	withOha := fs.Bool("independent", true, "also calibrate oha, an independent open-model loader, by the loader's definition of capacity")
	ohaPath := fs.String("oha", "", "oha binary (default: oha on PATH, else the one `make crosscheck` installs)")
	idle := idleFlag(fs)
	_ = fs.Parse(args)

	p, s, _, err := loadRun(*root, *profile, "json", 0, *idle)
	if err != nil {
		return err
	}
	cpus, err := cpuset.Given()
	if err != nil {
		return err
	}
	if len(cpus) < 2 {
		return fmt.Errorf("loader-bench needs 2 CPUs: one for the server, the rest for the loaders (have %d)", len(cpus))
	}
	plan := cpuset.Plan{TargetCPUs: cpus[:1], Budget: 1, LoaderCPUs: cpus[1:]}
	if err := bench.PinLoader(plan); err != nil {
		return err
	}
	idleRec, release := holdLoaderAwake(p, plan)
	defer release()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cfg := bench.CalibrationConfig(p, s, plan, exe, bench.NewProgress(os.Stderr).Logf)
	cfg.Step, cfg.FixedDuration = *dur, *dur
	var agents *calibrate.Agents
	if *withAgents {
		logs, err := os.MkdirTemp("", "loader-bench-agents-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(logs)
		fleet, err := bench.StartAgents(ctx, exe, plan.LoaderCPUs, len(plan.LoaderCPUs), logs)
		if err != nil {
			return err
		}
		defer fleet.Close()
		agents = &calibrate.Agents{N: len(plan.LoaderCPUs), Step: bench.AgentSteps(fleet, s)}
	}
	var other *calibrate.Independent
	if *withOha {
		if other, err = independentOha(ctx, *ohaPath, s, *conns, plan.LoaderCPUs); err != nil {
			return err
		}
	}
	lb, err := calibrate.BenchLoader(ctx, cfg, calibrate.WrkConfig{Path: *wrkPath, Connections: *conns, Duration: *dur}, *idleRate, agents, other)
	if err != nil {
		return err
	}
	lb.LoaderIdle = idleRec
	fmt.Print(calibrate.LoaderBenchTable(lb))
	if *out != "" {
		b, _ := json.MarshalIndent(lb, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", *out, err)
		}
	}
	return nil
}

// independentOha is oha as the loader bench's independent loader: the
// scenario's one request, over as many connections as wrk has, on the
// loader's CPUs.
func independentOha(ctx context.Context, path string, s *scenario.Scenario, conns int, cpus []int) (*calibrate.Independent, error) {
	bin, err := crosscheck.FindOha(path)
	if err != nil {
		return nil, fmt.Errorf("loader-bench: %w (or -independent=false)", err)
	}
	oha := crosscheck.Oha{Path: bin}
	version, err := oha.Version(ctx)
	if err != nil {
		return nil, err
	}
	step, err := oha.Sender(s, conns, cpus)
	if err != nil {
		return nil, fmt.Errorf("loader-bench: %w", err)
	}
	return &calibrate.Independent{Name: version, Setup: fmt.Sprintf("open model, latency-corrected, %d connections", conns), Step: step}, nil
}
