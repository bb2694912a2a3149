package agent_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/agent"
	"github.com/benchharness/harness/harness/calibrate"
	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/scenario"
)

// The test binary is also the agent: Local starts `<exe> agent …`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "agent" || os.Args[1] == "refserver") {
		serve := func() error { return agent.Serve(context.Background(), os.Args[2:], os.Stdin, os.Stdout, nil) }
		if os.Args[1] == "refserver" {
			serve = func() error { return calibrate.ServeCommand(context.Background(), os.Args[2:], os.Stdout) }
		}
		if err := serve(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var jsonOnly = &scenario.Scenario{Name: "json", Requests: []scenario.Request{{Weight: 1, Method: "GET", Path: "/json"}}}

// The reference server gets the first CPU and the agents the rest, as a
// bench splits them; on one CPU they share it.
func cpus(t *testing.T) (server, loader []int) {
	t.Helper()
	all, err := cpuset.Given()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 2 {
		return all, all
	}
	return all[:1], all[1:]
}

func startLocal(t *testing.T, n int) *agent.Local {
	t.Helper()
	_, loader := cpus(t)
	l, err := agent.StartLocal(context.Background(), os.Args[0], agent.Groups(loader, n), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// serve starts the calibration's reference server with an injected service
// time: what a loader reports against it is that time plus its own.
func serve(t *testing.T, delay time.Duration) string {
	t.Helper()
	server, _ := cpus(t)
	srv, err := calibrate.StartProcess(context.Background(), os.Args[0], calibrate.ServerConfig{Delay: delay}, server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv.URL()
}

func command(url string, rate float64, d time.Duration) agent.Command {
	return agent.Command{URL: url, Scenario: jsonOnly, Rate: rate, Duration: scenario.Duration(d),
		Loader: scenario.Loader{Workers: 8, MaxWorkers: 64, Connections: 64, Timeout: scenario.Duration(2 * time.Second), SpinBelow: 2500}}
}

// Two agents at R/2 each report the same latencies as one agent at R:
// against a server that holds every request 2 ms, both are the service time
// plus a loader's wake-up (agents that share a CPU do not busy-wait, so up
// to 0.3 ms at p50 here), and they agree within twice the loader's
// precision goal (0.1 ms at p50, 0.2 at p95): parked on CPUs that halt when
// idle, as a test leaves them, a loader wakes 30-100 µs late, and one
// agent's p50 alone moved by 0.08 ms between two CI runs (2.081, 2.161).
// The merge itself is exact (load's TestTallyMergeIsOneTally).
// One retry: a CI machine's neighbours can spoil one 2 s run.
func TestTwoAgentsMeasureAsOne(t *testing.T) {
	const delay = 2 * time.Millisecond
	url := serve(t, delay)
	var problems []string
	for range 2 {
		if problems = compareOneAndTwo(t, url, delay); len(problems) == 0 {
			return
		}
		t.Logf("retrying: %s", strings.Join(problems, "; "))
	}
	t.Fatal(strings.Join(problems, "; "))
}

func compareOneAndTwo(t *testing.T, url string, delay time.Duration) (problems []string) {
	rate, d := 400.0, 2*time.Second
	// Two agents on one CPU do not busy-wait (Local.shared); both runs are
	// held to the same, so that they measure the same way.
	cmd := command(url, rate, d)
	cmd.Loader.SpinBelow = 0
	one, err := startLocal(t, 1).Step(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	two, err := startLocal(t, 2).Step(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	if len(two.Agents) != 2 || two.Agents[0].Offered != rate/2 || two.Agents[1].Requests == 0 {
		t.Fatalf("two agents' figures: %+v", two.Agents)
	}
	service := float64(delay) / 1e6
	t.Logf("one agent: p50 %.3f p95 %.3f p99 %.3f ms; two: p50 %.3f p95 %.3f p99 %.3f ms, agents began %+.3f / %+.3f ms after the instant",
		one.Step.Corrected.P50, one.Step.Corrected.P95, one.Step.Corrected.P99, two.Step.Corrected.P50, two.Step.Corrected.P95, two.Step.Corrected.P99,
		two.Agents[0].StartOffsetMS, two.Agents[1].StartOffsetMS)
	for i, m := range []agent.Merged{one, two} {
		if want := uint64(rate * d.Seconds()); m.Step.Requests < want*98/100 || m.Step.Success != 1 {
			t.Fatalf("step sent %d requests (success %.4f), want about %d all answered", m.Step.Requests, m.Step.Success, want)
		}
		if p50, p95 := m.Step.Corrected.P50-service, m.Step.Corrected.P95-service; p50 < 0 || p50 > 0.3 || p95 > 0.5 {
			problems = append(problems, fmt.Sprintf("%d agent(s): p50 %.3f p95 %.3f ms over a %.1f ms service time, want ≤ 0.3 / 0.5", i+1, p50, p95, service))
		}
	}
	if d50, d95 := math.Abs(one.Step.Corrected.P50-two.Step.Corrected.P50), math.Abs(one.Step.Corrected.P95-two.Step.Corrected.P95); d50 > 0.1 || d95 > 0.2 {
		problems = append(problems, fmt.Sprintf("one agent p50/p95 %.3f/%.3f ms, two agents %.3f/%.3f ms", one.Step.Corrected.P50, one.Step.Corrected.P95,
			two.Step.Corrected.P50, two.Step.Corrected.P95))
	}
	if math.Abs(one.Step.Achieved-two.Step.Achieved) > rate*0.02 {
		problems = append(problems, fmt.Sprintf("achieved: one agent %.1f req/s, two %.1f", one.Step.Achieved, two.Step.Achieved))
	}
	return problems
}

// An agent killed before its report fails the step, naming it.
func TestKilledAgentFailsStep(t *testing.T) {
	url := serve(t, 0)
	l := startLocal(t, 2)
	if _, err := l.Step(context.Background(), command(url, 100, 300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	victim := l.Agents()[1]
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, err := l.Step(context.Background(), command(url, 100, 300*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("agent 1 (pid %d", victim.PID)) || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("step with a killed agent: %v, want a failure naming agent 1 and how it ended", err)
	}
}

// A start instant already past is refused by every agent: they could not
// have started together.
func TestLateStartRefused(t *testing.T) {
	url := serve(t, 0)
	l := startLocal(t, 2)
	cmd := command(url, 100, 300*time.Millisecond)
	cmd.StartAt = time.Now().Add(-50 * time.Millisecond)
	_, err := l.Step(context.Background(), cmd)
	if err == nil || !strings.Contains(err.Error(), "agent 0") || !strings.Contains(err.Error(), "ago") {
		t.Fatalf("step due in the past: %v, want each agent's refusal", err)
	}
}

// Reports of agents that began further apart than StartTolerance are
// refused; within it they merge.
func TestMergeRefusesAgentsStartedApart(t *testing.T) {
	at := time.Now()
	report := func(i int, offset time.Duration) agent.Report {
		return agent.Report{Agent: i, Seq: 1, PID: 100 + i, Rate: 50, StartAt: at, Began: at.Add(offset), Tally: load.NewTally()}
	}
	for _, tc := range []struct {
		offsets []time.Duration
		refused bool
	}{
		{[]time.Duration{0, 40 * time.Microsecond}, false},
		{[]time.Duration{time.Millisecond, agent.StartTolerance}, false},
		{[]time.Duration{0, agent.StartTolerance + time.Millisecond}, true},
		{[]time.Duration{0, 0, 30 * time.Millisecond}, true},
	} {
		var rs []agent.Report
		for i, o := range tc.offsets {
			rs = append(rs, report(i, o))
		}
		_, err := agent.Merge(at, 100, rs)
		if refused := err != nil && strings.Contains(err.Error(), "refused"); refused != tc.refused {
			t.Errorf("offsets %v: err %v, want refused=%v", tc.offsets, err, tc.refused)
		}
	}
}

// An agent's error fails the merge and is passed on.
func TestMergePassesAgentErrors(t *testing.T) {
	at := time.Now()
	_, err := agent.Merge(at, 100, []agent.Report{
		{Agent: 0, StartAt: at, Began: at, Tally: load.NewTally()},
		{Agent: 1, PID: 7, StartAt: at, Error: "dial tcp: connection refused"},
	})
	if err == nil || !strings.Contains(err.Error(), "agent 1") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("merge with a failed agent: %v", err)
	}
}
