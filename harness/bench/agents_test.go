package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/calibrate"
	"github.com/benchharness/harness/harness/cpuset"
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

// harnessSide gives each instance a LocalURL, as a cluster's does: a proxy
// to it that counts what goes through it.
type harnessSide struct {
	*runtimes.Local
	t     *testing.T
	calls *atomic.Int64
}

type forwarded struct {
	runtimes.Instance
	local string
}

func (f forwarded) LocalURL() string { return f.local }

func (r harnessSide) Start(ctx context.Context, m *targets.Manifest, spec runtimes.Spec) (runtimes.Instance, error) {
	inst, err := r.Local.Start(ctx, m, spec)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(inst.URL())
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.calls.Add(1)
		proxy.ServeHTTP(w, req)
	}))
	r.t.Cleanup(srv.Close)
	return forwarded{inst, srv.URL}, nil
}

// A cluster run's hooks, without a cluster: a plan given rather than sized
// to this machine, a loader started by the caller, a capacity from
// elsewhere, and the contract checked through the instance's LocalURL while
// the load goes to its URL.
func TestRunWithGivenPlanFleetAndLocalURL(t *testing.T) {
	root := t.TempDir()
	writeTarget(t, root, "good", "", nil)
	all, err := targets.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	cpus, err := cpuset.Given()
	if err != nil {
		t.Fatal(err)
	}
	fleet, err := StartAgents(context.Background(), os.Args[0], cpus, 1, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	run, _, err := Run(context.Background(), Options{Targets: all, Profile: tinyProfile(), Scenario: apiScenario(t),
		Runtime: harnessSide{&runtimes.Local{}, t, &calls}, ResultsDir: t.TempDir(), RunID: "given-" + strconv.Itoa(os.Getpid()),
		Progress: testProgress(t), Plan: &cpuset.Plan{Budget: 1, TargetCPUs: cpus}, Fleet: fleet,
		Capacity: 1234, CapacitySource: "a test"})
	if err != nil {
		t.Fatal(err)
	}
	good, man := run.Targets[0], run.Manifest
	if good.Status != "ok" || good.Verify == nil || !good.Verify.OK() {
		t.Fatalf("good: %s %s", good.Status, good.Reason)
	}
	if calls.Load() < int64(len(good.Verify.Checks)) {
		t.Errorf("%d requests through the local URL for %d contract checks", calls.Load(), len(good.Verify.Checks))
	}
	if man.LoaderCPUs != "" || man.LoaderCapacity() != 1234 || man.AssumedCapacitySource != "a test" || len(man.Agents) != 1 {
		t.Errorf("manifest: loader CPUs %q, capacity %.0f from %q, %d agents", man.LoaderCPUs, man.LoaderCapacity(), man.AssumedCapacitySource, len(man.Agents))
	}
	if good.Peak.Bound == peak.BoundTarget && good.Peak.Peak > 1234 {
		t.Errorf("peak %.0f labelled the target's, above the given capacity", good.Peak.Peak)
	}
}

// Left to choose, the loader runs as agents only where they calibrated
// to a higher capacity than one process.
func TestPreferAgents(t *testing.T) {
	cal := func(c float64) *calibrate.Result { return &calibrate.Result{Capacity: c} }
	for _, tc := range []struct {
		name              string
		inProcess, agents *calibrate.Result
		want              bool
	}{
		{"agents faster", cal(20000), cal(38000), true},
		{"one process faster", cal(30000), cal(25000), false},
		{"a tie keeps one process", cal(30000), cal(30000), false},
		{"agents' calibration failed", cal(30000), nil, false},
		{"in-process calibration failed", nil, cal(1000), true},
	} {
		got, why := preferAgents(tc.inProcess, tc.agents, 2)
		if got != tc.want || why == "" {
			t.Errorf("%s: agents=%v (%q), want %v", tc.name, got, why, tc.want)
		}
	}
}

// With several loader CPUs and LOADERS unset, a run calibrates the loader
// both ways and keeps the one of higher capacity, which the manifest says.
func TestRunChoosesTheLoaderByCalibration(t *testing.T) {
	cpus, err := cpuset.Given()
	if err != nil {
		t.Fatal(err)
	}
	if len(cpus) < 2 {
		t.Skip("needs 2 CPUs")
	}
	p := tinyProfile()
	p.Search.MaxRate = 4000 // two short calibrations, not two capacity searches up to 200K
	run, _, err := Run(context.Background(), Options{Profile: p, Scenario: apiScenario(t), Runtime: &runtimes.Local{},
		ResultsDir: t.TempDir(), RunID: "choose-" + strconv.Itoa(os.Getpid()), Progress: testProgress(t), HarnessExe: os.Args[0],
		Loaders: AutoLoaders, Calibrate: true, Plan: &cpuset.Plan{Budget: 1, TargetCPUs: cpus[:1], LoaderCPUs: cpus}})
	if err != nil {
		t.Fatal(err)
	}
	// The loader CPUs here include the reference server's, so either
	// calibration may fail (an agent sharing the server's CPU starts late
	// and is refused); what is checked is that the choice and the record
	// agree.
	man := run.Manifest
	if man.LoaderChoice == "" {
		t.Fatal("no loader choice recorded")
	}
	agents := strings.HasPrefix(man.LoaderChoice, strconv.Itoa(len(cpus))+" agents")
	if want := map[bool]int{true: len(cpus), false: 0}[agents]; len(man.Agents) != want {
		t.Errorf("choice %q, but %d agents recorded", man.LoaderChoice, len(man.Agents))
	}
	if strings.Contains(man.LoaderChoice, " against ") &&
		(man.Calibration == nil || !strings.Contains(man.LoaderChoice, strconv.FormatFloat(man.Calibration.Capacity, 'f', 0, 64)+" req/s against")) {
		t.Errorf("choice %q does not lead with the kept calibration's capacity (%+v)", man.LoaderChoice, man.Calibration)
	}
}
