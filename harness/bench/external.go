package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/results"
	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/sample"
	"github.com/benchharness/harness/harness/targets"
)

// External is a server someone else started (docker compose, a shell, a
// remote-built binary): the harness measures it but never builds, pins,
// starts or stops it.
type External struct {
	// URL is its base URL on loopback, e.g. http://127.0.0.1:8081.
	URL string
	// PID, when set, is sampled with its process tree (CPU and RSS).
	PID int
	// Container, when set, is a container id or name sampled from its
	// cgroup (or the stats API).
	Container string
	// VCPUs is its CPU budget; 0 takes the container's limit, else the
	// number of CPUs it may run on.
	VCPUs float64
	// Timeout bounds the wait for its health check (30 s when zero).
	Timeout time.Duration
}

// MeasureExternal runs the pipeline of Run (verify, warm-up, fixed rate,
// peak search) against an already-running server, as the single target of
// o.Targets (its name; its target.yaml when there is one). o.Runtime is
// replaced by the external runtime. The loader is pinned to the CPUs the
// server does not use, when it uses fewer than all.
func MeasureExternal(ctx context.Context, o Options, ext External) (*results.Run, string, error) {
	if len(o.Targets) != 1 {
		return nil, "", errors.New("measure one external server at a time")
	}
	rt, err := newExternalRuntime(ctx, ext)
	if err != nil {
		return nil, "", err
	}
	defer rt.close()
	o.Runtime = rt
	plan, warn, err := externalPlan(rt.cpus, rt.budget)
	if err != nil {
		return nil, "", err
	}
	if warn != "" {
		o.Progress.Logf("%s", warn)
	}
	return runWithPlan(ctx, o, plan)
}

// ExternalManifest is the manifest of an external server called name: its
// targets/<name>/target.yaml when root has one (language, framework, the
// article's row, health path), else a bare one.
func ExternalManifest(targetsDir, name string) (*targets.Manifest, error) {
	if _, err := os.Stat(filepath.Join(targetsDir, name, "target.yaml")); err == nil {
		return targets.Load(filepath.Join(targetsDir, name))
	}
	if name == "" || strings.ContainsAny(name, "/ ") {
		return nil, fmt.Errorf("target name %q: want a plain name", name)
	}
	return &targets.Manifest{Name: name, Language: "?", Framework: "external server", Health: "/health"}, nil
}

// externalPlan places an external server's budget: the target's CPUs are
// the server's, the loader gets the others this process may use, or shares
// all of them (with a warning) when the server may run anywhere.
func externalPlan(serverCPUs []int, budget float64) (cpuset.Plan, string, error) {
	given, err := cpuset.Given()
	if err != nil {
		return cpuset.Plan{}, "", err
	}
	if len(serverCPUs) == 0 {
		serverCPUs = given
	}
	if budget <= 0 {
		budget = float64(len(serverCPUs))
	}
	var loader []int
	for _, c := range given {
		if !slices.Contains(serverCPUs, c) {
			loader = append(loader, c)
		}
	}
	warn := ""
	if len(loader) == 0 {
		loader = given
		warn = fmt.Sprintf("the server may run on every CPU this process has (%s): the loader shares them, so CPU figures mix both; "+
			"start the server on a CPU set (compose: cpuset) to separate them", cpuset.List(given))
	}
	return cpuset.Plan{TargetCPUs: serverCPUs, Budget: budget, LoaderCPUs: loader}, warn, nil
}

// externalRuntime is the Runtime of MeasureExternal: Prepare does nothing,
// Start waits for the health check of what is already running.
type externalRuntime struct {
	ext      External
	cpus     []int
	budget   float64
	usage    sample.Source
	sampling string
	exited   <-chan struct{}
	cancel   context.CancelFunc
}

