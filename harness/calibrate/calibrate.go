// Package calibrate measures the loader before it measures anyone else:
// against a reference server that answers instantly (server.go), run on the
// target's CPUs without a quota, it finds the latency the loader adds at
// the fixed rate, the highest rate at which it keeps the pace and adds
// almost nothing (its capacity), and its CPU cost per request. A peak above
// that capacity is never reported as a target's.
package calibrate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/peak"
	"github.com/benchharness/harness/harness/scenario"
)

// Config is one calibration.
type Config struct {
	// Plan places the reference server on Plan.TargetCPUs (whole CPUs, no
	// quota); the loader is this process, already on Plan.LoaderCPUs.
	Plan     cpuset.Plan
	Scenario *scenario.Scenario
	Loader   scenario.Loader
	// FixedRate and FixedDuration are the fixed-rate run's, as in the profile.
	FixedRate     float64
	FixedDuration time.Duration
	// Step is each capacity step's length; MaxRate caps the search.
	Step    time.Duration
	MaxRate float64
	// AddedP95Limit defines capacity: the loader's added p95 stays within it.
	AddedP95Limit time.Duration
	// Exe is the harness binary that runs `refserver`; empty runs the
	// server in this process (tests only: it then shares the loader's CPUs).
	Exe string
	// Delay is the reference server's injected service time: zero in a
	// real calibration; tests set it to check the loader reports it.
	Delay time.Duration
	// Logf, if set, receives progress lines.
	Logf func(format string, a ...any)
	// Sender, if set, runs each step instead of this process's loader:
	// the loader's agents (package agent), or in `make loader-bench` an
	// independent loader held to the same definition of capacity.
	Sender Sender
}

// Sender runs one fixed-rate step against the server at url and returns
// what it measured and the CPU time the loader used for it.
type Sender func(ctx context.Context, url string, lp scenario.Loader, rate float64, d time.Duration) (load.Step, time.Duration, error)

// Result is what the loader measured of itself; manifest.json carries it.
type Result struct {
	Server string `json:"server"`
	// FixedRate is the rate of the fixed-rate check (the profile's).
	FixedRate float64 `json:"fixed_rps"`
	// Added is the latency the loader adds at the fixed rate: what it
	// measured minus the server's injected service time, in ms.
	Added load.Latency `json:"added_ms"`
	// FixedCPUPct is the loader's CPU at the fixed rate, % of one core;
	// FixedSpinPct the part of it spent busy-waiting for precision.
	FixedCPUPct  float64 `json:"fixed_cpu_pct"`
	FixedSpinPct float64 `json:"fixed_spin_pct"`
	// LatenessP95 is how late the pacer's timer woke at the fixed rate (ms)
	// before it spun to the due instant.
	LatenessP95 float64 `json:"pacer_lateness_p95_ms"`
	// Capacity is the highest rate at which the loader kept the pace and
	// added at most AddedP95Limit at p95; CapacityBound says whether the
	// search ran into the limit ("loader") or the rate cap ("cap").
	Capacity      float64 `json:"capacity_rps"`
	CapacityBound string  `json:"capacity_bound"`
	AddedP95Limit float64 `json:"capacity_added_p95_limit_ms"`
	// CPUPerRequestUS is the loader's CPU per request at its capacity (µs),
	// its busy-waiting aside.
	CPUPerRequestUS float64 `json:"cpu_us_per_request"`
	// AddedAtCapacity is the added latency at the capacity step (ms).
	AddedAtCapacity load.Latency `json:"added_at_capacity_ms"`
	Steps           []Step       `json:"steps"`
	Start           time.Time    `json:"start"`
	End             time.Time    `json:"end"`
}

// Step is one calibration step.
type Step struct {
	Phase           string       `json:"phase"`
	Rate            float64      `json:"rate"`
	Achieved        float64      `json:"achieved_rps"`
	Success         float64      `json:"success"`
	Added           load.Latency `json:"added_ms"`
	CPUPct          float64      `json:"cpu_pct"`
	CPUPerRequestUS float64      `json:"cpu_us_per_request"`
	Pass            bool         `json:"pass"`
	Reason          string       `json:"reason,omitempty"`
}

// Run calibrates the loader.
func Run(ctx context.Context, cfg Config) (Result, error) {
	srv, err := startServer(ctx, cfg)
	if err != nil {
		return Result{}, fmt.Errorf("calibrate: start the reference server: %w", err)
	}
	defer srv.Stop()
	return measure(ctx, cfg, srv)
}

