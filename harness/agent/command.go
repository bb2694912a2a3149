package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/benchharness/harness/harness/scenario"
)

// Command is one step for one agent.
type Command struct {
	// Seq numbers the steps of a run from 1; a report answers its Seq.
	Seq int `json:"seq"`
	// Stop ends the agent (it exits 0); the other fields are then unset.
	Stop bool `json:"stop,omitempty"`
	// URL is the target's base URL and Scenario its requests (load.NewMix).
	URL      string             `json:"url"`
	Scenario *scenario.Scenario `json:"scenario"`
	// Rate is this agent's share of the step, in req/s, for Duration.
	Rate     float64           `json:"rate"`
	Duration scenario.Duration `json:"duration"`
	// StartAt is the instant the step starts at; agent i starts i ×
	// Stagger after it (Split), so every agent can be sent the same command.
	StartAt time.Time     `json:"start_at"`
	Stagger time.Duration `json:"stagger_ns"`
	// Loader is this agent's share of the loader settings (Split).
	Loader scenario.Loader `json:"loader"`
	// Sentinel measures the latency the agent adds (load.Sentinel).
	Sentinel bool `json:"sentinel"`
}

// Split divides a step among n agents: each offers rate/n with its share of
// the workers and connections (rounded up, at least one each). The shares
// are the same command: agent i starts i/rate after the shared instant
// (Stagger), so that their hits interleave into the one constant-rate
// stream a single loader would send, rather than leaving n at a time.
func Split(c Command, n int) []Command {
	share := func(v int) int { return max(1, int(math.Ceil(float64(v)/float64(n)))) }
	out := make([]Command, n)
	for i := range out {
		out[i] = c
		out[i].Rate = c.Rate / float64(n)
		out[i].Stagger = time.Duration(float64(time.Second) / c.Rate)
		out[i].Loader.Workers = share(c.Loader.Workers)
		out[i].Loader.MaxWorkers = share(c.Loader.MaxWorkers)
		out[i].Loader.Connections = share(c.Loader.Connections)
	}
	return out
}

// Commands is where an agent's commands come from: a coordinator's pipe on
// one machine (Lines), the Kubernetes API in a cluster.
type Commands interface {
	// Next waits for the next command; io.EOF when there are no more.
	Next(ctx context.Context) (Command, error)
}

// Lines reads commands as JSON, one per line (a local coordinator writes
// them to the agent's standard input).
func Lines(r io.Reader) Commands {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	return &lines{sc: sc}
}

type lines struct {
	sc *bufio.Scanner
}

func (l *lines) Next(ctx context.Context) (Command, error) {
	for l.sc.Scan() {
		if len(l.sc.Bytes()) == 0 {
			continue
		}
		var c Command
		if err := json.Unmarshal(l.sc.Bytes(), &c); err != nil {
			return Command{}, fmt.Errorf("agent: read a command: %w", err)
		}
		return c, ctx.Err()
	}
	if err := l.sc.Err(); err != nil {
		return Command{}, fmt.Errorf("agent: read commands: %w", err)
	}
	return Command{}, io.EOF
}
