package runtimes_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/verify"
)

func runID(t *testing.T) string {
	return fmt.Sprintf("test-%d-%s", time.Now().UnixNano(), strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")))
}

// TestDockerPaths builds the tiny target both ways, runs it pinned on the
// host network, verifies it, loads it, reads CPU and memory from the
// container, and checks that Stop leaves nothing behind.
func TestDockerPaths(t *testing.T) {
	cli := engine(t)
	t.Setenv("BENCH_CACHE", t.TempDir())
	plan := testPlan(t)
	for _, mode := range []string{runtimes.ImagesOffline, runtimes.ImagesAuto} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			m := tinyTarget(t, "tiny", "/health")
			d := &runtimes.Docker{InstallMissing: true, Images: mode, Log: testWriter{t}}
			logPath := filepath.Join(t.TempDir(), "tiny.log")
			if err := d.Prepare(ctx, m, logPath); err != nil {
				t.Fatalf("prepare: %v\n%s", err, readFile(logPath))
			}
			img, _ := d.BuiltImage("tiny")
			// auto picks the Dockerfile: its only base image is local.
			want := map[string]string{runtimes.ImagesOffline: runtimes.ImagesOffline, runtimes.ImagesAuto: runtimes.ImagesDockerfile}[mode]
			if img.Build != want || img.SizeBytes <= 0 {
				t.Fatalf("image %+v, want the %s path and a size", img, want)
			}
			id := runID(t)
			inst, err := d.Start(ctx, m, runtimes.Spec{Plan: plan, QuotaPeriod: 10 * time.Millisecond, MemoryBytes: 256 << 20,
				LogPath: logPath, Name: id + "-tiny"})
			if err != nil {
				t.Fatalf("start: %v\n%s", err, readFile(logPath))
			}
			defer assertNoContainers(t, cli, id)
			defer inst.Stop(context.Background())

			ids, err := runtimes.ListRun(ctx, cli, id)
			if err != nil || len(ids) != 1 {
				t.Fatalf("containers of run %s: %v %v, want one", id, ids, err)
			}
			insp, err := cli.ContainerInspect(ctx, ids[0], client.ContainerInspectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			hc := insp.Container.HostConfig
			if hc.NetworkMode != "host" || hc.CpusetCpus != cpuset.List(plan.TargetCPUs) || hc.Memory != 256<<20 {
				t.Errorf("host config: network %s cpuset %q memory %d; want host, %s, 256 MiB", hc.NetworkMode, hc.CpusetCpus, hc.Memory, cpuset.List(plan.TargetCPUs))
			}
			if plan.Budget < 1 && (hc.CPUPeriod != 10000 || hc.CPUQuota != int64(plan.Budget*10000)) {
				t.Errorf("CPU quota %d/%d µs, want %.0f/10000", hc.CPUQuota, hc.CPUPeriod, plan.Budget*10000)
			}
			if insp.Container.Config.User == "" || insp.Container.Config.User == "root" || insp.Container.Config.User == "0" {
				t.Errorf("container runs as %q, want a non-root user", insp.Container.Config.User)
			}
			if !strings.HasPrefix(inst.URL(), "http://127.0.0.1:") {
				t.Errorf("URL %s, want loopback", inst.URL())
			}

			if rep := verify.Target(ctx, inst.URL()); !rep.OK() {
				t.Fatalf("verify: %s", rep.Problems())
			}
			step, st := measure(t, ctx, inst.URL(), inst.Usage(), 300, 2*time.Second)
			if step.Success < 0.999 {
				t.Errorf("success %.4f under a light fixed rate", step.Success)
			}
			if st.Samples == 0 || st.CPUMean <= 0 || st.RSSMeanMB <= 0 {
				t.Errorf("container sample %+v: want positive CPU and memory", st)
			}
			t.Logf("%s path: %s; %d samples, CPU %.1f%% of one CPU, RSS %.1f MB", img.Build, inst.Pinning(), st.Samples, st.CPUMean, st.RSSMeanMB)
			if err := inst.Stop(ctx); err != nil {
				t.Errorf("stop: %v", err)
			}
			select {
			case <-inst.Done():
			case <-time.After(10 * time.Second):
				t.Error("Done not closed after Stop")
			}
		})
	}
}

