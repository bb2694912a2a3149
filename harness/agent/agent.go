package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/load"
)

// Run is an agent: it runs each command from cmds as one step and writes a
// report line for it to out, until cmds ends, a Stop command, or ctx. A
// step that fails is reported, not returned: the coordinator decides.
func Run(ctx context.Context, index int, cmds Commands, out io.Writer) error {
	host, _ := os.Hostname()
	a := &runner{index: index, host: host, pid: os.Getpid(), cpus: cpuset.Capacity()}
	defer a.close()
	for {
		cmd, err := cmds.Next(ctx)
		if errors.Is(err, io.EOF) || err == nil && cmd.Stop {
			return nil
		}
		if err != nil {
			return err
		}
		if err := WriteReport(out, a.step(ctx, cmd)); err != nil {
			return fmt.Errorf("agent %d: write report: %w", index, err)
		}
	}
}

type runner struct {
	index    int
	host     string
	pid      int
	cpus     float64
	sentinel *load.Sentinel
}

func (a *runner) close() {
	if a.sentinel != nil {
		_ = a.sentinel.Close()
	}
}

// step runs one command: the attack and, beside it from the same instant,
// the sentinel stream, with the process's CPU read around both.
func (a *runner) step(ctx context.Context, cmd Command) Report {
	r := Report{Agent: a.index, Seq: cmd.Seq, Host: a.host, PID: a.pid, Rate: cmd.Rate, StartAt: cmd.StartAt,
		Offset: time.Duration(a.index) * cmd.Stagger, CPUs: a.cpus}
	if err := validate(cmd); err != nil {
		r.Error = err.Error()
		return r
	}
	load.Collect() // before the sentinel starts beside the attack
	added, err := a.startSentinel(ctx, cmd)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	cfg := load.ProfileConfig(cmd.Loader, cmd.Rate, cmd.Duration.D())
	cfg.StartAt = cmd.StartAt.Add(r.Offset)
	c0 := load.ProcessCPU()
	st, tally, err := load.AttackTally(ctx, load.NewMix(cmd.URL, cmd.Scenario), cfg)
	r.CPUSeconds = (load.ProcessCPU() - c0).Seconds()
	if !st.Began.IsZero() {
		r.WallSeconds = time.Since(st.Began).Seconds()
	}
	r.Began, r.Tally, r.LatenessP95, r.SpinS = st.Began, tally, st.LatenessP95, st.SpinS
	if err != nil {
		r.Error = err.Error()
	}
	r.Added = <-added
	return r
}

func validate(cmd Command) error {
	switch {
	case cmd.Scenario == nil || len(cmd.Scenario.Requests) == 0:
		return errors.New("command has no scenario requests")
	case cmd.URL == "":
		return errors.New("command has no url")
	case cmd.Rate <= 0 || cmd.Duration <= 0:
		return fmt.Errorf("command needs a positive rate and duration, got %g req/s for %s", cmd.Rate, cmd.Duration.D())
	case cmd.StartAt.IsZero():
		return errors.New("command has no start_at")
	}
	return nil
}

// startSentinel starts the sentinel stream at the step's start, if asked;
// its result (nil if not measured or failed) arrives on the channel.
func (a *runner) startSentinel(ctx context.Context, cmd Command) (<-chan *load.Latency, error) {
	added := make(chan *load.Latency, 1)
	if !cmd.Sentinel {
		added <- nil
		return added, nil
	}
	if a.sentinel == nil {
		s, err := load.StartSentinel()
		if err != nil {
			return nil, err
		}
		a.sentinel = s
	}
	go func() {
		select {
		case <-ctx.Done():
			added <- nil
			return
		case <-time.After(time.Until(cmd.StartAt)):
		}
		lat, err := a.sentinel.Measure(ctx, cmd.Duration.D())
		if err != nil {
			added <- nil
			return
		}
		added <- &lat
	}()
	return added, nil
}
