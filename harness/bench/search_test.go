package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/peak"
	"github.com/benchharness/harness/harness/sample"
	"github.com/benchharness/harness/harness/scenario"
)

var jsonOnly = &scenario.Scenario{Name: "json", Requests: []scenario.Request{{Name: "json", Weight: 1, Method: "GET", Path: "/json"}}}

var testLoader = scenario.Loader{Workers: 8, MaxWorkers: 256, Connections: 256, Timeout: scenario.Duration(2 * time.Second)}

func searchConfig(start float64) peak.Config {
	return peak.Config{Start: start, Max: 100000, Growth: 2, Precision: 0.04, MaxSteps: 12,
		Criteria: peak.Criteria{SLOP95: 50 * time.Millisecond, MinSuccess: 0.999, MinAchieved: 0.98, LoaderGuard: 0.85}}
}

func search(t *testing.T, url string, target *sample.Sampler, budget float64, cfg peak.Config, step time.Duration) peak.Result {
	t.Helper()
	ctx := context.Background()
	obs, err := StartObserver(ctx, load.NewMix(url, jsonOnly), testLoader, target, budget, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	res, err := peak.Search(ctx, cfg, func(ctx context.Context, rate float64) (peak.Observation, error) {
		o, _, err := obs.Observe(ctx, rate, step)
		return o, err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Steps {
		added := "-"
		if s.LoaderAdded != nil {
			added = fmt.Sprintf("%.2f ms", s.LoaderAdded.P95)
		}
		t.Logf("%-7s %6.0f req/s: achieved %6.0f success %.4f p95 %6.2f ms loader %3.0f%% (sentinel p95 %s) target %3.0f%% pass=%v %s",
			s.Phase, s.Rate, s.Step.Achieved, s.Step.Success, s.Step.Corrected.P95, 100*s.LoaderCPU, added, 100*s.TargetCPU, s.Verdict.Pass, s.Verdict.Reason)
	}
	return res
}

// A server with a known capacity: a token bucket that answers 503 above
// it (the "fails" kind) or makes the request wait (the "queues" kind).
func limited(capacity float64, queue bool) http.Handler {
	lim := rate.NewLimiter(rate.Limit(capacity), int(capacity/50))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if queue {
			if err := lim.Wait(r.Context()); err != nil {
				return
			}
		} else if !lim.Allow() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"message":"Hello, World!"}`))
	})
}

func TestSearchFindsKnownCapacity(t *testing.T) {
	const capacity = 2000
	for _, queue := range []bool{false, true} {
		t.Run(fmt.Sprintf("queue=%v", queue), func(t *testing.T) {
			srv := httptest.NewServer(limited(capacity, queue))
			t.Cleanup(srv.Close)
			res := search(t, srv.URL, nil, 1, searchConfig(500), time.Second)
			if res.Peak < 0.9*capacity || res.Peak > 1.1*capacity {
				t.Fatalf("peak %.0f req/s, want within 10%% of %d (%s)", res.Peak, capacity, res.Note)
			}
			if res.Bound != peak.BoundTarget {
				t.Fatalf("bound %q, want target: %s", res.Bound, res.Note)
			}
		})
	}
}

func TestSearchReportsLoaderBound(t *testing.T) {
	if cpuset.Available() == "" {
		t.Skip("needs root and a writable cgroup hierarchy to hold the loader to a small CPU share")
	}
	// The server is a separate, unrestricted process: it can serve far more
	// than the loader, held to 10% of one CPU, can send.
	url, srv := startHelperServer(t)
	tsamp := sample.Start(context.Background(), sample.NewProcesses(sample.Tree(int32(srv.Pid))), 100*time.Millisecond)
	t.Cleanup(tsamp.Stop)
	holdSelf(t, 0.1)
	// The guard as a profile sets it, CPU and the sentinel's latency: a
	// loader held to 10% of a CPU read 84-86% of it at the rates where it
	// failed (CI, once), just under the CPU guard, while its own queue,
	// which the sentinel reads, made the target look slow.
	cfg := searchConfig(250)
	cfg.Criteria.LoaderLatencyGuard = 0.1
	res := search(t, url, tsamp, 1, cfg, 1500*time.Millisecond)
	if res.Bound != peak.BoundLoader {
		t.Fatalf("bound %q with the loader at 10%% of a CPU, want loader (%s)", res.Bound, res.Note)
	}
}

// holdSelf moves this test process into a cgroup with a CPU quota and moves
// it back at cleanup, before the cgroup is removed.
func holdSelf(t *testing.T, quota float64) {
	t.Helper()
	cpus, _ := cpuset.Given()
	g, err := cpuset.New(fmt.Sprintf("bench-test-loader-%d", os.Getpid()), cpuset.Limits{CPUs: cpus, Quota: quota, Period: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(os.Getpid())
	for _, f := range g.JoinFiles() {
		if err := os.WriteFile(f, []byte(pid), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, f := range g.JoinFiles() {
			parent := filepath.Join(filepath.Dir(filepath.Dir(f)), "cgroup.procs")
			if err := os.WriteFile(parent, []byte(pid), 0o644); err != nil {
				t.Fatalf("leave cgroup: %v", err) // never Remove: it would kill this process
			}
		}
		if err := g.Remove(); err != nil {
			t.Error(err)
		}
	})
	if c := cpuset.Capacity(); c > quota*1.01 {
		t.Fatalf("capacity %.2f after joining a %.2f quota", c, quota)
	}
}
