package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/benchharness/harness/harness/runtimes/k8s"
	"github.com/benchharness/harness/harness/scenario"
	"github.com/benchharness/harness/harness/targets"
)

// k8sBench is `harness bench -runtime k8s`: with -dry-run, the manifests
// the run would apply, written to out without contacting a cluster or a
// registry.
func k8sBench(p *scenario.Profile, s *scenario.Scenario, sel []*targets.Manifest, runID string, dryRun bool, out, calibration string) error {
	set, err := k8s.SettingsFromEnv()
	if err != nil {
		return err
	}
	setup := k8s.Setup{Profile: p, Scenario: s, Targets: sel, RunID: runID, Settings: set}
	if calibration != "" {
		if setup.CapacityPerCore, err = k8s.CapacityPerCore(calibration); err != nil {
			return err
		}
	}
	if !dryRun {
		return errors.New("-runtime k8s: only -dry-run is wired into this command so far (the bench runner does not yet drive a k8s.Fleet); see docs/kubernetes.md")
	}
	if out == "" {
		return errors.New("-dry-run needs -out DIR")
	}
	paths, sizing, err := k8s.DryRun(setup, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "k8s dry run %s: %s\n", runID, sizing)
	if set.Registry == "" {
		fmt.Fprintf(os.Stderr, "k8s dry run: BENCH_REGISTRY is not set; images are named %s/... as placeholders\n", k8s.PlaceholderRegistry)
	}
	for _, path := range paths {
		fmt.Println(path)
	}
	return nil
}
