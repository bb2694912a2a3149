package peak

import (
	"context"
	"fmt"
	"math"
	"strings"
)

// Bounds of a peak figure, as written in summary.csv's peak_bound.
const (
	BoundTarget = "target" // the target failed the SLO: a real peak
	BoundLoader = "loader" // the loader hit its limit first: a lower bound
	BoundCap    = "cap"    // every rate passed up to the profile's cap: a lower bound
	BoundError  = "error"  // no rate passed, or the search could not run
)

// maxPeakConfirms bounds the steps spent confirming the peak, beyond
// Config.MaxSteps.
const maxPeakConfirms = 5

// rebisectGap: a candidate peak that fails its confirmation falls back to
// the next passing rate below it; when that leaves a gap of more than this
// many times the precision, the gap is bisected again.
const rebisectGap = 4

// LowerBound says whether a peak with this bound is only a lower bound of
// the target's: the loader's limit, or the search's cap, came first.
func LowerBound(bound string) bool { return bound == BoundLoader || bound == BoundCap }

// Config bounds the search.
type Config struct {
	Start     float64 // first rate, req/s
	Max       float64 // never offer more
	Min       float64 // give up below this
	Growth    float64 // ramp factor
	Precision float64 // stop bisecting when (hi-lo)/lo is below this
	MaxSteps  int
	Criteria  Criteria
}

// Probe offers rate for one step and reports what happened.
type Probe func(ctx context.Context, rate float64) (Observation, error)

// Step is one probe and its verdict, in the order they ran.
type Step struct {
	Phase string  `json:"phase"` // ramp, descend or bisect
	Rate  float64 `json:"rate"`
	Observation
	Verdict Verdict `json:"verdict"`
}

// Result is the peak and how it was found.
type Result struct {
	Peak  float64 `json:"peak_rps"`
	Bound string  `json:"peak_bound"`
	Note  string  `json:"note,omitempty"`
	Steps []Step  `json:"steps"`
}

// AtPeak is the last passing step at the peak rate: where the peak's
// CPU figures are read (which of the target and its database was near
// its budget). Nil when no step passed.
func (r Result) AtPeak() *Step {
	for i := len(r.Steps) - 1; i >= 0; i-- {
		if s := &r.Steps[i]; s.Verdict.Pass && s.Rate == r.Peak {
			return s
		}
	}
	return nil
}

