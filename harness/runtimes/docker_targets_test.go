package runtimes_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/targets"
	"github.com/benchharness/harness/harness/verify"
)

// TestDockerReferenceTargets builds the chi and fastify images (by their
// Dockerfiles where the base images can be had, else offline), starts each
// with testcontainers-go in the quick profile's budget, verifies it against
// the contract, runs a short fixed rate, and checks that CPU and memory were
// read from the container and that no container is left.
func TestDockerReferenceTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds chi and fastify; run without -short")
	}
	cli := engine(t)
	plan := testPlan(t)
	for _, name := range []string{"chi", "fastify"} {
		t.Run(name, func(t *testing.T) {
			m, err := targets.Load(filepath.Join("..", "..", "targets", name))
			if err != nil {
				t.Fatalf("targets/%s: %v", name, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
			defer cancel()
			d := &runtimes.Docker{InstallMissing: true, Log: testWriter{t}}
			logPath := filepath.Join(t.TempDir(), name+".log")
			if err := d.Prepare(ctx, m, logPath); err != nil {
				t.Fatalf("prepare: %v\n%s", err, readFile(logPath))
			}
			img, _ := d.BuiltImage(name)
			id := runID(t)
			inst, err := d.Start(ctx, m, runtimes.Spec{Plan: plan, QuotaPeriod: 10 * time.Millisecond, LogPath: logPath, Name: id + "-" + name})
			if err != nil {
				t.Fatalf("start: %v\n%s", err, readFile(logPath))
			}
			defer assertNoContainers(t, cli, id)
			defer inst.Stop(context.Background())

			if rep := verify.Target(ctx, inst.URL()); !rep.OK() {
				t.Fatalf("verify: %s", rep.Problems())
			}
			rate := 1250 * plan.Budget // the quick profile's fixed rate
			step, st := measure(t, ctx, inst.URL(), inst.Usage(), rate, 3*time.Second)
			if step.Success < 0.999 {
				t.Errorf("fixed rate %.0f/s: success %.4f", rate, step.Success)
			}
			if st.Samples == 0 || st.CPUMean <= 0 || st.RSSMeanMB <= 0 {
				t.Errorf("container sample %+v: want positive CPU and memory", st)
			}
			t.Logf("%s: image %s (%s path, %.0f MB); %.0f req/s p95 %.2f ms; CPU %.0f%% of budget, RSS %.1f MB; %s", name, img.Tag, img.Build,
				img.SizeMB(), rate, step.Corrected.P95, st.CPUMean/plan.Budget, st.RSSMeanMB, inst.Pinning())
			if err := inst.Stop(ctx); err != nil {
				t.Errorf("stop: %v", err)
			}
		})
	}
}
