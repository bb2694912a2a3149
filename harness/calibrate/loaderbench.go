package calibrate

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/load"
)

// WrkConfig is the independent closed-loop reference the loader is held
// against: Debian's wrk, on the loader's CPUs, against the same server.
type WrkConfig struct {
	Path        string // wrk binary; "wrk" on PATH when empty
	Connections int
	Duration    time.Duration
}

// WrkResult is one wrk run.
type WrkResult struct {
	Threads         int     `json:"threads"`
	Connections     int     `json:"connections"`
	RPS             float64 `json:"rps"`
	CPUPct          float64 `json:"cpu_pct"`
	CPUPerRequestUS float64 `json:"cpu_us_per_request"`
}

// IdleStep is the loader at a light fixed rate, spinning or not.
type IdleStep struct {
	Rate   float64      `json:"rate"`
	Spin   bool         `json:"spin"`
	Added  load.Latency `json:"added_ms"`
	CPUPct float64      `json:"cpu_pct"`
	// WorkCPUPct is CPUPct less the time spent busy-waiting.
	WorkCPUPct float64 `json:"work_cpu_pct"`
}

// LoaderBench is `make loader-bench`: the loader's calibration, wrk's
// throughput against the same reference server on the same CPUs, and the
// loader's cost at light rates with and without its spin.
type LoaderBench struct {
	Calibration Result     `json:"calibration"`
	Wrk         WrkResult  `json:"wrk"`
	Idle        []IdleStep `json:"idle"`
	Ratio       float64    `json:"capacity_over_wrk"`
	// Agents is the same calibration of the loader run as AgentCount agent
	// processes (one per loader CPU: what a bench does by default on
	// several loader CPUs), to show which of the two ways is cheaper.
	Agents     *Result `json:"agents_calibration,omitempty"`
	AgentCount int     `json:"agents,omitempty"`
	// LoaderIdle is how the loader's CPUs idled, for wrk and oha as for the loader.
	LoaderIdle cpuset.IdleRecord `json:"loader_cpu_idle"`
	// Independent is the same calibration (fixed rate, then the capacity
	// search with the same latency bound) of an independent open-model,
	// latency-correcting loader on the same CPUs against the same server;
	// IndependentRatio is the loader's capacity over its. wrk's figure is
	// a closed loop's throughput with no latency bound; this one is the
	// capacity an open-model loader of another make reaches by the
	// definition the loader's own capacity is held to.
	Independent      *Result `json:"independent_calibration,omitempty"`
	IndependentName  string  `json:"independent_loader,omitempty"`
	IndependentSetup string  `json:"independent_loader_setup,omitempty"`
	IndependentRatio float64 `json:"capacity_over_independent,omitempty"`
	// IndependentIdle is that loader at the light rate.
	IndependentIdle *IdleStep `json:"independent_idle,omitempty"`
}

// Agents is a calibration run on loader agents instead of this process:
// how many, and the hook that runs a step on them (Config.Sender).
type Agents struct {
	N    int
	Step Sender
}

// Independent is another make of open-model loader, calibrated as the
// loader is: its name and version, how it was set up, and its steps.
type Independent struct {
	Name  string
	Setup string
	Step  Sender
}