// TestDockerStartCancelled is Ctrl-C while a container is starting: Start
// returns and the container is gone.
func TestDockerStartCancelled(t *testing.T) {
	cli := engine(t)
	t.Setenv("BENCH_CACHE", t.TempDir())
	m := tinyTarget(t, "never", "/never-healthy") // 404 forever
	d := &runtimes.Docker{InstallMissing: true, Images: runtimes.ImagesOffline}
	logPath := filepath.Join(t.TempDir(), "never.log")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := d.Prepare(ctx, m, logPath); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	id := runID(t)
	startCtx, interrupt := context.WithCancel(ctx)
	time.AfterFunc(3*time.Second, interrupt)
	began := time.Now()
	inst, err := d.Start(startCtx, m, runtimes.Spec{Plan: testPlan(t), LogPath: logPath, Name: id + "-never"})
	if err == nil {
		inst.Stop(context.Background())
		t.Fatal("Start succeeded against a health check that never passes")
	}
	if time.Since(began) > 15*time.Second {
		t.Errorf("Start took %s to notice the interrupt", time.Since(began))
	}
	assertNoContainers(t, cli, id)
}

// TestSweepOrphans: a container labelled by a harness process that is gone
// is removed by the next Docker runtime; one of a live process is kept.
func TestSweepOrphans(t *testing.T) {
	cli := engine(t)
	ctx := context.Background()
	id := runID(t)
	mk := func(owner string) string {
		labels := runtimes.Labels(id, "orphan")
		labels[runtimes.LabelOwner] = owner
		res, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
			Config:     &container.Config{Image: runtimes.DefaultBaseImage, Cmd: []string{"true"}, Labels: labels},
			HostConfig: &container.HostConfig{NetworkMode: "none"},
		})
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("create a container from %s (.ci/run builds it): %v", runtimes.DefaultBaseImage, err)
			}
			t.Skipf("create a container from %s (make docker-base): %v", runtimes.DefaultBaseImage, err)
		}
		return res.ID
	}
	host, _ := os.Hostname()
	dead := mk(host + ":999999999") // above any pid_max
	live := mk(runtimes.Labels(id, "x")[runtimes.LabelOwner])
	defer runtimes.RemoveRun(ctx, cli, id)
	if _, err := runtimes.SweepOrphans(ctx, cli); err != nil {
		t.Fatal(err)
	}
	ids, err := runtimes.ListRun(ctx, cli, id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ids, []string{live}) {
		t.Errorf("after the sweep: %v, want only the live owner's %s (dead owner's: %s)", ids, live, dead)
	}
	if n, err := runtimes.RemoveRun(ctx, cli, id); err != nil || n != 1 {
		t.Errorf("RemoveRun: %d, %v", n, err)
	}
	assertNoContainers(t, cli, id)
}

func TestBaseImages(t *testing.T) {
	dir := t.TempDir()
	df := filepath.Join(dir, "Dockerfile")
	body := `# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22.5
ARG DEBIAN_VERSION=bookworm-20240701-slim
ARG BUILDER="golang:${GO_VERSION}-bookworm"
FROM --platform=$BUILDPLATFORM ${BUILDER} AS build
RUN go build
FROM build AS test
FROM gcr.io/distroless/base-debian12:nonroot \
  AS run
FROM scratch
FROM debian:${DEBIAN_VERSION}
`
	if err := os.WriteFile(df, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := runtimes.BaseImages(df)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"golang:1.22.5-bookworm", "gcr.io/distroless/base-debian12:nonroot", "debian:bookworm-20240701-slim"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("BaseImages = %q, want %q", got, want)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
