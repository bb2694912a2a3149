package bench

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/peak"
	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/scenario"
	"github.com/benchharness/harness/harness/targets"
)

// With Loaders 2 the run's loader is two agent processes: the manifest
// names both with their totals, every step carries both agents' figures,
// whose requests add up to the step's, and no agent outlives the run.
func TestRunWithTwoAgentsRecordsBoth(t *testing.T) {
	root := t.TempDir()
	writeTarget(t, root, "good", "", nil)
	all, err := targets.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	run, _, err := Run(context.Background(), Options{Targets: all, Profile: tinyProfile(), Scenario: apiScenario(t), Runtime: &runtimes.Local{},
		ResultsDir: t.TempDir(), RunID: "agents-" + strconv.Itoa(os.Getpid()), Progress: testProgress(t), HarnessExe: os.Args[0], Loaders: 2})
	if err != nil {
		t.Fatal(err)
	}
	good := run.Targets[0]
	if good.Status != "ok" || good.Peak == nil || good.Fixed == nil {
		t.Fatalf("good: %s %s", good.Status, good.Reason)
	}
	agents := run.Manifest.Agents
	if len(agents) != 2 || agents[0].PID == agents[1].PID || agents[0].Steps == 0 || agents[1].Requests == 0 {
		t.Fatalf("manifest agents: %+v", agents)
	}
	for _, a := range agents {
		if alive(a.PID) {
			t.Errorf("agent %d (pid %d) outlived the run", a.Agent, a.PID)
		}
		if _, err := os.Stat(a.Log); err != nil || filepath.Base(a.Log) != "agent-"+strconv.Itoa(a.Agent)+".log" {
			t.Errorf("agent %d log %q: %v", a.Agent, a.Log, err)
		}
	}
	steps := append([]peak.Observation{good.Fixed.Observation}, run.Observations()...)
	for _, obs := range steps {
		if len(obs.Agents) != 2 {
			t.Fatalf("a step has %d agents' figures, want 2", len(obs.Agents))
		}
		if n := obs.Agents[0].Requests + obs.Agents[1].Requests; n != obs.Step.Requests {
			t.Errorf("agents sent %d requests, the step counts %d", n, obs.Step.Requests)
		}
		if obs.Agents[0].Offered != obs.Step.Offered/2 {
			t.Errorf("agent 0 offered %.1f req/s of the step's %.1f", obs.Agents[0].Offered, obs.Step.Offered)
		}
	}
}

// Ctrl-C during a step on agents stops the run promptly, keeps what was
// measured, and leaves no agent process behind.
func TestInterruptWithAgentsLeavesNoAgent(t *testing.T) {
	root := t.TempDir()
	pidfile := filepath.Join(t.TempDir(), "pid")
	writeTarget(t, root, "slow", "", map[string]string{"PIDFILE": pidfile})
	all, err := targets.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	p := tinyProfile()
	p.FixedDuration = scenario.Duration(time.Minute) // interrupted long before it ends
	ctx := interruptUnderLoad(t, pidfile)
	start := time.Now()
	run, _, err := Run(ctx, Options{Targets: all, Profile: p, Scenario: apiScenario(t), Runtime: &runtimes.Local{},
		ResultsDir: t.TempDir(), RunID: "agents-int-" + strconv.Itoa(os.Getpid()), Progress: testProgress(t), HarnessExe: os.Args[0], Loaders: 2})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("interrupted run took %s to stop", d)
	}
	if !run.Manifest.Interrupted || len(run.Manifest.Agents) != 2 {
		t.Fatalf("interrupted=%v, agents %+v", run.Manifest.Interrupted, run.Manifest.Agents)
	}
	for _, a := range run.Manifest.Agents {
		if alive(a.PID) {
			t.Errorf("agent %d (pid %d) survived the interrupt", a.Agent, a.PID)
		}
	}
}
