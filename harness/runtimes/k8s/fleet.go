package k8s

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/benchharness/harness/harness/agent"
)

// Fleet is the loader on a cluster: the run's Indexed Job of agents, driven
// through their ConfigMap and read from their logs. It is a bench.Fleet.
type Fleet struct {
	cs     kubernetes.Interface
	run    Run
	cm     *corev1.ConfigMap
	agents []*agentPod
	seq    int
	// StartLead is how far ahead of now a step's shared start is set when
	// the command has none: time for the ConfigMap's change to reach every
	// agent's watch.
	StartLead time.Duration
	// Poll is how often pods' states are read.
	Poll time.Duration
	// StopGrace is how long Close waits for the agents to exit on their
	// Stop command before their objects are deleted.
	StopGrace time.Duration
	// Log receives what Close could not clean up.
	Log io.Writer

	stopLogs context.CancelFunc
}

type agentPod struct {
	info   agent.Info
	name   string
	stream *reportStream
}

// completionIndex is the annotation the Job controller gives each pod.
const completionIndex = "batch.kubernetes.io/job-completion-index"

// agentSelector selects the run's agent pods.
func (r Run) agentSelector() string {
	return r.RunSelector() + "," + LabelComponent + "=" + ComponentAgent
}

// loaderSelector selects everything of the run's loader.
func (r Run) loaderSelector() string {
	return fmt.Sprintf("%s,%s in (%s,%s)", r.RunSelector(), LabelComponent, ComponentAgent, ComponentLoader)
}

// StartFleet creates the run's loader (LoaderObjects), waits up to timeout
// for its Agents pods to run, and follows their logs. On failure it deletes
// what it created.
func StartFleet(ctx context.Context, cs kubernetes.Interface, run Run, logs Logs, timeout time.Duration) (*Fleet, error) {
	f := &Fleet{cs: cs, run: run, StartLead: 3 * time.Second, Poll: time.Second, StopGrace: 10 * time.Second}
	created, err := create(ctx, cs, run.LoaderObjects())
	if err == nil {
		f.cm = created[3].(*corev1.ConfigMap)
		err = f.follow(ctx, logs, timeout)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("start %d loader agents: %w", run.Agents, err)
	}
	return f, nil
}

// follow waits for the agent pods and opens their logs.
func (f *Fleet) follow(ctx context.Context, logs Logs, timeout time.Duration) error {
	pods, err := f.waitRunning(ctx, timeout)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.stopLogs = cancel
	for _, p := range pods {
		idx, err := strconv.Atoi(p.Annotations[completionIndex])
		if err != nil {
			return fmt.Errorf("agent pod %s has no completion index (annotation %s)", p.Name, completionIndex)
		}
		rc, err := logs.Follow(lctx, f.run.Namespace, p.Name, ContainerAgent)
		if err != nil {
			return err
		}
		f.agents = append(f.agents, &agentPod{name: p.Name, stream: followReports(rc, idx), info: agent.Info{Agent: idx, Pod: p.Name,
			Log: fmt.Sprintf("kubectl logs -n %s %s -c %s", f.run.Namespace, p.Name, ContainerAgent)}})
	}
	slices.SortFunc(f.agents, func(a, b *agentPod) int { return a.info.Agent - b.info.Agent })
	return nil
}

// waitRunning waits until the Job's pods all run; a pod that fails or
// cannot start ends the wait at once.
func (f *Fleet) waitRunning(ctx context.Context, timeout time.Duration) ([]corev1.Pod, error) {
	deadline := time.Now().Add(timeout)
	for {
		l, err := f.cs.CoreV1().Pods(f.run.Namespace).List(ctx, metav1.ListOptions{LabelSelector: f.run.agentSelector()})
		if err != nil {
			return nil, fmt.Errorf("list agent pods: %w", err)
		}
		running, states := 0, ""
		for i := range l.Items {
			p := &l.Items[i]
			if why := podFailed(p); why != "" {
				return nil, fmt.Errorf("agent pod %s cannot run: %s", p.Name, why)
			}
			if p.Status.Phase == corev1.PodRunning {
				running++
			} else {
				states += fmt.Sprintf("; %s: %s", p.Name, podState(p))
			}
		}
		if running == f.run.Agents && len(l.Items) == f.run.Agents {
			return l.Items, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d agent pods running after %s%s", running, f.run.Agents, timeout, states)
		}
		if err := sleep(ctx, f.Poll); err != nil {
			return nil, err
		}
	}
}

// Agents implements bench.Fleet.
func (f *Fleet) Agents() []agent.Info {
	out := make([]agent.Info, len(f.agents))
	for i, a := range f.agents {
		out[i] = a.info
	}
	return out
}

