package agent

import (
	"fmt"
	"io"
	"time"

	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/logline"
)

// Report is an agent's answer to one command.
type Report struct {
	Agent int    `json:"agent"`
	Seq   int    `json:"seq"`
	Host  string `json:"host"`
	PID   int    `json:"pid"`
	// Rate is the agent's share of the step (req/s).
	Rate float64 `json:"rate"`
	// StartAt is the shared instant and Offset this agent's start after it;
	// Began when its first hit was due, as its pacer saw it.
	StartAt time.Time     `json:"start_at"`
	Offset  time.Duration `json:"offset_ns"`
	Began   time.Time     `json:"began"`
	// Tally is every request the agent sent in the step.
	Tally *load.Tally `json:"tally,omitempty"`
	// LatenessP95 and SpinS are the pacer's (load.Step).
	LatenessP95 float64 `json:"pacer_lateness_p95_ms"`
	SpinS       float64 `json:"loader_spin_s"`
	// CPUSeconds is the agent's CPU over the step, WallSeconds the step's
	// length, CPUs the CPU it may use (affinity and quota).
	CPUSeconds  float64 `json:"cpu_s"`
	WallSeconds float64 `json:"wall_s"`
	CPUs        float64 `json:"cpus"`
	// Added is the agent's own added latency over the step (its sentinel).
	Added *load.Latency `json:"added_ms,omitempty"`
	// Error says why the agent could not run the step (then Tally is nil),
	// or what ended it early.
	Error string `json:"error,omitempty"`
}

// reportPrefix marks report lines in an agent's output, which in a cluster
// is its pod's log and may carry other lines.
const reportPrefix = "harness-agent-report "

// WriteReport writes r as one line.
func WriteReport(w io.Writer, r Report) error {
	if err := logline.Write(w, reportPrefix, r); err != nil {
		return fmt.Errorf("agent: report: %w", err)
	}
	return nil
}

// ParseReport reads a report line; ok is false for any other line.
func ParseReport(line []byte) (r Report, ok bool, err error) {
	ok, err = logline.Parse(line, reportPrefix, &r)
	if err != nil {
		return Report{}, true, fmt.Errorf("agent: report: %w", err)
	}
	return r, ok, nil
}
