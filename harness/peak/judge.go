// Package peak finds the highest request rate a target sustains within its
// SLO, and says whether that figure is the target's or the loader's limit.
package peak

import (
	"fmt"
	"strings"
	"time"

	"github.com/benchharness/harness/harness/agent"
	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/sample"
)

// Observation is one step as measured: the load figures and who was busy.
type Observation struct {
	Step load.Step `json:"load"`
	// LoaderCPU is the loader's CPU use as a fraction of the CPU it may use
	// (affinity capped by its cgroup quota).
	LoaderCPU float64 `json:"loader_cpu"`
	// LoaderWorkCPU is LoaderCPU less the loader's busy-waiting (its spin
	// loops' own time, load.Step.SpinS): the share that did work, which the
	// CPU guard reads. A loader that spins reads near 100 % while idle.
	LoaderWorkCPU float64 `json:"loader_work_cpu"`
	// TargetCPU is the target's CPU use as a fraction of its vCPU budget;
	// negative when unknown (e.g. an in-process test server).
	TargetCPU float64 `json:"target_cpu"`
	// Target is the target's CPU and memory over the step, if sampled.
	Target *sample.Stats `json:"target_sample,omitempty"`
	// LoaderAdded is the latency the loader itself added during the step,
	// measured by the sentinel stream (load.Sentinel); nil if not measured.
	// With several agents, LoaderCPU and LoaderAdded are the busiest
	// agent's, so the step is loader-bound when any agent is.
	LoaderAdded *load.Latency `json:"loader_added_ms,omitempty"`
	// Agents are each agent's figures when the loader was several
	// (package agent); absent for the in-process loader.
	Agents []agent.Figures `json:"agents,omitempty"`
	// Settle is how long the harness waited before the step for the target
	// to be idle again after the one before; nil for a first step.
	Settle *Settle `json:"settle,omitempty"`
	// DatabaseCPU and Database are the scenario's database's CPU (a
	// fraction of its own budget) and usage over the step; absent for a
	// scenario without one.
	DatabaseCPU float64       `json:"database_cpu,omitempty"`
	Database    *sample.Stats `json:"database_sample,omitempty"`
}

// Settle is a wait for the target to go idle between two steps.
type Settle struct {
	Seconds float64 `json:"seconds"`
	// Idle is false when the wait hit its limit with the target still busy.
	Idle bool `json:"idle"`
	// CPU is the target's CPU over the last look, as a fraction of its budget.
	CPU float64 `json:"cpu"`
}

// Criteria define a clean step.
type Criteria struct {
	SLOP95      time.Duration
	MinSuccess  float64
	MinAchieved float64
	// LoaderGuard is the loader CPU fraction above which a failing step is
	// blamed on the loader, not the target.
	LoaderGuard float64
	// LoaderLatencyGuard is the largest loader-added p95 (the sentinel's),
	// as a fraction of SLOP95, at which a step may still be the target's.
	// Zero disables the check.
	LoaderLatencyGuard float64
	// Capacity is the loader's calibrated capacity (req/s); a peak above it
	// is never reported as the target's. Zero: not calibrated.
	Capacity float64
}

// Verdict is a step judged against Criteria.
type Verdict struct {
	Pass        bool   `json:"pass"`
	LoaderBound bool   `json:"loader_bound"`
	Reason      string `json:"reason,omitempty"`
}

// Judge applies the criteria. A failing step counts as the target's only
// if all three hold: the loader kept the pace (or fell behind only because
// the target held its requests), its CPU stayed under the guard, and the
// latency it added itself (the sentinel's) stayed small next to the SLO.
// Otherwise a faster loader might have seen the step pass: the step is
// loader-bound, and a peak it bounds is only a lower bound.
func Judge(o Observation, c Criteria) Verdict {
	s := o.Step
	slo := float64(c.SLOP95) / float64(time.Millisecond)
	var reasons []string
	if s.Success < c.MinSuccess {
		reasons = append(reasons, fmt.Sprintf("success %.4f < %.4f", s.Success, c.MinSuccess))
	}
	paced := s.Achieved >= c.MinAchieved*s.Offered
	if !paced {
		reasons = append(reasons, fmt.Sprintf("achieved %.0f of %.0f req/s offered", s.Achieved, s.Offered))
	}
	// Several agents: each must keep its own share's pace, or the target
	// saw a different load than the step says, however the sum reads.
	for _, a := range o.Agents {
		if a.Achieved < c.MinAchieved*a.Offered {
			paced = false
			reasons = append(reasons, fmt.Sprintf("agent %d achieved %.0f of its %.0f req/s", a.Agent, a.Achieved, a.Offered))
		}
	}
	if s.Corrected.P95 > slo {
		reasons = append(reasons, fmt.Sprintf("p95 %.3g ms > SLO %.3g ms", s.Corrected.P95, slo))
	}
	if s.Dropped > 0 {
		reasons = append(reasons, fmt.Sprintf("%d latencies above the histogram's range", s.Dropped))
	}
	v := Verdict{Pass: len(reasons) == 0}
	if v.Pass {
		return v
	}
	v.Reason = strings.Join(reasons, "; ")
	if why := loaderLimit(o, c, paced, slo); why != "" {
		v.LoaderBound = true
		v.Reason += "; " + why
	}
	return v
}

// workCPU is the loader's working CPU share; steps recorded before it was
// measured have only the total.
func (o Observation) workCPU() float64 {
	if o.LoaderWorkCPU > 0 {
		return o.LoaderWorkCPU
	}
	return o.LoaderCPU
}

// loaderLimit says why a failing step was the loader's, or "".
func loaderLimit(o Observation, c Criteria, paced bool, slo float64) string {
	switch {
	case o.workCPU() >= c.LoaderGuard:
		return fmt.Sprintf("loader CPU %.0f%% of its share, busy-waiting aside", 100*o.workCPU())
	case c.LoaderLatencyGuard > 0 && o.LoaderAdded != nil && o.LoaderAdded.P95 > c.LoaderLatencyGuard*slo:
		return fmt.Sprintf("the loader itself added %.2f ms at p95 (sentinel), over %.0f%% of the SLO", o.LoaderAdded.P95, 100*c.LoaderLatencyGuard)
	case !paced && o.TargetCPU >= 0 && o.TargetCPU < 0.5 && o.Step.Vegeta.P95 <= slo:
		return fmt.Sprintf("loader fell behind while the target used %.0f%% of its vCPUs", 100*o.TargetCPU)
	}
	return ""
}