func newExternalRuntime(ctx context.Context, ext External) (*externalRuntime, error) {
	if !strings.HasPrefix(ext.URL, "http://127.") && !strings.HasPrefix(ext.URL, "http://localhost") && !strings.HasPrefix(ext.URL, "http://[::1]") {
		return nil, fmt.Errorf("--url %s: the harness only loads servers on this machine's loopback (http://127.0.0.1:PORT)", ext.URL)
	}
	if ext.PID > 0 && ext.Container != "" {
		return nil, errors.New("give --pid or --container, not both")
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &externalRuntime{ext: ext, budget: ext.VCPUs, cancel: cancel, usage: unsampled{}, sampling: "not sampled (no --pid or --container)"}
	switch {
	case ext.PID > 0:
		if _, err := os.Stat("/proc/" + strconv.Itoa(ext.PID)); err != nil {
			cancel()
			return nil, fmt.Errorf("--pid %d: no such process", ext.PID)
		}
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(ext.PID, &set); err == nil {
			for c := 0; c < 1024; c++ {
				if set.IsSet(c) {
					r.cpus = append(r.cpus, c)
				}
			}
		}
		r.usage = sample.NewProcesses(sample.Tree(int32(ext.PID)))
		r.sampling = fmt.Sprintf("process tree of pid %d", ext.PID)
		r.exited = watchPID(wctx, ext.PID)
	case ext.Container != "":
		cli, err := runtimes.NewClient(ctx)
		if err != nil {
			cancel()
			return nil, err
		}
		info, err := runtimes.InspectContainer(wctx, cli, ext.Container)
		if err != nil {
			cancel()
			return nil, err
		}
		r.cpus, r.usage, r.exited = info.CPUs, info.Usage, info.Exited
		r.sampling = fmt.Sprintf("container %s (%.12s), %s", info.Name, info.ID, info.Sampling)
		if r.budget <= 0 {
			r.budget = info.Budget
		}
	}
	return r, nil
}

func (r *externalRuntime) close() { r.cancel() }

func (r *externalRuntime) Name() string { return "external" }

func (r *externalRuntime) Prepare(context.Context, *targets.Manifest, string) error { return nil }

func (r *externalRuntime) Start(ctx context.Context, m *targets.Manifest, spec runtimes.Spec) (runtimes.Instance, error) {
	timeout := r.ext.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	url := strings.TrimRight(r.ext.URL, "/")
	if err := waitHealth(ctx, url+m.Health, timeout, r.exited); err != nil {
		return nil, fmt.Errorf("external server %s: %w", url, err)
	}
	pin := fmt.Sprintf("external (started outside the harness, not pinned by it): CPUs %s, budget %.3g vCPU, sampled from %s",
		cpuset.List(spec.Plan.TargetCPUs), spec.Plan.Budget, r.sampling)
	done := make(chan struct{})
	inst := &externalInstance{url: url, usage: r.usage, pinning: pin, done: done, stopCh: make(chan struct{})}
	if r.exited != nil {
		go func() {
			select {
			case <-r.exited:
				inst.err = errors.New("the external server exited")
				close(done)
			case <-inst.stopCh:
			}
		}()
	}
	return inst, nil
}

func waitHealth(ctx context.Context, url string, timeout time.Duration, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	var last string
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no 200 from %s within %s (last: %s)", url, timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errors.New("it exited before answering its health check")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// watchPID is closed when pid no longer exists.
func watchPID(ctx context.Context, pid int) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if unix.Kill(pid, 0) == unix.ESRCH {
					return
				}
			}
		}
	}()
	return ch
}

type externalInstance struct {
	url, pinning string
	usage        sample.Source
	done         chan struct{}
	err          error
	stopOnce     sync.Once
	stopCh       chan struct{}
}

func (i *externalInstance) URL() string           { return i.url }
func (i *externalInstance) Usage() sample.Source  { return i.usage }
func (i *externalInstance) Done() <-chan struct{} { return i.done }
func (i *externalInstance) Err() error            { return i.err }
func (i *externalInstance) Pinning() string       { return i.pinning }

// Stop leaves the server running: the harness did not start it.
func (i *externalInstance) Stop(context.Context) error {
	i.stopOnce.Do(func() { close(i.stopCh) })
	return nil
}

// unsampled is the Source of a server given by URL alone: every read fails,
// so its CPU and memory stay unmeasured (0) rather than made up.
type unsampled struct{}

func (unsampled) Read(context.Context) (sample.Reading, error) {
	return sample.Reading{}, errors.New("not sampled: give --pid or --container")
}
