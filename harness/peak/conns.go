package peak

import (
	"fmt"
	"strings"
	"time"
)

// A connection-scale run (scenario hold:) steps up the number of keep-alive
// connections held open to a target, each in use, and measures a paced
// probe stream at every step. Its "peak" is the most connections held
// cleanly; like a peak it says whose limit ended it.

// Owners of a connection-scale limit, besides BoundTarget and BoundLoader.
const (
	// BoundKernel: a kernel setting (file-max, the ephemeral ports of the
	// source addresses) would have capped the next step.
	BoundKernel = "kernel"
	// BoundSteps: every step passed; the target's limit is higher.
	BoundSteps = "steps"
)

// HoldStep is one step: Connections asked for, what was held, and the
// probe's observation meanwhile.
type HoldStep struct {
	Connections int `json:"connections"`
	// Held is how many connections were open and answering at the end.
	Held          int      `json:"held"`
	ConnectErrors int64    `json:"connect_errors"`
	RequestErrors int64    `json:"request_errors"`
	Errors        []string `json:"errors,omitempty"`
	// HeldRequests were answered on the held connections during the step.
	HeldRequests int64 `json:"held_requests"`
	// LoaderFDs is the loader's open file descriptors at the step's end.
	LoaderFDs int `json:"loader_fds"`
	// Probe is the paced probe stream's step, with the target's and the
	// loader's CPU and memory over it. Absent when the step was not run.
	Probe *Observation `json:"probe,omitempty"`
	Pass  bool         `json:"pass"`
	// Why says why the step failed or was not run; Limit whose limit that
	// was (target, loader or kernel).
	Why   string `json:"why,omitempty"`
	Limit string `json:"limit,omitempty"`
}

// HoldCriteria decide a step.
type HoldCriteria struct {
	SLOP99 time.Duration
	// LoaderGuard is the loader CPU share above which a failing step is the
	// loader's.
	LoaderGuard float64
}

// loaderErrors are the errors of the loader's own limits: its file
// descriptors and its source ports.
var loaderErrors = []string{"too many open files", "cannot assign requested address"}

// Judge decides a step that ran: every connection held, no error, and the
// probe's p99 within the SLO. A failing step is the loader's when its CPU
// was past the guard or its errors are its own limits, else the target's.
func (c HoldCriteria) Judge(s *HoldStep) {
	var why []string
	if s.Held < s.Connections {
		why = append(why, fmt.Sprintf("held %d of %d connections", s.Held, s.Connections))
	}
	if n := s.ConnectErrors + s.RequestErrors; n > 0 {
		why = append(why, fmt.Sprintf("%d connect and %d request errors", s.ConnectErrors, s.RequestErrors))
	}
	if s.Probe == nil {
		why = append(why, "the probe did not run")
	}
	if p := s.Probe; p != nil {
		if ms := float64(c.SLOP99) / float64(time.Millisecond); p.Step.Corrected.P99 > ms {
			why = append(why, fmt.Sprintf("probe p99 %.2f ms over the SLO's %.0f ms", p.Step.Corrected.P99, ms))
		}
		if p.Step.Success < 1 {
			why = append(why, fmt.Sprintf("probe success %.4f", p.Step.Success))
		}
	}
	s.Pass = len(why) == 0
	if s.Pass {
		return
	}
	s.Why, s.Limit = strings.Join(why, "; "), BoundTarget
	if p := s.Probe; p != nil && c.LoaderGuard > 0 && p.LoaderCPU > c.LoaderGuard {
		s.Why += fmt.Sprintf(" (loader CPU at %.0f%%)", 100*p.LoaderCPU)
		s.Limit = BoundLoader
	}
	for _, e := range s.Errors {
		for _, own := range loaderErrors {
			if strings.Contains(strings.ToLower(e), own) {
				s.Why += " (the loader's: " + own + ")"
				s.Limit = BoundLoader
				return
			}
		}
	}
}

// HoldResult is the run's outcome.
type HoldResult struct {
	Steps []HoldStep `json:"steps"`
	// MaxConnections is the last step that passed; 0 when none did.
	MaxConnections int `json:"max_connections"`
	// Bound is whose limit ended the run: target, loader, kernel, steps
	// (all passed) or error (none passed).
	Bound string `json:"bound"`
	Note  string `json:"note,omitempty"`
	// RSSPerConnKB is the target's memory per held connection: the
	// least-squares slope of its mean RSS over the connections held, over
	// the passing steps (KiB); 0 with fewer than two.
	RSSPerConnKB float64 `json:"rss_per_conn_kb"`
	// P99AtMaxMS is the probe's p99 at MaxConnections.
	P99AtMaxMS float64 `json:"p99_at_max_ms"`
}

// SummariseHold reads the run's outcome from its steps, which end at the
// first that failed or was not run.
func SummariseHold(steps []HoldStep) HoldResult {
	r := HoldResult{Steps: steps, Bound: BoundError}
	var xs, ys []float64
	for _, s := range steps {
		if !s.Pass {
			break
		}
		r.MaxConnections, r.P99AtMaxMS = s.Connections, s.Probe.Step.Corrected.P99
		if t := s.Probe.Target; t != nil && t.RSSMeanMB > 0 {
			xs, ys = append(xs, float64(s.Held)), append(ys, t.RSSMeanMB*1024)
		}
	}
	r.RSSPerConnKB = slope(xs, ys)
	switch last := len(steps) - 1; {
	case last < 0:
		r.Note = "no step ran"
	case steps[last].Pass:
		r.Bound = BoundSteps
		r.Note = fmt.Sprintf("every step passed up to %d connections: a lower bound", r.MaxConnections)
	case r.MaxConnections == 0:
		r.Note = fmt.Sprintf("the first step failed (%s): %s", steps[last].Limit, steps[last].Why)
	default:
		r.Bound = steps[last].Limit
		r.Note = fmt.Sprintf("at %d connections: %s", steps[last].Connections, steps[last].Why)
	}
	return r
}

// LowerBound reports whether a connection count with this bound is only a
// floor of the target's (anything but its own limit).
func (r HoldResult) LowerBound() bool {
	return r.MaxConnections > 0 && r.Bound != BoundTarget
}

// slope is the least-squares slope of ys over xs; 0 when undefined.
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx, sy, sxx, sxy = sx+xs[i], sy+ys[i], sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}
