package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/logline"
)

// Local is a coordinator of agents run as processes of the harness binary
// on this machine, each pinned to its own group of the loader's CPUs.
type Local struct {
	agents []*process
	seq    int
	// shared is set when agents share a CPU: none of them may then
	// busy-wait (load.SpinPolicy), or each would spin while the other,
	// runnable on that CPU, waits for it.
	shared bool
	// lead is how far ahead of now a step's shared start instant is set
	// when the command has none: time for every agent to read its command
	// and arm its timer.
	lead time.Duration
}

// Info describes a running agent, for the run's manifest.
type Info struct {
	Agent int `json:"agent"`
	// PID and CPUs are a local agent's process and pinning; Pod a
	// cluster agent's pod (its CPUs are the pod's).
	PID  int    `json:"pid,omitempty"`
	CPUs string `json:"cpus,omitempty"`
	Pod  string `json:"pod,omitempty"`
	// Log is where its own messages go: a file, or the pod's log.
	Log string `json:"log"`
}

type process struct {
	info    Info
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	reports chan Report
	done    chan struct{}
	err     error // how it exited, once done is closed
}

// Groups splits the loader's CPUs among n agents: contiguous groups when
// there are at least n CPUs, otherwise agents share CPUs round-robin.
func Groups(cpus []int, n int) [][]int {
	out := make([][]int, n)
	if len(cpus) >= n {
		for i, c := range cpus {
			g := i * n / len(cpus)
			out[g] = append(out[g], c)
		}
		return out
	}
	for i := range out {
		out[i] = []int{cpus[i%len(cpus)]}
	}
	return out
}

// overlap reports whether a CPU is in two groups, or a group is empty
// (unpinned: it may run anywhere, on any other agent's CPU).
func overlap(groups [][]int) bool {
	seen := map[int]bool{}
	for _, g := range groups {
		if len(g) == 0 && len(groups) > 1 {
			return true
		}
		for _, c := range g {
			if seen[c] {
				return true
			}
			seen[c] = true
		}
	}
	return false
}

// StartLocal starts one agent per CPU group: `exe agent -index i -cpus …`,
// its errors going to logDir/agent-<i>.log.
func StartLocal(ctx context.Context, exe string, groups [][]int, logDir string) (*Local, error) {
	l := &Local{lead: 300 * time.Millisecond, shared: overlap(groups)}
	for i, cpus := range groups {
		p, err := startProcess(exe, i, cpus, filepath.Join(logDir, fmt.Sprintf("agent-%d.log", i)))
		if err != nil {
			l.Close()
			return nil, err
		}
		l.agents = append(l.agents, p)
	}
	return l, ctx.Err()
}

func startProcess(exe string, index int, cpus []int, logPath string) (*process, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("agent %d: %w", index, err)
	}
	defer logf.Close()
	cmd := exec.Command(exe, "agent", "-index", fmt.Sprint(index), "-cpus", cpuset.List(cpus))
	// Its own process group, so a terminal's Ctrl-C reaches the harness
	// alone and the harness stops its agents; killed if the harness dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = logf
	p := &process{info: Info{Agent: index, CPUs: cpuset.List(cpus), Log: logPath}, cmd: cmd,
		reports: make(chan Report, 4), done: make(chan struct{})}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("agent %d: %w", index, err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("agent %d: %w", index, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("agent %d: start %s: %w", index, exe, err)
	}
	p.info.PID = cmd.Process.Pid
	go p.read(out)
	return p, nil
}

// read passes the agent's reports on until its output ends, then waits
// for it to exit.
func (p *process) read(out io.Reader) {
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		if r, ok, err := ParseReport(sc.Bytes()); ok {
			if err != nil {
				r = Report{Agent: p.info.Agent, PID: p.info.PID, Error: err.Error()}
			}
			p.reports <- r
		}
	}
	p.err = p.cmd.Wait()
	close(p.done)
}