// measure calibrates the loader against a running reference server.
func measure(ctx context.Context, cfg Config, srv *refServer) (Result, error) {
	res := Result{Start: time.Now().UTC(), FixedRate: cfg.FixedRate, AddedP95Limit: ms(cfg.AddedP95Limit), Server: srv.describe}
	mix := load.NewMix(srv.URL(), cfg.Scenario)
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}

	// Warm the path (connections, the server's pages) before measuring.
	if _, err := attack(ctx, cfg, mix, cfg.FixedRate, min(cfg.FixedDuration, 2*time.Second)); err != nil {
		return res, fmt.Errorf("calibrate: warm-up: %w", err)
	}
	fixed, err := attack(ctx, cfg, mix, cfg.FixedRate, cfg.FixedDuration)
	if err != nil {
		return res, fmt.Errorf("calibrate: fixed rate: %w", err)
	}
	res.Added, res.FixedCPUPct, res.LatenessP95 = fixed.added, fixed.cpuPct, fixed.step.LatenessP95
	res.FixedSpinPct = 100 * fixed.step.SpinS / fixed.wall.Seconds()
	res.Steps = append(res.Steps, fixed.record("fixed", true, ""))
	logf("calibrate: fixed %.0f req/s: loader adds p50 %.3f p95 %.3f p99 %.3f ms; CPU %.1f%% of a core (%.1f%% spinning)",
		cfg.FixedRate, res.Added.P50, res.Added.P95, res.Added.P99, res.FixedCPUPct, res.FixedSpinPct)

	if err := capacity(ctx, cfg, mix, &res, logf); err != nil {
		return res, err
	}
	res.End = time.Now().UTC()
	return res, nil
}

// capacity searches the highest rate at which the loader keeps the pace
// and its added p95 stays within the limit, with the peak search itself.
func capacity(ctx context.Context, cfg Config, mix *load.Mix, res *Result, logf func(string, ...any)) error {
	byRate := map[float64]measured{}
	crit := peak.Criteria{SLOP95: cfg.Delay + cfg.AddedP95Limit, MinSuccess: 0.999, MinAchieved: 0.98, LoaderGuard: 2}
	search, err := peak.Search(ctx, peak.Config{Start: 5000, Max: cfg.MaxRate, Growth: 2, Precision: 0.05, MaxSteps: 14, Criteria: crit},
		func(ctx context.Context, rate float64) (peak.Observation, error) {
			m, err := attack(ctx, cfg, mix, rate, cfg.Step)
			if err != nil {
				return peak.Observation{}, err
			}
			byRate[rate] = m
			v := peak.Judge(peak.Observation{Step: m.step}, crit)
			res.Steps = append(res.Steps, m.record("capacity", v.Pass, v.Reason))
			logf("calibrate: %6.0f req/s: achieved %6.0f, adds p95 %.3f ms, CPU %3.0f%% (%.1f µs/req) %s",
				rate, m.step.Achieved, m.added.P95, m.cpuPct, m.cpuPerReq, passFail(v))
			return peak.Observation{Step: m.step, LoaderCPU: -1, TargetCPU: -1}, nil
		})
	if err != nil {
		return fmt.Errorf("calibrate: capacity: %w", err)
	}
	if !anyAnswered(search, crit.MinSuccess) {
		// Not a capacity of zero: the reference server did not answer as
		// the scenario expects (a path it does not serve), so nothing was
		// measured. A loader too slow for the latency bound at every rate
		// is a measurement, and keeps its capacity of 0.
		return fmt.Errorf("calibrate: capacity: no step was answered: %s", search.Note)
	}
	res.Capacity = search.Peak
	res.CapacityBound = peak.BoundLoader
	if search.Bound == peak.BoundCap {
		res.CapacityBound = peak.BoundCap
	}
	if m, ok := byRate[search.Peak]; ok {
		res.CPUPerRequestUS, res.AddedAtCapacity = m.cpuPerReq, m.added
	}
	logf("calibrate: capacity %.0f req/s (%s), %.1f µs of loader CPU per request", res.Capacity, res.CapacityBound, res.CPUPerRequestUS)
	return nil
}

// anyAnswered says whether any step of r got at least minSuccess of its
// requests answered successfully.
func anyAnswered(r peak.Result, minSuccess float64) bool {
	for _, s := range r.Steps {
		if s.Step.Success >= minSuccess {
			return true
		}
	}
	return false
}

func passFail(v peak.Verdict) string {
	if v.Pass {
		return "pass"
	}
	return "FAIL: " + v.Reason
}