// Search ramps the rate geometrically until a step fails, then bisects
// between the highest passing and the lowest failing rate. Steps and the
// best-so-far are kept on error or cancellation, so a partial run still
// reports what it measured.
func Search(ctx context.Context, cfg Config, probe Probe) (Result, error) {
	if cfg.Min <= 0 {
		cfg.Min = 10
	}
	var res Result
	lo, hi := 0.0, math.Inf(1)
	var hiVerdict Verdict
	var loLoader float64
	var caveat string                   // added to the note, whatever the bound
	passes := map[float64]int{}         // passing steps per rate
	passLoader := map[float64]float64{} // the loader's CPU at a passing rate

	run := func(phase string, rate float64) (Verdict, error) {
		rate = math.Round(rate)
		obs, err := probe(ctx, rate)
		if err != nil {
			return Verdict{}, fmt.Errorf("step at %.0f req/s: %w", rate, err)
		}
		v := Judge(obs, cfg.Criteria)
		res.Steps = append(res.Steps, Step{Phase: phase, Rate: rate, Observation: obs, Verdict: v})
		if v.Pass {
			passes[rate]++
			passLoader[rate] = max(passLoader[rate], obs.LoaderCPU)
			if rate > lo {
				lo, loLoader = rate, obs.LoaderCPU
			}
		} else if rate <= hi {
			// <=: a confirm step at the same rate replaces the first
			// step's verdict, so the confirm decides the label.
			hi, hiVerdict = rate, v
		}
		return v, nil
	}
	finish := func(err error) (Result, error) {
		res.Peak = lo
		switch {
		case lo == 0:
			res.Bound = BoundError
			if res.Note == "" {
				res.Note = fmt.Sprintf("no rate down to %.0f req/s met the criteria", cfg.Min)
				if len(res.Steps) > 0 {
					res.Note += ": " + res.Steps[len(res.Steps)-1].Verdict.Reason
				}
			}
		case math.IsInf(hi, 1):
			res.Bound = BoundCap
			if res.Note == "" {
				res.Note = fmt.Sprintf("every rate passed up to the %.0f req/s cap: a lower bound", cfg.Max)
			}
		case hiVerdict.LoaderBound:
			res.Bound = BoundLoader
			res.Note = "the first failing rate was loader-bound: " + hiVerdict.Reason
		case loLoader >= cfg.Criteria.LoaderGuard:
			res.Bound = BoundLoader
			res.Note = fmt.Sprintf("the loader was at %.0f%% of its CPU at the peak", 100*loLoader)
		case cfg.Criteria.Capacity > 0 && lo > cfg.Criteria.Capacity:
			res.Bound = BoundLoader
			res.Note = fmt.Sprintf("%.0f req/s is above the loader's capacity of %.0f req/s (its calibration's, or the one the run assumed): not the target's figure", lo, cfg.Criteria.Capacity)
		default:
			res.Bound = BoundTarget
			res.Note = fmt.Sprintf("%.0f req/s failed: %s", hi, hiVerdict.Reason)
		}
		if caveat != "" {
			res.Note = strings.TrimPrefix(res.Note+"; "+caveat, "; ")
		}
		return res, err
	}

	steps := 0
	rate := math.Min(cfg.Start, cfg.Max)
	// Ramp up while steps pass.
	for ; steps < cfg.MaxSteps; steps++ {
		v, err := run("ramp", rate)
		if err != nil {
			return finish(err)
		}
		// A ramp failure sets the bracket for everything after it, so one
		// noisy step (a neighbour's burst on a shared machine) could cut the
		// peak by the growth factor: it must fail twice. Bisect failures
		// only cost precision and are not repeated.
		if !v.Pass && steps+1 < cfg.MaxSteps {
			steps++
			if v, err = run("confirm", rate); err != nil {
				return finish(err)
			}
			if v.Pass {
				hi, hiVerdict = math.Inf(1), Verdict{}
			}
		}
		if !v.Pass || rate >= cfg.Max {
			steps++
			break
		}
		rate = math.Min(rate*cfg.Growth, cfg.Max)
	}
	// The start rate was already too much: come down until a step passes.
	for lo == 0 && steps < cfg.MaxSteps {
		rate /= cfg.Growth
		if rate < cfg.Min {
			break
		}
		if _, err := run("descend", rate); err != nil {
			return finish(err)
		}
		steps++
	}
	for ; lo > 0 && !math.IsInf(hi, 1) && steps < cfg.MaxSteps && (hi-lo)/lo > cfg.Precision; steps++ {
		if _, err := run("bisect", (lo+hi)/2); err != nil {
			return finish(err)
		}
	}
	// The reported peak must have passed twice: with noisy steps, the
	// highest single pass is biased up by whichever step was lucky. A
	// candidate that fails its second try is a failure like any other: the
	// next passing rate below it becomes the candidate, and the gap up to
	// the failure is bisected again (a candidate at 10,667 failing its
	// confirmation once left 5,333 as the peak, with nothing tried between).
	// One whose second try was the loader's limit stands, labelled loader.
	// All of it takes at most maxPeakConfirms steps beyond MaxSteps.
	for extra := maxPeakConfirms; lo > 0 && passes[lo] < 2 && extra > 0 && ctx.Err() == nil; {
		v, err := run("confirm-peak", lo)
		extra--
		if err != nil {
			return finish(err)
		}
		if !v.Pass && v.LoaderBound {
			// Not evidence against the target: the loader could not
			// repeat the step. The candidate stands, as a lower bound.
			caveat = fmt.Sprintf("%.0f req/s passed once; its confirmation was the loader's limit", lo)
			break
		}
		if v.Pass {
			continue
		}
		lo, loLoader = 0, 0
		for r := range passes {
			if r < hi && r > lo {
				lo, loLoader = r, passLoader[r]
			}
		}
		// Only a wide gap is bisected again (a fallback losing a few times
		// the precision is accepted, to keep steps for confirming: every
		// new rate tried is one more candidate to confirm), and one step
		// is kept for confirming whatever the bisection finds.
		wide := lo > 0 && (hi-lo)/lo > rebisectGap*cfg.Precision
		for ; wide && extra > 1 && (hi-lo)/lo > cfg.Precision && ctx.Err() == nil; extra-- {
			if _, err := run("bisect", (lo+hi)/2); err != nil {
				return finish(err)
			}
		}
	}
	if lo > 0 && passes[lo] < 2 && caveat == "" && ctx.Err() == nil {
		caveat = fmt.Sprintf("%.0f req/s passed once: %d tries at confirming a peak failed", lo, maxPeakConfirms)
	}
	return finish(ctx.Err())
}