// Lead is how far ahead of now a step's start instant must be.
func (l *Local) Lead() time.Duration { return l.lead }

// Agents describes the running agents.
func (l *Local) Agents() []Info {
	out := make([]Info, len(l.agents))
	for i, p := range l.agents {
		out[i] = p.info
	}
	return out
}

// Step runs cmd split across the agents, all starting Lead from now, and
// merges their reports. An agent that fails, dies or does not answer in
// time fails the step.
func (l *Local) Step(ctx context.Context, cmd Command) (Merged, error) {
	l.seq++
	cmd.Seq = l.seq
	if cmd.StartAt.IsZero() {
		cmd.StartAt = time.Now().Add(l.lead)
	}
	if l.shared {
		cmd.Loader.SpinBelow = 0
	}
	cmds := Split(cmd, len(l.agents))
	for i, p := range l.agents {
		if err := json.NewEncoder(p.stdin).Encode(cmds[i]); err != nil {
			return Merged{}, p.failure(cmd.Seq, p.sendFailed(err))
		}
	}
	// An agent's attack ends by Duration; its slowest request by the
	// loader's timeout after that.
	deadline := cmd.StartAt.Add(cmd.Duration.D() + cmd.Loader.Timeout.D() + 10*time.Second)
	reports := make([]Report, 0, len(l.agents))
	for _, p := range l.agents {
		r, err := p.await(ctx, cmd.Seq, deadline)
		if err != nil {
			return Merged{}, err
		}
		reports = append(reports, r)
	}
	return Merge(cmd.StartAt, cmd.Rate, reports)
}

func (p *process) await(ctx context.Context, seq int, deadline time.Time) (Report, error) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		select {
		case r := <-p.reports:
			if r.Seq == seq || r.Seq == 0 {
				return r, nil
			}
		case <-p.done:
			return Report{}, p.failure(seq, fmt.Errorf("exited (%v)", p.err))
		case <-timer.C:
			return Report{}, p.failure(seq, errors.New("sent no report in time"))
		case <-ctx.Done():
			return Report{}, ctx.Err()
		}
	}
}

// sendFailed says why a command could not be written to the agent: how it
// ended, when it has. Its input is closed once it is reaped, so a killed
// agent's write fails with "file already closed"; one not reaped yet, with
// a broken pipe, and its exit is awaited a moment.
func (p *process) sendFailed(err error) error {
	select {
	case <-p.done:
	case <-time.After(time.Second):
		return fmt.Errorf("send its command: %w", err)
	}
	return fmt.Errorf("exited (%v); its command could not be sent: %w", p.err, err)
}

func (p *process) failure(seq int, err error) error {
	return fmt.Errorf("agent %d (pid %d, CPUs %s) during step %d: %w%s", p.info.Agent, p.info.PID, p.info.CPUs, seq, err, logTail(p.info.Log))
}

// Close stops every agent: a Stop command and end of input for one that is
// waiting for its next command, SIGTERM for one still in a step (which ends
// the step early), then SIGKILL to its process group for any still running
// after a grace period.
func (l *Local) Close() {
	for _, p := range l.agents {
		_ = json.NewEncoder(p.stdin).Encode(Command{Stop: true})
		_ = p.stdin.Close()
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.Now().Add(3 * time.Second)
	for _, p := range l.agents {
		select {
		case <-p.done:
		case <-time.After(time.Until(deadline)):
			_ = syscall.Kill(-p.info.PID, syscall.SIGKILL)
			<-p.done
		}
	}
}

// logTail is the end of an agent's log, for a failure's message, as a
// cluster agent's is quoted (runtimes/k8s).
func logTail(path string) string {
	lines, err := logline.TailFile(path, 10)
	if err != nil || strings.TrimSpace(strings.Join(lines, "")) == "" {
		return ""
	}
	return "; its log ends: " + strings.Join(lines, " | ")
}
