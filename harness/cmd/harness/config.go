package main

import (
	"path/filepath"
	"time"

	"github.com/benchharness/harness/harness/scenario"
)

// loadRun reads what a measurement needs from <root>/scenarios: the profile
// with the command line's overrides applied, its request mix, and the
// article's figures.
func loadRun(root, profile, scen string, dur time.Duration) (*scenario.Profile, *scenario.Scenario, *scenario.Reference, error) {
	dir := filepath.Join(root, "scenarios")
	p, err := scenario.LoadProfile(dir, profile)
	if err != nil {
		return nil, nil, nil, err
	}
	if dur > 0 {
		p.Step, p.FixedDuration = scenario.Duration(dur), scenario.Duration(dur)
		p.Warmup = min(p.Warmup, scenario.Duration(dur))
	}
	if scen != "" {
		p.Scenario = scen
	}
	s, err := scenario.LoadScenario(dir, p.Scenario)
	if err != nil {
		return nil, nil, nil, err
	}
	ref, err := scenario.LoadReference(dir, "article")
	if err != nil {
		return nil, nil, nil, err
	}
	return p, s, ref, nil
}
