// Package peak finds the highest request rate a target sustains within its
// SLO, and says whether that figure is the target's or the loader's limit.
package peak

import (
	"fmt"
	"time"

	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/sample"
)

// Observation is one step as measured: the load figures and who was busy.
type Observation struct {
	Step load.Step `json:"load"`
	// LoaderCPU is the loader's CPU use as a fraction of the CPU it may use
	// (affinity capped by its cgroup quota).
	LoaderCPU float64 `json:"loader_cpu"`
	// TargetCPU is the target's CPU use as a fraction of its vCPU budget;
	// negative when unknown (e.g. an in-process test server).
	TargetCPU float64 `json:"target_cpu"`
	// Target is the target's CPU and memory over the step, if sampled.
	Target *sample.Stats `json:"target_sample,omitempty"`
}

// Criteria define a clean step.
type Criteria struct {
	SLOP95      time.Duration
	MinSuccess  float64
	MinAchieved float64
	// LoaderGuard is the loader CPU fraction above which a failing step is
	// blamed on the loader, not the target.
	LoaderGuard float64
}

// Verdict is a step judged against Criteria.
type Verdict struct {
	Pass        bool   `json:"pass"`
	LoaderBound bool   `json:"loader_bound"`
	Reason      string `json:"reason,omitempty"`
}

// Judge applies the criteria. A failing step is loader-bound when the loader
// ran out of CPU, or when it could not keep the pace although the target
// answered within the SLO with CPU to spare: in both cases a faster loader
// might have found a higher peak, so the figure is only a lower bound.
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
	if s.Corrected.P95 > slo {
		reasons = append(reasons, fmt.Sprintf("p95 %.1f ms > SLO %.0f ms", s.Corrected.P95, slo))
	}
	v := Verdict{Pass: len(reasons) == 0}
	if v.Pass {
		return v
	}
	v.Reason = reasons[0]
	for _, r := range reasons[1:] {
		v.Reason += "; " + r
	}
	switch {
	case o.LoaderCPU >= c.LoaderGuard:
		v.LoaderBound = true
		v.Reason += fmt.Sprintf("; loader CPU %.0f%% of its share", 100*o.LoaderCPU)
	case !paced && o.TargetCPU >= 0 && o.TargetCPU < 0.5 && s.Vegeta.P95 <= slo:
		v.LoaderBound = true
		v.Reason += fmt.Sprintf("; loader fell behind while the target used %.0f%% of its vCPUs", 100*o.TargetCPU)
	}
	return v
}
