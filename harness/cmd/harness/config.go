package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/benchharness/harness/harness/bench"
	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/scenario"
	"github.com/benchharness/harness/harness/targets"
)

// loadRun reads what a measurement needs from <root>/scenarios: the profile
// with the command line's overrides applied, its request mix, and the
// article's figures.
func loadRun(root, profile, scen string, dur time.Duration, idle string) (*scenario.Profile, *scenario.Scenario, *scenario.Reference, error) {
	dir := filepath.Join(root, "scenarios")
	p, err := scenario.LoadProfile(dir, profile)
	if err != nil {
		return nil, nil, nil, err
	}
	if scen != "" {
		p.Scenario = scen
	}
	s, err := scenario.LoadScenario(dir, p.Scenario)
	if err != nil {
		return nil, nil, nil, err
	}
	p.Apply(s)
	if err := overrideIdle(p, idle); err != nil {
		return nil, nil, nil, err
	}
	// -duration is the user's word and wins over the scenario's lengths.
	if dur > 0 {
		p.Step, p.FixedDuration = scenario.Duration(dur), scenario.Duration(dur)
		p.Warmup = min(p.Warmup, scenario.Duration(dur))
	}
	ref, err := scenario.LoadReference(dir, "article")
	if err != nil {
		return nil, nil, nil, err
	}
	if !ref.Covers(s.Name) {
		ref = nil // no published figure to set beside this scenario's
	}
	return p, s, ref, nil
}

// selectTargets finds the targets under <root>/targets and keeps the ones a
// comma-separated list names (all of them when it is empty).
func selectTargets(root, names string) ([]*targets.Manifest, error) {
	all, err := targets.Discover(filepath.Join(root, "targets"))
	if err != nil {
		return nil, err
	}
	return targets.Select(all, splitList(names))
}

// parseLoaders reads -loaders: "auto", or a count of agents (0: none).
func parseLoaders(s string) (int, error) {
	if s == "auto" || s == "" {
		return bench.AutoLoaders, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("-loaders %q: want auto or a count of agents (0 or more)", s)
	}
	return n, nil
}

// idleFlag is -cpu-idle, which every measuring command takes.
func idleFlag(fs *flag.FlagSet) *string {
	return fs.String("cpu-idle", "", "poll or default: how the loader's CPUs idle (default: the profile's loader.cpu_idle)")
}

// overrideIdle applies a -cpu-idle flag over the profile's loader.cpu_idle.
func overrideIdle(p *scenario.Profile, flagValue string) error {
	switch flagValue {
	case "":
	case cpuset.IdlePoll, cpuset.IdleDefault:
		p.Loader.CPUIdle = flagValue
	default:
		return fmt.Errorf("-cpu-idle: want poll or default, got %q", flagValue)
	}
	return nil
}

// holdLoaderAwake holds the plan's loader CPUs in the polling idle state
// when the profile asks, for a command that measures the loader outside a
// run (calibrate, loader-bench); a run holds them itself.
func holdLoaderAwake(p *scenario.Profile, plan cpuset.Plan) (cpuset.IdleRecord, func()) {
	return bench.HoldLoaderAwake(p.Loader.KeepAwake(), plan.LoaderCPUs, bench.NewProgress(os.Stderr).Logf)
}