// BenchLoader runs the loader bench with one reference server for all of
// it; with agents, it also calibrates the loader run as agents, and with
// other, that independent loader.
func BenchLoader(ctx context.Context, cfg Config, wrk WrkConfig, idleRate float64, agents *Agents, other *Independent) (LoaderBench, error) {
	var lb LoaderBench
	srv, err := startServer(ctx, cfg)
	if err != nil {
		return lb, fmt.Errorf("loader bench: start the reference server: %w", err)
	}
	defer srv.Stop()
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if lb.Wrk, err = runWrk(ctx, wrk, srv.URL()+"/json", cfg.Plan.LoaderCPUs); err != nil {
		return lb, err
	}
	logf("wrk: %.0f req/s at %.0f%% CPU (%.1f µs/req)", lb.Wrk.RPS, lb.Wrk.CPUPct, lb.Wrk.CPUPerRequestUS)
	if lb.Calibration, err = measure(ctx, cfg, srv); err != nil {
		return lb, err
	}
	if lb.Wrk.RPS > 0 {
		lb.Ratio = lb.Calibration.Capacity / lb.Wrk.RPS
	}
	if agents != nil {
		ac := cfg
		ac.Sender = agents.Step
		logf("the loader as %d agent process(es)", agents.N)
		a, err := measure(ctx, ac, srv)
		if err != nil {
			return lb, fmt.Errorf("loader bench: agents: %w", err)
		}
		lb.Agents, lb.AgentCount = &a, agents.N
	}
	if other != nil {
		if err := benchIndependent(ctx, cfg, srv, other, idleRate, &lb); err != nil {
			return lb, err
		}
	}
	mix := load.NewMix(srv.URL(), cfg.Scenario)
	for _, spin := range []bool{true, false} {
		c := cfg
		if !spin {
			c.Loader.SpinBelow = 0
		}
		m, err := attack(ctx, c, mix, idleRate, cfg.FixedDuration)
		if err != nil {
			return lb, fmt.Errorf("loader bench: %.0f req/s: %w", idleRate, err)
		}
		work := m.cpuPct - 100*m.step.SpinS/m.wall.Seconds()
		lb.Idle = append(lb.Idle, IdleStep{Rate: idleRate, Spin: spin, Added: m.added, CPUPct: m.cpuPct, WorkCPUPct: max(work, 0)})
		logf("%.0f req/s, spin %v: adds p50 %.3f p95 %.3f ms; CPU %.1f%% (work %.1f%%)", idleRate, spin, m.added.P50, m.added.P95, m.cpuPct, work)
	}
	return lb, nil
}

// benchIndependent calibrates the independent loader as the loader is,
// then runs it at the light rate, into lb.
func benchIndependent(ctx context.Context, cfg Config, srv *refServer, other *Independent, idleRate float64, lb *LoaderBench) error {
	cfg.Sender = other.Step
	if cfg.Logf != nil {
		cfg.Logf("%s (%s), calibrated as the loader is", other.Name, other.Setup)
	}
	o, err := measure(ctx, cfg, srv)
	if err != nil {
		return fmt.Errorf("loader bench: %s: %w", other.Name, err)
	}
	lb.Independent, lb.IndependentName, lb.IndependentSetup = &o, other.Name, other.Setup
	if o.Capacity > 0 {
		lb.IndependentRatio = lb.Calibration.Capacity / o.Capacity
	}
	m, err := attack(ctx, cfg, load.NewMix(srv.URL(), cfg.Scenario), idleRate, cfg.FixedDuration)
	if err != nil {
		return fmt.Errorf("loader bench: %s at %.0f req/s: %w", other.Name, idleRate, err)
	}
	lb.IndependentIdle = &IdleStep{Rate: idleRate, Added: m.added, CPUPct: m.cpuPct, WorkCPUPct: m.cpuPct}
	return nil
}

var wrkRPS = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

// runWrk runs wrk pinned to cpus, one thread per CPU, and reads its rate
// and its CPU (the child's rusage).
func runWrk(ctx context.Context, cfg WrkConfig, url string, cpus []int) (WrkResult, error) {
	path := cfg.Path
	if path == "" {
		path = "wrk"
	}
	bin, err := exec.LookPath(path)
	if err != nil {
		return WrkResult{}, fmt.Errorf("wrk not found (%v): apt-get install wrk", err)
	}
	r := WrkResult{Threads: len(cpus), Connections: cfg.Connections}
	cmd := exec.CommandContext(ctx, "taskset", "-c", cpuset.List(cpus), bin, "-t"+strconv.Itoa(r.Threads),
		"-c"+strconv.Itoa(cfg.Connections), "-d"+strconv.Itoa(int(cfg.Duration.Seconds()))+"s", url)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		return r, fmt.Errorf("wrk: %w: %s", err, strings.TrimSpace(string(out)))
	}
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk: no Requests/sec in its output: %s", out)
	}
	r.RPS, _ = strconv.ParseFloat(string(m[1]), 64)
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	r.CPUPct = 100 * cpu.Seconds() / wall.Seconds()
	if n := r.RPS * cfg.Duration.Seconds(); n > 0 {
		r.CPUPerRequestUS = cpu.Seconds() * 1e6 / n
	}
	return r, nil
}

