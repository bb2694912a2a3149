package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/results"
	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/targets"
)

func measureExternal(t *testing.T, ctx context.Context, ext External) (*results.Run, results.Target) {
	t.Helper()
	m, err := ExternalManifest(t.TempDir(), "ext")
	if err != nil {
		t.Fatal(err)
	}
	run, dir, err := MeasureExternal(ctx, Options{Targets: []*targets.Manifest{m}, Profile: tinyProfile(), Scenario: apiScenario(t),
		ResultsDir: t.TempDir(), RunID: "test-external", Progress: testProgress(t)}, ext)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "summary.csv")); err != nil {
		t.Errorf("no summary.csv: %v", err)
	}
	if len(run.Targets) != 1 {
		t.Fatalf("%d targets, want 1", len(run.Targets))
	}
	tr := run.Targets[0]
	if tr.Status != results.StatusOK {
		t.Fatalf("status %s: %s", tr.Status, tr.Reason)
	}
	if run.Manifest.Runtime != "external" || tr.Runtime != "external" {
		t.Errorf("runtime %q / %q, want external", run.Manifest.Runtime, tr.Runtime)
	}
	return run, tr
}

// TestMeasureExternalPID measures a server the harness did not start, by
// URL and PID: the full pipeline runs, CPU and RSS come from its process
// tree, the loader keeps off its CPU, and the server is left running.
func TestMeasureExternalPID(t *testing.T) {
	cpus, err := cpuset.Given()
	if err != nil || len(cpus) < 2 {
		t.Skip("needs 2 CPUs")
	}
	url, srv := startHelperServer(t, "taskset", "-c", fmt.Sprint(cpus[0]))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, tr := measureExternal(t, ctx, External{URL: url, PID: srv.Pid})
	if run.Manifest.TargetCPUs != fmt.Sprint(cpus[0]) || strings.Contains(run.Manifest.LoaderCPUs, fmt.Sprint(cpus[0])) {
		t.Errorf("target CPUs %s, loader CPUs %s: want the server's CPU %d for the target only", run.Manifest.TargetCPUs, run.Manifest.LoaderCPUs, cpus[0])
	}
	if tr.Fixed.CPUPct <= 0 || tr.Fixed.Sample.RSSMeanMB <= 0 || tr.Peak.Peak <= 0 {
		t.Errorf("fixed CPU %.1f%%, RSS %.1f MB, peak %.0f: want all positive", tr.Fixed.CPUPct, tr.Fixed.Sample.RSSMeanMB, tr.Peak.Peak)
	}
	if !alive(srv.Pid) {
		t.Error("the harness stopped a server it did not start")
	}
}

// TestMeasureExternalContainer measures a running container by URL and
// container id: CPU and memory from its cgroup, its CPU limit as the budget.
func TestMeasureExternalContainer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cli, err := runtimes.NewClient(ctx)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have a Docker engine (.ci/run starts one): %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	t.Setenv("BENCH_CACHE", t.TempDir())
	dir := filepath.Join(t.TempDir(), "targets")
	if err := os.MkdirAll(filepath.Join(dir, "boxed"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The server, this test binary, goes into the target for the image.
	self, _ := os.Executable()
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "boxed", "server"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	y := "name: boxed\nlanguage: Go\nframework: test double\nsources: [server]\nbuild: cp server \"$OUT/server\"\n" +
		"run: [\"$OUT/server\", \"-test.run=^$\"]\nhealth: /health\nenv: {BENCH_TEST_HELPER: contract-server}\n"
	if err := os.WriteFile(filepath.Join(dir, "boxed", "target.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := targets.Load(filepath.Join(dir, "boxed"))
	if err != nil {
		t.Fatal(err)
	}
	d := &runtimes.Docker{InstallMissing: true, Images: runtimes.ImagesOffline}
	t.Cleanup(func() {
		for _, tag := range []string{"bench-boxed:offline", "bench-boxed:latest"} {
			_, _ = cli.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		}
	})
	logPath := filepath.Join(t.TempDir(), "boxed.log")
	if err := d.Prepare(ctx, m, logPath); err != nil {
		t.Fatal(err)
	}
	plan, err := PlanFor(tinyProfile())
	if err != nil {
		t.Skip(err)
	}
	runID := fmt.Sprintf("test-ext-%d", time.Now().UnixNano())
	inst, err := d.Start(ctx, m, runtimes.Spec{Plan: plan, QuotaPeriod: 10 * time.Millisecond, LogPath: logPath, Name: runID + "-boxed"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = inst.Stop(context.Background())
		if ids, _ := runtimes.ListRun(context.Background(), cli, runID); len(ids) > 0 {
			t.Errorf("container left: %v", ids)
		}
	}()
	id := inst.(interface{ ContainerID() string }).ContainerID()

	run, tr := measureExternal(t, ctx, External{URL: inst.URL(), Container: id})
	if tr.VCPUs < plan.Budget-0.01 || tr.VCPUs > plan.Budget+0.01 || run.Manifest.TargetCPUs != cpuset.List(plan.TargetCPUs) {
		t.Errorf("budget %.3f on CPUs %s, want the container's %.3f on %s", tr.VCPUs, run.Manifest.TargetCPUs, plan.Budget, cpuset.List(plan.TargetCPUs))
	}
	if tr.Fixed.CPUPct <= 0 || tr.Fixed.Sample.RSSMeanMB <= 0 {
		t.Errorf("fixed CPU %.1f%%, RSS %.1f MB: want both read from the container", tr.Fixed.CPUPct, tr.Fixed.Sample.RSSMeanMB)
	}
	if !strings.Contains(tr.Pinning, "cgroup") {
		t.Errorf("pinning %q: want the container's cgroup as the sample source", tr.Pinning)
	}
	select {
	case <-inst.Done():
		t.Error("the container stopped: the harness must leave an external server running")
	default:
	}
}