// Lead implements bench.Fleet.
func (f *Fleet) Lead() time.Duration { return f.StartLead }

// Step implements bench.Fleet: cmd split across the agents, published for
// all of them to start at cmd.StartAt (StartLead from now when unset), and
// their reports merged. An agent whose pod ends or that sends no report in
// time fails the step.
func (f *Fleet) Step(ctx context.Context, cmd agent.Command) (agent.Merged, error) {
	f.seq++
	cmd.Seq = f.seq
	if cmd.StartAt.IsZero() {
		cmd.StartAt = time.Now().Add(f.StartLead)
	}
	share := agent.Split(cmd, len(f.agents))[0]
	cm, err := Publish(ctx, f.cs, f.cm, share)
	if err != nil {
		return agent.Merged{}, err
	}
	f.cm = cm
	deadline := cmd.StartAt.Add(cmd.Duration.D() + cmd.Loader.Timeout.D() + 30*time.Second)
	reports := make([]agent.Report, 0, len(f.agents))
	for _, a := range f.agents {
		r, err := f.await(ctx, a, cmd.Seq, deadline)
		if err != nil {
			return agent.Merged{}, err
		}
		reports = append(reports, r)
	}
	return agent.Merge(cmd.StartAt, cmd.Rate, reports)
}

func (f *Fleet) await(ctx context.Context, a *agentPod, seq int, deadline time.Time) (agent.Report, error) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	tick := time.NewTicker(f.Poll)
	defer tick.Stop()
	for {
		select {
		case r := <-a.stream.reports:
			if r.Seq == seq || r.Seq == 0 {
				return r, nil
			}
		case <-a.stream.done:
			// Every report was passed on before the log ended.
			for len(a.stream.reports) > 0 {
				if r := <-a.stream.reports; r.Seq == seq || r.Seq == 0 {
					return r, nil
				}
			}
			return agent.Report{}, f.failure(ctx, a, seq, errors.New("its log ended"))
		case <-tick.C:
			if err := f.checkPods(ctx, seq); err != nil {
				return agent.Report{}, err
			}
		case <-timer.C:
			return agent.Report{}, f.failure(ctx, a, seq, errors.New("sent no report in time"))
		case <-ctx.Done():
			return agent.Report{}, ctx.Err()
		}
	}
}

// checkPods fails the step as soon as any agent's pod has ended, not
// only the one awaited.
func (f *Fleet) checkPods(ctx context.Context, seq int) error {
	l, err := f.cs.CoreV1().Pods(f.run.Namespace).List(ctx, metav1.ListOptions{LabelSelector: f.run.agentSelector()})
	if err != nil {
		return nil // the next look may succeed; the deadline bounds the wait
	}
	for i := range l.Items {
		p := &l.Items[i]
		if podFailed(p) == "" {
			continue
		}
		for _, a := range f.agents {
			if a.name == p.Name {
				return f.failure(ctx, a, seq, errors.New("its pod ended"))
			}
		}
	}
	return nil
}

// failure names the agent, its pod's state and its log's end.
func (f *Fleet) failure(ctx context.Context, a *agentPod, seq int, err error) error {
	state := "state unknown"
	if p, gerr := f.cs.CoreV1().Pods(f.run.Namespace).Get(context.WithoutCancel(ctx), a.name, metav1.GetOptions{}); gerr == nil {
		state = podState(p)
	}
	return fmt.Errorf("agent %d (pod %s/%s, %s) during step %d: %w%s", a.info.Agent, f.run.Namespace, a.name, state, seq, err, a.stream.logTail())
}

// Close implements bench.Fleet: a Stop command, a short wait for the
// agents to exit, then every object of the loader deleted.
func (f *Fleet) Close() {
	if err := f.Stop(context.Background()); err != nil && f.Log != nil {
		fmt.Fprintf(f.Log, "k8s: %v\n", err)
	}
}

// Stop is Close with its error; ctx's cancellation is ignored (Cleanup).
func (f *Fleet) Stop(ctx context.Context) error {
	if f.cm != nil && len(f.agents) > 0 {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.StopGrace)
		if _, err := Publish(sctx, f.cs, f.cm, agent.Command{Seq: f.seq + 1, Stop: true}); err == nil {
			for _, a := range f.agents {
				select {
				case <-a.stream.done:
				case <-sctx.Done():
				}
			}
		}
		cancel()
	}
	if f.stopLogs != nil {
		f.stopLogs()
	}
	return Cleanup(ctx, f.cs, f.run.Namespace, f.run.loaderSelector())
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
