package runtimes_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/benchharness/harness/harness/contract"
	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/sample"
	"github.com/benchharness/harness/harness/scenario"
	"github.com/benchharness/harness/harness/targets"
)

// TestMain lets the test binary double as a tiny target: with
// BENCH_TEST_HELPER=contract-server it serves the reference handler on
// $HOST:$PORT, inside a container as anywhere else.
func TestMain(m *testing.M) {
	switch os.Getenv("BENCH_TEST_HELPER") {
	case "burn":
		burnBriefly()
		return
	case "forking-server":
		forkingServer()
		return
	}
	if os.Getenv("BENCH_TEST_HELPER") == "contract-server" {
		host := os.Getenv("HOST")
		if host == "" {
			host = "127.0.0.1"
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, os.Getenv("PORT")))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("helper listening on", ln.Addr())
		_ = http.Serve(ln, contract.Handler())
		return
	}
	os.Exit(m.Run())
}

// engine connects to the Docker engine. Without one the test is skipped on
// a developer's machine, but fails under CI, whose .ci/run starts dockerd
// first: the container runtime's tests must not pass by not running.
func engine(t *testing.T) client.APIClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cli, err := runtimes.NewClient(ctx)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have a Docker engine (.ci/run starts one with scripts/docker-up.sh): %v", err)
		}
		t.Skipf("no Docker engine (make docker-up starts one): %v", err)
	}
	return cli
}

// tinyTarget makes a target folder whose server is this test binary: its
// build copies the binary into $OUT (the offline path), and its Dockerfile
// copies it onto the base image (the Dockerfile path, whose only base image
// is the local bench-base, so no registry is needed).
func tinyTarget(t *testing.T, name, health string) *targets.Manifest {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, self, filepath.Join(dir, "server"), 0o755)
	write := func(file, body string) {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("target.yaml", fmt.Sprintf(`name: %s
language: Go
framework: net/http (test helper)
sources: [server]
build: cp server "$OUT/server"
run: ["$OUT/server", "-test.run=^$"]
env: {BENCH_TEST_HELPER: contract-server}
health: %s
start_timeout: 20s
`, name, health))
	write("Dockerfile", fmt.Sprintf(`ARG BASE=%s
FROM ${BASE} AS run
COPY server /app/server
ENV BENCH_TEST_HELPER=contract-server
USER 10001:10001
CMD ["/app/server", "-test.run=^$"]
`, runtimes.DefaultBaseImage))
	m, err := targets.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeImages(name) })
	return m
}

// removeImages removes a test target's images, so tests leave no image
// behind either.
func removeImages(name string) {
	ctx := context.Background()
	cli, err := runtimes.NewClient(ctx)
	if err != nil {
		return
	}
	for _, tag := range []string{runtimes.ImagesOffline, runtimes.ImagesDockerfile, "latest"} {
		_, _ = cli.ImageRemove(ctx, "bench-"+name+":"+tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// testPlan is the quick profile's split on any machine with 2+ CPUs: a
// third of the first CPU for the target, the rest for the loader.
func testPlan(t *testing.T) cpuset.Plan {
	t.Helper()
	cpus, err := cpuset.Given()
	if err != nil {
		t.Fatal(err)
	}
	plan, err := cpuset.Auto(cpus, 3)
	if err != nil {
		t.Skip(err)
	}
	return plan
}

// measure runs a short fixed rate against url while sampling src, and
// returns the load step and the target's sample stats.
func measure(t *testing.T, ctx context.Context, url string, src sample.Source, rate float64, d time.Duration) (load.Step, sample.Stats) {
	t.Helper()
	scen, err := scenario.LoadScenario(filepath.Join("..", "..", "scenarios"), "api")
	if err != nil {
		t.Fatal(err)
	}
	every := 100 * time.Millisecond
	s := sample.Start(ctx, src, every)
	defer s.Stop()
	time.Sleep(2 * every) // the first read only sets the CPU baseline
	from := time.Now()
	step, err := load.Attack(ctx, load.NewMix(url, scen), load.Config{Rate: rate, Duration: d, Workers: 8, MaxWorkers: 64, Connections: 64, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("fixed-rate run: %v", err)
	}
	st := s.Between(from, time.Now())
	if err := s.Err(); err != nil && st.Samples == 0 {
		t.Fatalf("sampling: %v", err)
	}
	return step, st
}

// assertNoContainers fails when run runID left any container behind.
func assertNoContainers(t *testing.T, cli client.APIClient, runID string) {
	t.Helper()
	ids, err := runtimes.ListRun(context.Background(), cli, runID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) > 0 {
		t.Errorf("run %s left %d container(s): %v", runID, len(ids), ids)
		_, _ = runtimes.RemoveRun(context.Background(), cli, runID)
	}
}
