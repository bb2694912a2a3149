package k8s

import (
	"fmt"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/results"
	"github.com/benchharness/harness/harness/scenario"
	"github.com/benchharness/harness/harness/targets"
)

// Setup is what a cluster run is planned from: the profile alone sizes the
// target's pod and the loader, never the machine the harness runs on.
type Setup struct {
	Profile  *scenario.Profile
	Scenario *scenario.Scenario
	Targets  []*targets.Manifest
	RunID    string
	Settings Settings
	// CapacityPerCore is the loader's calibrated capacity per core
	// (req/s); 0 takes the profile's kubernetes.capacity_per_core_rps.
	CapacityPerCore float64
}

// Plan is the run and its targets' pods, with images named in the
// registry (PlaceholderRegistry when none is set).
func (s Setup) Plan() (Run, []Target, error) {
	run, err := PlanRun(s.Profile, s.RunID, s.Settings.Namespace, ImageRef(s.Settings.Registry, "harness", s.RunID), s.CapacityPerCore)
	if err != nil {
		return Run{}, nil, err
	}
	run.LoaderNode = s.Settings.LoaderNode
	var env map[string]string
	if s.Scenario != nil {
		env = s.Scenario.TargetEnv()
	}
	var ts []Target
	for _, m := range s.Targets {
		t, err := PlanTarget(s.Profile, m, ImageRef(s.Settings.Registry, m.Name, s.RunID), s.Settings.TargetNode, env)
		if err != nil {
			return Run{}, nil, err
		}
		ts = append(ts, t)
	}
	return run, ts, nil
}

// DryRun writes the manifests a run of s would apply to dir, validated,
// without contacting a cluster or a registry, and returns their paths and
// a line saying how the loader was sized.
func DryRun(s Setup, dir string) (paths []string, sizing string, err error) {
	run, ts, err := s.Plan()
	if err != nil {
		return nil, "", err
	}
	m, err := Build(run, ts)
	if err != nil {
		return nil, "", fmt.Errorf("dry run: the manifests do not validate:\n%w", err)
	}
	paths, err = WriteManifests(dir, m)
	if err != nil {
		return nil, "", err
	}
	perCore := s.CapacityPerCore
	from := "calibration"
	if perCore <= 0 {
		perCore, from = s.Profile.Kubernetes.CapacityPerCore, s.Profile.File+" kubernetes.capacity_per_core_rps"
	}
	vcpus, _ := WholeVCPUs(s.Profile)
	sizing = fmt.Sprintf("%d agents of %d CPUs: highest rate %.0f req/s at %.0f req/s per loader core (%s)",
		run.Agents, run.AgentCPUs, HighestRate(s.Profile, vcpus), perCore, from)
	return paths, sizing, nil
}

// CapacityPerCore is the loader's calibrated capacity per loader core
// from a run's results (results/<run>): its calibration's capacity over
// the CPUs the loader had.
func CapacityPerCore(runDir string) (float64, error) {
	run, err := results.Read(runDir)
	if err != nil {
		return 0, fmt.Errorf("calibration: %w", err)
	}
	man := run.Manifest
	if man == nil || man.Calibration == nil || man.Calibration.Capacity <= 0 {
		return 0, fmt.Errorf("calibration: %s has no loader calibration with a capacity", runDir)
	}
	cpus, err := cpuset.ParseList(man.LoaderCPUs)
	if err != nil || len(cpus) == 0 {
		return 0, fmt.Errorf("calibration: %s: loader_cpus %q: not a CPU list", runDir, man.LoaderCPUs)
	}
	return man.Calibration.Capacity / float64(len(cpus)), nil
}
