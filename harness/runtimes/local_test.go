package runtimes_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/targets"
)

// burnBriefly keeps a CPU busy for 60 ms and exits: a child too short-lived
// for any per-process sampler to see.
func burnBriefly() {
	x := 0
	for start := time.Now(); time.Since(start) < 60*time.Millisecond; {
		x++
	}
	_ = x
}

// forkingServer answers /health and, all the while, runs one short-lived
// burning child after another: nearly all of its CPU is spent by processes
// that start and exit between two readings of a 200 ms sampler.
func forkingServer() {
	ln, err := net.Listen("tcp", net.JoinHostPort(os.Getenv("HOST"), os.Getenv("PORT")))
	if err != nil {
		os.Exit(1)
	}
	go func() {
		for {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), "BENCH_TEST_HELPER=burn")
			_ = cmd.Run()
			time.Sleep(40 * time.Millisecond)
		}
	}()
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
}

// The local runtime reads a target's CPU from its cgroup's counter, which
// counts children that exited between two readings; summing /proc per PID
// lost them (about 60% of a CPU here, read as nearly 0).
func TestLocalCountsCPUOfShortLivedChildren(t *testing.T) {
	if cpuset.Available() == "" {
		t.Skip("needs root and a writable cgroup hierarchy")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := &targets.Manifest{Name: "forker", Run: []string{exe}, Health: "/", StartTimeout: "10s", Dir: dir,
		Env: map[string]string{"BENCH_TEST_HELPER": "forking-server"}}
	plan := cpuset.Plan{TargetCPUs: []int{0}, LoaderCPUs: []int{0}, Budget: 1}
	l := &runtimes.Local{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inst, err := l.Start(ctx, m, runtimes.Spec{Plan: plan, QuotaPeriod: 10 * time.Millisecond, LogPath: filepath.Join(dir, "log"), Name: "cpu-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Stop(context.Background()) })

	src := inst.Usage()
	if _, err := src.Read(ctx); err != nil { // the baseline
		t.Fatal(err)
	}
	var cpu float64
	var wall time.Duration
	for i := 0; i < 10; i++ {
		time.Sleep(200 * time.Millisecond)
		r, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cpu += r.CPUSeconds
		wall += r.Interval
	}
	// Children burn 60 ms of every ~100 ms or so; allow for a busy machine.
	if share := cpu / wall.Seconds(); share < 0.2 {
		t.Fatalf("target CPU read as %.0f%% of a CPU; its short-lived children use about 60%%", 100*share)
	}
}