type measured struct {
	step      load.Step
	added     load.Latency
	cpuPct    float64
	cpuPerReq float64
	wall      time.Duration
}

func (m measured) record(phase string, pass bool, reason string) Step {
	return Step{Phase: phase, Rate: m.step.Offered, Achieved: m.step.Achieved, Success: m.step.Success, Added: m.added,
		CPUPct: m.cpuPct, CPUPerRequestUS: m.cpuPerReq, Pass: pass, Reason: reason}
}

// attack runs one step with the profile's loader settings and reads the
// loader's CPU around it (this process: nothing else runs during a
// calibration), or has cfg.Sender run it and report its CPU.
func attack(ctx context.Context, cfg Config, mix *load.Mix, rate float64, d time.Duration) (measured, error) {
	lc := load.ProfileConfig(cfg.Loader, rate, d)
	var st load.Step
	var cpu, wall time.Duration
	var err error
	if cfg.Sender != nil {
		st, cpu, err = cfg.Sender(ctx, mix.Base(), cfg.Loader, rate, d)
		wall = d
	} else {
		load.Collect()
		c0, t0 := load.ProcessCPU(), time.Now()
		st, err = load.Attack(ctx, mix, lc)
		cpu, wall = load.ProcessCPU()-c0, time.Since(t0)
	}
	m := measured{step: st, added: minus(st.Corrected, cfg.Delay), cpuPct: 100 * cpu.Seconds() / wall.Seconds(), wall: wall}
	if st.Requests > 0 {
		// Work only: a loader that busy-waits reads busy however light the load.
		work := max(0, cpu-time.Duration(st.SpinS*float64(time.Second)))
		m.cpuPerReq = float64(work.Microseconds()) / float64(st.Requests)
	}
	return m, err
}

// minus takes the server's known service time off a latency summary.
func minus(l load.Latency, d time.Duration) load.Latency {
	x := ms(d)
	return load.Latency{P50: l.P50 - x, P95: l.P95 - x, P99: l.P99 - x, Max: l.Max - x, Mean: l.Mean - x}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// refServer is the reference server as a calibration uses it: a pinned
// process of the harness binary, or (tests) a server in this process.
type refServer struct {
	url      string
	stop     func() error
	describe string
}

func (r *refServer) URL() string { return r.url }
func (r *refServer) Stop()       { _ = r.stop() }

func startServer(ctx context.Context, cfg Config) (*refServer, error) {
	sc := ServerConfig{Addr: "127.0.0.1:0", Delay: cfg.Delay}
	if cfg.Exe == "" {
		s, err := Serve(ctx, sc)
		if err != nil {
			return nil, err
		}
		return &refServer{url: s.URL(), stop: s.Close, describe: "busy-polling, in the loader's process"}, nil
	}
	p, err := StartProcess(ctx, cfg.Exe, sc, cfg.Plan.TargetCPUs)
	if err != nil {
		return nil, err
	}
	return &refServer{url: p.URL(), stop: p.Stop,
		describe: fmt.Sprintf("busy-polling, on the target's CPUs %s without a quota", cpuset.List(cfg.Plan.TargetCPUs))}, nil
}

// Table is the calibration as a short markdown table.
func Table(r Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Loader calibration against an instant reference server (%s)\n\n", r.Server)
	b.WriteString("| figure | value |\n|---|--:|\n")
	fmt.Fprintf(&b, "| added latency at %.0f req/s, p50 / p95 / p99 (ms) | %.3f / %.3f / %.3f |\n", r.FixedRate, r.Added.P50, r.Added.P95, r.Added.P99)
	fmt.Fprintf(&b, "| loader CPU at %.0f req/s (%% of a core; of it spinning) | %.1f (%.1f) |\n", r.FixedRate, r.FixedCPUPct, r.FixedSpinPct)
	fmt.Fprintf(&b, "| pacer timer lateness p95 before its spin (ms) | %.3f |\n", r.LatenessP95)
	fmt.Fprintf(&b, "| capacity: highest rate with the pace held and added p95 ≤ %.2f ms (req/s) | %.0f (%s) |\n", r.AddedP95Limit, r.Capacity, r.CapacityBound)
	fmt.Fprintf(&b, "| added latency at capacity, p50 / p95 (ms) | %.3f / %.3f |\n", r.AddedAtCapacity.P50, r.AddedAtCapacity.P95)
	fmt.Fprintf(&b, "| loader CPU per request at capacity (µs) | %.1f |\n", r.CPUPerRequestUS)
	return b.String()
}
