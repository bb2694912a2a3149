package runtimes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/sample"
	"github.com/benchharness/harness/harness/targets"
)

// Local builds targets natively and runs each as a process group inside a
// cgroup of its own (CPU set + CFS quota), falling back to CPU affinity
// alone where cgroups cannot be written.
type Local struct {
	// InstallMissing installs missing Debian packages when running as root.
	InstallMissing bool
	// Log receives one line per install, for the user.
	Log io.Writer

	aptOnce sync.Once
	aptErr  error
}

func (l *Local) Name() string { return "local" }

// Prepare checks the toolchain and the target's own requirements, installing
// their Debian packages if allowed, and builds the target.
func (l *Local) Prepare(ctx context.Context, m *targets.Manifest, logPath string) error {
	if miss := l.ensure(ctx, m.CheckToolchain, m); miss != nil {
		return &SkipError{Missing: *miss}
	}
	if miss := l.ensure(ctx, func() *targets.Missing { return m.CheckRequirements(ctx) }, m); miss != nil {
		return &SkipError{Missing: *miss}
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	_, err = build(ctx, m, f)
	return err
}

// ensure runs check; when it fails with Debian packages that would fix it
// and installing is allowed, it installs them and checks again.
func (l *Local) ensure(ctx context.Context, check func() *targets.Missing, m *targets.Manifest) *targets.Missing {
	miss := check()
	if miss == nil || !l.InstallMissing || len(miss.Apt) == 0 {
		return miss
	}
	if err := l.Install(ctx, miss.Apt); err != nil {
		miss.What += "; installing it failed: " + err.Error()
		return miss
	}
	return check()
}

// Install installs Debian packages; it needs root and apt-get.
func (l *Local) Install(ctx context.Context, pkgs []string) error {
	if !targets.CanAptInstall() {
		return errors.New("installing needs root and apt-get")
	}
	if len(pkgs) == 0 {
		return errors.New("no Debian package is named for it")
	}
	l.aptOnce.Do(func() {
		// The package lists of a fresh machine may be empty or stale.
		l.aptErr = exec.CommandContext(ctx, "apt-get", "update", "-q").Run()
	})
	if l.aptErr != nil {
		return fmt.Errorf("apt-get update: %w", l.aptErr)
	}
	if l.Log != nil {
		fmt.Fprintf(l.Log, "installing %s with apt-get\n", strings.Join(pkgs, " "))
	}
	cmd := exec.CommandContext(ctx, "apt-get", append([]string{"install", "-y", "-q", "--no-install-recommends"}, pkgs...)...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get install %s: %w: %s", strings.Join(pkgs, " "), err, tail(string(out), 3))
	}
	return nil
}

// FreePort asks the kernel for a free loopback port. Another process could
// take it before the server binds it; the health check then fails clearly.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// joinScript moves the shell into the target's cgroups, pins it, then execs
// the server, so the server and every process it forks start inside their
// budget: no window in which a child escapes it.
const joinScript = `for f in $BENCH_CGROUP_JOIN; do echo $$ > "$f" || exit 97; done
exec taskset -c "$BENCH_CPUS" "$@"`

// localPinning says how a local target's budget is enforced, given the
// cgroup made for it (g) or why none could be (err): the record's text, and
// whether the budget went unenforced. Without a cgroup, taskset still keeps
// the target on its CPUs, which enforces a whole-CPU budget but not a
// fractional one: a target meant to get a third of a CPU then has all of it.
func localPinning(limits cpuset.Limits, g cpuset.Group, err error) (pinning string, unpinned bool) {
	cpus := cpuset.List(limits.CPUs)
	switch {
	case err == nil && limits.Quota > 0:
		return fmt.Sprintf("cgroup %s cpuset %s, CFS quota %.3g CPU per %s", g.Version(), cpus, limits.Quota, limits.Period), false
	case err == nil:
		return fmt.Sprintf("cgroup %s cpuset %s", g.Version(), cpus), false
	case limits.Quota > 0:
		return fmt.Sprintf("unpinned: affinity CPUs %s only, the %.3g-CPU quota is not enforced (no cgroup: %v)", cpus, limits.Quota, err), true
	}
	return fmt.Sprintf("affinity CPUs %s (no cgroup: budget not enforced as a quota)", cpus), false
}

// BudgetLimits are the cgroup limits of a budget of budget CPUs on cpus: a
// CFS quota only when the budget is less than the CPUs (the CPU set alone
// enforces a whole-CPU budget).
func BudgetLimits(cpus []int, budget float64, period time.Duration, memoryBytes int64) cpuset.Limits {
	limits := cpuset.Limits{CPUs: cpus, Period: period, MemoryBytes: memoryBytes}
	if budget > 0 && budget < float64(len(cpus)) {
		limits.Quota = budget
	}
	return limits
}

// Pinned is a server's budget, made before the server starts: its cgroup
// (nil when none could be made) and how the budget is enforced. Local
// targets and the database server (harness/database) start the same way.
type Pinned struct {
	Limits cpuset.Limits
	Group  cpuset.Group
	// Pinning and Unpinned: see localPinning.
	Pinning  string
	Unpinned bool
}

// Pin makes the cgroup called name with limits; without one, Command
// still pins the CPUs with taskset.
func Pin(name string, limits cpuset.Limits) *Pinned {
	p := &Pinned{Limits: limits}
	g, err := cpuset.New(name, limits)
	if err == nil {
		p.Group = g
	}
	p.Pinning, p.Unpinned = localPinning(limits, g, err)
	return p
}

// Command runs argv through joinScript inside the group, on its CPUs, with
// env (KEY=VALUE, the whole environment) plus the script's variables.
// The command gets its own process group: Ctrl-C on the terminal reaches
// the harness only, which then stops the server itself; Pdeathsig covers a
// harness that is killed outright.
func (p *Pinned) Command(argv []string, env []string) *exec.Cmd {
	cmd := exec.Command("sh", append([]string{"-c", joinScript, "sh"}, argv...)...)
	env = append(env, "BENCH_CPUS="+cpuset.List(p.Limits.CPUs))
	if p.Group != nil {
		env = append(env, "BENCH_CGROUP_JOIN="+strings.Join(p.Group.JoinFiles(), " "))
	}
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Usage samples the server started as pid: its cgroup's processes when it
// has a group, else pid's process tree.
func (p *Pinned) Usage(pid int) sample.Source {
	if p.Group == nil {
		return sample.NewProcesses(sample.Tree(int32(pid)))
	}
	procs := sample.NewProcesses(p.Group.PIDs)
	// CPU from the group's own counter when there is one: it also counts
	// children that exited between two readings.
	if dir := p.Group.CPUAccountingDir(); dir != "" {
		if cg, err := sample.ForDir(dir); err == nil {
			procs.CPUFrom(cg.CPUSeconds)
		}
	}
	return procs
}

// Remove deletes the group, killing whatever is left in it.
func (p *Pinned) Remove() error {
	if p.Group == nil {
		return nil
	}
	return p.Group.Remove()
}

// Start launches the target and waits for its health check.
func (l *Local) Start(ctx context.Context, m *targets.Manifest, spec Spec) (Instance, error) {
	port, err := FreePort()
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	env := buildEnv(m)
	maps.Copy(env, spec.Env)
	env["PORT"] = strconv.Itoa(port)
	env["HOST"] = "127.0.0.1"
	env["VCPUS"] = strconv.Itoa(spec.Plan.Workers())
	argv := make([]string, len(m.Run))
	for i, a := range m.Run {
		argv[i] = os.Expand(a, func(k string) string {
			if v, ok := env[k]; ok {
				return v
			}
			return os.Getenv(k)
		})
	}

	inst := &localInstance{url: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan struct{})}
	pin := Pin("bench-"+spec.Name, BudgetLimits(spec.Plan.TargetCPUs, spec.Plan.Budget, spec.QuotaPeriod, spec.MemoryBytes))
	inst.group, inst.pinning, inst.unpinned = pin.Group, pin.Pinning, pin.Unpinned

	logf, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		inst.cleanupGroup()
		return nil, fmt.Errorf("open log: %w", err)
	}
	fmt.Fprintf(logf, "== run %s (%s): %s\n", m.Name, inst.pinning, strings.Join(argv, " "))
	cmd := pin.Command(argv, environ(env))
	cmd.Dir = m.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		inst.cleanupGroup()
		return nil, fmt.Errorf("start %s: %w", m.Name, err)
	}
	inst.cmd, inst.log = cmd, logf
	go func() {
		inst.err = cmd.Wait()
		close(inst.done)
	}()
	inst.usage = pin.Usage(cmd.Process.Pid)
	if err := waitHealthy(ctx, inst, m.Health, m.Timeout()); err != nil {
		_ = inst.Stop(context.Background())
		return nil, fmt.Errorf("start %s: %w", m.Name, err)
	}
	return inst, nil
}

