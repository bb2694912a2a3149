package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/benchharness/harness/harness/agent"
	"github.com/benchharness/harness/harness/calibrate"
	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/results"
	"github.com/benchharness/harness/harness/scenario"
)

// AutoLoaders as Options.Loaders lets the loader CPUs decide (LoadersFor).
const AutoLoaders = -1

// LoadersFor is how many agents make the loader on cpus when the user did
// not say: one per CPU when there are several, since one process whose Go
// runtime has one P per CPU is expected to spend more per request on its
// scheduler (work stealing, spinning threads) than single-P processes that
// share nothing; on one CPU, none: the loader stays in the harness's
// process. With a calibration, setUpLoader measures both ways and keeps
// the better one; make loader-bench shows both.
func LoadersFor(n int, cpus []int) int {
	switch {
	case n != AutoLoaders:
		return n
	case len(cpus) > 1:
		return len(cpus)
	default:
		return 0
	}
}

// setUpLoader starts the run's loader agents, if any, and calibrates the
// loader when asked. Left to choose (AutoLoaders, several loader CPUs, a
// calibration), it calibrates the loader both in this process and as one
// agent per loader CPU, and keeps the way of higher capacity: agents are
// the default there only where they are measured to be more efficient.
func setUpLoader(ctx context.Context, o Options, plan cpuset.Plan, man *results.Manifest, logDir string) (Fleet, error) {
	choose := o.Fleet == nil && o.Loaders == AutoLoaders && len(plan.LoaderCPUs) > 1 && o.Calibrate
	if !choose {
		fleet, err := startFleet(ctx, o, plan, logDir)
		if err == nil && o.Calibrate {
			calibrateLoader(ctx, o, plan, man, fleet)
		}
		return fleet, err
	}
	calibrateLoader(ctx, o, plan, man, nil)
	inProcess, inErr := man.Calibration, man.CalibrationError
	fleet, err := startFleet(ctx, o, plan, logDir)
	if err != nil {
		return nil, err
	}
	man.Calibration, man.CalibrationError = nil, ""
	calibrateLoader(ctx, o, plan, man, fleet)
	useAgents, why := preferAgents(inProcess, man.Calibration, len(plan.LoaderCPUs))
	man.LoaderChoice = why
	o.Progress.Logf("loader: %s", why)
	if useAgents {
		return fleet, nil
	}
	fleet.Close()
	man.Calibration, man.CalibrationError = inProcess, inErr
	return nil, nil
}

// preferAgents says whether the loader's agents (calibrated as agents)
// beat it in one process (inProcess), and why; a failed calibration (nil)
// loses.
func preferAgents(inProcess, agents *calibrate.Result, n int) (bool, string) {
	switch {
	case agents == nil:
		return false, fmt.Sprintf("in this process: the calibration of %d agents failed", n)
	case inProcess == nil:
		return true, fmt.Sprintf("%d agents: the calibration in this process failed", n)
	case agents.Capacity > inProcess.Capacity:
		return true, fmt.Sprintf("%d agents: calibrated capacity %.0f req/s against %.0f req/s in this process", n, agents.Capacity, inProcess.Capacity)
	default:
		return false, fmt.Sprintf("in this process: calibrated capacity %.0f req/s against %.0f req/s as %d agents", inProcess.Capacity, agents.Capacity, n)
	}
}

// startFleet starts the run's loader agents when Options.Loaders asks for
// them: local processes of the harness binary, each pinned to its share of
// the loader CPUs. Nil when the loader is this process.
func startFleet(ctx context.Context, o Options, plan cpuset.Plan, logDir string) (Fleet, error) {
	if o.Fleet != nil {
		return o.Fleet, nil
	}
	n := LoadersFor(o.Loaders, plan.LoaderCPUs)
	if n <= 0 {
		return nil, nil
	}
	if o.HarnessExe == "" {
		return nil, fmt.Errorf("loaders: %d agents asked for, but no harness binary to run them", n)
	}
	l, err := StartAgents(ctx, o.HarnessExe, plan.LoaderCPUs, n, logDir)
	if err != nil {
		return nil, err
	}
	for _, a := range l.Agents() {
		o.Progress.Logf("loader agent %d: pid %d on CPUs %s", a.Agent, a.PID, a.CPUs)
	}
	return l, nil
}

// StartAgents starts n local agents of exe on their shares of cpus.
func StartAgents(ctx context.Context, exe string, cpus []int, n int, logDir string) (Fleet, error) {
	l, err := agent.StartLocal(ctx, exe, agent.Groups(cpus, n), logDir)
	if err != nil {
		return nil, fmt.Errorf("loaders: %w", err)
	}
	return l, nil
}

// AgentSteps runs a calibration's steps on the agents.
func AgentSteps(fleet Fleet, s *scenario.Scenario) calibrate.Sender {
	return func(ctx context.Context, url string, lp scenario.Loader, rate float64, d time.Duration) (load.Step, time.Duration, error) {
		m, err := fleet.Step(ctx, agent.Command{URL: url, Scenario: s, Rate: rate, Duration: scenario.Duration(d),
			Loader: lp, StartAt: time.Now().Add(fleet.Lead())})
		var cpu float64
		for _, a := range m.Agents {
			cpu += a.CPUSeconds
		}
		return m.Step, time.Duration(cpu * float64(time.Second)), err
	}
}

// recordAgents writes the agents and their totals over the run so far into
// the manifest.
func recordAgents(man *results.Manifest, fleet Fleet, run *results.Run) {
	if fleet == nil {
		return
	}
	man.Agents = nil
	for _, info := range fleet.Agents() {
		rec := results.AgentRecord{Info: info}
		for _, obs := range run.Observations() {
			for _, f := range obs.Agents {
				if f.Agent == info.Agent {
					rec.Add(f)
				}
			}
		}
		man.Agents = append(man.Agents, rec)
	}
}
