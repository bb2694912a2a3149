package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/benchharness/harness/harness/bench"
	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/runtimes/k8s"
	"github.com/benchharness/harness/harness/scenario"
	"github.com/benchharness/harness/harness/targets"
)

// k8sSetup is the cluster run's plan from the profile, the environment
// (k8s.SettingsFromEnv) and -calibration.
func k8sSetup(p *scenario.Profile, s *scenario.Scenario, sel []*targets.Manifest, runID, calibration string) (k8s.Setup, error) {
	set, err := k8s.SettingsFromEnv()
	if err != nil {
		return k8s.Setup{}, err
	}
	setup := k8s.Setup{Profile: p, Scenario: s, Targets: sel, RunID: runID, Settings: set}
	if calibration != "" {
		if setup.CapacityPerCore, err = k8s.CapacityPerCore(calibration); err != nil {
			return k8s.Setup{}, err
		}
	}
	return setup, nil
}

// k8sDryRun is `bench -runtime k8s -dry-run -out DIR`: the manifests a run
// would apply, written and validated; no cluster or registry is contacted.
func k8sDryRun(setup k8s.Setup, out string) error {
	if out == "" {
		return errors.New("-dry-run needs -out DIR")
	}
	paths, sizing, err := k8s.DryRun(setup, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "k8s dry run %s: %s\n", setup.RunID, sizing)
	if setup.Settings.Registry == "" {
		fmt.Fprintf(os.Stderr, "k8s dry run: BENCH_REGISTRY is not set; images are named %s/... as placeholders\n", k8s.PlaceholderRegistry)
	}
	for _, path := range paths {
		fmt.Println(path)
	}
	return nil
}

// k8sCluster connects to the cluster (KUBECONFIG), starts the run's loader
// agents there and fills o's runtime, plan and loader with them. The
// returned close deletes everything the run created.
func k8sCluster(ctx context.Context, setup k8s.Setup, o *bench.Options) (close func(), err error) {
	cs, cfg, err := k8s.NewClient()
	if err != nil {
		return nil, err
	}
	c, err := k8s.StartCluster(ctx, setup, cs, k8s.APIForwarder{Config: cfg}, o.HarnessExe, os.Stderr)
	if err != nil {
		return nil, err
	}
	o.Runtime, o.Fleet = c.Runtime, c.Fleet
	o.Plan = &cpuset.Plan{Budget: float64(c.VCPUs)}
	// The local loader is not the cluster's: its capacity is the sizing's.
	o.Calibrate, o.Capacity, o.CapacitySource = false, c.Capacity, c.CapacitySource
	return func() {
		if err := c.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "k8s: cleanup: %v\n", err)
		}
	}, nil
}
