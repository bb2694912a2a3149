package agent

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/benchharness/harness/harness/load"
)

// StartTolerance is how far apart the agents of one step may begin. Their
// latencies count from intended send times on each agent's own clock, so
// agents that began apart offered the target a different load than the
// step says (briefly more, or less), and their merged rate would be wrong.
const StartTolerance = 5 * time.Millisecond

// Figures are one agent's part of a merged step.
type Figures struct {
	Agent    int     `json:"agent"`
	Host     string  `json:"host"`
	PID      int     `json:"pid"`
	Offered  float64 `json:"offered_rps"`
	Achieved float64 `json:"achieved_rps"`
	Requests uint64  `json:"requests"`
	P95      float64 `json:"p95_ms"`
	// StartOffsetMS is how long after its due instant (the shared instant
	// plus its offset) the agent began.
	StartOffsetMS float64 `json:"start_offset_ms"`
	// LoaderCPU is the agent's CPU as a fraction of the CPU it may use;
	// LoaderWorkCPU the same less its busy-waiting.
	LoaderCPU       float64       `json:"loader_cpu"`
	LoaderWorkCPU   float64       `json:"loader_work_cpu"`
	CPUSeconds      float64       `json:"cpu_s"`
	CPUPerRequestUS float64       `json:"cpu_us_per_request"`
	Added           *load.Latency `json:"loader_added_ms,omitempty"`
}

// Merged is a step as all its agents measured it.
type Merged struct {
	Step load.Step
	// LoaderCPU and LoaderWorkCPU are the busiest agent's (fractions of
	// its CPUs) and Added the added latency of the agent with the largest
	// p95: a step is loader-bound when any agent is.
	LoaderCPU     float64
	LoaderWorkCPU float64
	Added         *load.Latency
	Agents        []Figures
}

// Merge joins one step's reports, one per agent, into one step.
func Merge(startAt time.Time, rate float64, reports []Report) (Merged, error) {
	var m Merged
	if len(reports) == 0 {
		return m, errors.New("agents: no report")
	}
	if err := checkReports(startAt, reports); err != nil {
		return m, err
	}
	all := load.NewTally()
	for _, r := range reports {
		all.Merge(r.Tally)
		m.Agents = append(m.Agents, figures(startAt, r))
	}
	m.Step = all.Step(rate)
	m.Step.Began = earliest(reports)
	for _, r := range reports {
		m.Step.LatenessP95 = max(m.Step.LatenessP95, r.LatenessP95)
		m.Step.SpinS += r.SpinS
	}
	for _, f := range m.Agents {
		m.LoaderCPU = max(m.LoaderCPU, f.LoaderCPU)
		m.LoaderWorkCPU = max(m.LoaderWorkCPU, f.LoaderWorkCPU)
		if f.Added != nil && (m.Added == nil || f.Added.P95 > m.Added.P95) {
			m.Added = f.Added
		}
	}
	return m, nil
}

// checkReports refuses a step whose agents failed or did not start together.
func checkReports(startAt time.Time, reports []Report) error {
	var failed []string
	for _, r := range reports {
		switch {
		case r.Error != "":
			failed = append(failed, fmt.Sprintf("agent %d (%s pid %d): %s", r.Agent, r.Host, r.PID, r.Error))
		case r.Tally == nil:
			failed = append(failed, fmt.Sprintf("agent %d (%s pid %d): no tally in its report", r.Agent, r.Host, r.PID))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("agents: %s", strings.Join(failed, "; "))
	}
	offsets := make([]time.Duration, len(reports))
	for i, r := range reports {
		offsets[i] = r.Began.Sub(startAt.Add(r.Offset))
	}
	if spread := slices.Max(offsets) - slices.Min(offsets); spread > StartTolerance {
		var at []string
		for i, r := range reports {
			at = append(at, fmt.Sprintf("agent %d at %+.3f ms", r.Agent, ms(offsets[i])))
		}
		return fmt.Errorf("agents: began %.3f ms apart (%s), more than the %s they may be apart: refused",
			ms(spread), strings.Join(at, ", "), StartTolerance)
	}
	return nil
}

func figures(startAt time.Time, r Report) Figures {
	st := r.Tally.Step(r.Rate)
	f := Figures{Agent: r.Agent, Host: r.Host, PID: r.PID, Offered: r.Rate, Achieved: st.Achieved, Requests: st.Requests,
		P95: st.Corrected.P95, StartOffsetMS: ms(r.Began.Sub(startAt.Add(r.Offset))), Added: r.Added, CPUSeconds: r.CPUSeconds}
	if r.WallSeconds > 0 && r.CPUs > 0 {
		f.LoaderCPU = r.CPUSeconds / r.WallSeconds / r.CPUs
		f.LoaderWorkCPU = max(0, r.CPUSeconds-r.SpinS) / r.WallSeconds / r.CPUs
	}
	if st.Requests > 0 {
		f.CPUPerRequestUS = r.CPUSeconds * 1e6 / float64(st.Requests)
	}
	return f
}

func earliest(reports []Report) time.Time {
	t := reports[0].Began
	for _, r := range reports[1:] {
		if r.Began.Before(t) {
			t = r.Began
		}
	}
	return t
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