func waitHealthy(ctx context.Context, inst *localInstance, path string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(inst.url + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no 200 from %s within %s (last: %v)", path, timeout, statusOrErr(resp, err))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-inst.done:
			return fmt.Errorf("exited before answering %s: %v", path, inst.err)
		case <-tick.C:
		}
	}
}

func statusOrErr(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}

type localInstance struct {
	url     string
	cmd     *exec.Cmd
	log     *os.File
	group   cpuset.Group
	usage   sample.Source
	pinning string
	// unpinned: the budget could not be enforced (see localPinning).
	unpinned bool

	done     chan struct{}
	err      error
	stopOnce sync.Once
	stopErr  error
}

func (i *localInstance) URL() string           { return i.url }
func (i *localInstance) Usage() sample.Source  { return i.usage }
func (i *localInstance) Done() <-chan struct{} { return i.done }
func (i *localInstance) Pinning() string       { return i.pinning }
func (i *localInstance) Unpinned() bool        { return i.unpinned }
func (i *localInstance) Err() error            { return i.err }

// Stop sends SIGTERM to the process group, SIGKILL after a grace period,
// then removes the cgroup, which kills anything that left the group.
func (i *localInstance) Stop(ctx context.Context) error {
	i.stopOnce.Do(func() {
		pgid := i.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-i.done:
		case <-time.After(3 * time.Second):
		case <-ctx.Done():
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-i.done
		i.stopErr = i.cleanupGroup()
		i.log.Close()
	})
	return i.stopErr
}

func (i *localInstance) cleanupGroup() error {
	if i.group == nil {
		return nil
	}
	return i.group.Remove()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