// LoaderBenchTable is the loader bench as markdown.
func LoaderBenchTable(lb LoaderBench) string {
	c := lb.Calibration
	var b strings.Builder
	fmt.Fprintf(&b, "Loader bench against an instant reference server (%s); the loader's CPUs, the other loaders' too, idled %s\n\n", c.Server, lb.LoaderIdle)
	b.WriteString("| loader | req/s | CPU % | µs CPU / request | added p50 / p95 ms |\n|---|--:|--:|--:|--:|\n")
	fmt.Fprintf(&b, "| wrk (closed loop, %d thread(s), %d connections) | %.0f | %.0f | %.1f | – |\n",
		lb.Wrk.Threads, lb.Wrk.Connections, lb.Wrk.RPS, lb.Wrk.CPUPct, lb.Wrk.CPUPerRequestUS)
	fmt.Fprintf(&b, "| harness loader, capacity (pace held, added p95 ≤ %.2f ms) | %.0f | – | %.1f | %.3f / %.3f |\n",
		c.AddedP95Limit, c.Capacity, c.CPUPerRequestUS, c.AddedAtCapacity.P50, c.AddedAtCapacity.P95)
	fmt.Fprintf(&b, "| harness loader, fixed %.0f req/s | %.0f | %.1f | – | %.3f / %.3f |\n", c.FixedRate, c.FixedRate, c.FixedCPUPct, c.Added.P50, c.Added.P95)
	if a := lb.Agents; a != nil {
		fmt.Fprintf(&b, "| %d agent process(es), one per loader CPU, capacity | %.0f | – | %.1f | %.3f / %.3f |\n",
			lb.AgentCount, a.Capacity, a.CPUPerRequestUS, a.AddedAtCapacity.P50, a.AddedAtCapacity.P95)
		fmt.Fprintf(&b, "| %d agent process(es), fixed %.0f req/s | %.0f | %.1f | – | %.3f / %.3f |\n",
			lb.AgentCount, a.FixedRate, a.FixedRate, a.FixedCPUPct, a.Added.P50, a.Added.P95)
	}
	if o := lb.Independent; o != nil {
		fmt.Fprintf(&b, "| %s (%s), capacity (pace held, added p95 ≤ %.2f ms) | %.0f | – | %.1f | %.3f / %.3f |\n",
			lb.IndependentName, lb.IndependentSetup, o.AddedP95Limit, o.Capacity, o.CPUPerRequestUS, o.AddedAtCapacity.P50, o.AddedAtCapacity.P95)
		fmt.Fprintf(&b, "| %s, fixed %.0f req/s | %.0f | %.1f | – | %.3f / %.3f |\n",
			lb.IndependentName, o.FixedRate, o.FixedRate, o.FixedCPUPct, o.Added.P50, o.Added.P95)
	}
	for _, s := range lb.Idle {
		mode := "parked"
		if s.Spin {
			mode = "spinning"
		}
		fmt.Fprintf(&b, "| harness loader, %.0f req/s, %s | %.0f | %.1f (work %.1f) | – | %.3f / %.3f |\n", s.Rate, mode, s.Rate, s.CPUPct, s.WorkCPUPct, s.Added.P50, s.Added.P95)
	}
	if s := lb.IndependentIdle; s != nil {
		fmt.Fprintf(&b, "| %s, %.0f req/s | %.0f | %.1f | – | %.3f / %.3f |\n", lb.IndependentName, s.Rate, s.Rate, s.CPUPct, s.Added.P50, s.Added.P95)
	}
	fmt.Fprintf(&b, "\nCapacity / wrk: **%.2f×** (goal ≥ 0.75×).\n", lb.Ratio)
	if o := lb.Independent; o != nil {
		fmt.Fprintf(&b, "Capacity / %s's capacity by the same definition: **%s** (%.0f against %.0f req/s).\n",
			lb.IndependentName, independentRatio(lb), lb.Calibration.Capacity, o.Capacity)
	}
	if a := lb.Agents; a != nil && lb.Calibration.Capacity > 0 {
		fmt.Fprintf(&b, "Agents / in-process capacity: **%.2f×** (%d agent(s)); with several loader CPUs, `make bench` calibrates both ways and keeps the faster.\n",
			a.Capacity/lb.Calibration.Capacity, lb.AgentCount)
	}
	return b.String()
}

// independentRatio is the ratio cell: a loader that met the bound at no
// rate has a capacity of 0, and the ratio is then unbounded, not zero.
func independentRatio(lb LoaderBench) string {
	if lb.IndependentRatio > 0 {
		return fmt.Sprintf("%.2f×", lb.IndependentRatio)
	}
	return "–"
}
