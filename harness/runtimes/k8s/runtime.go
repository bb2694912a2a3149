package k8s

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/sample"
	"github.com/benchharness/harness/harness/targets"
)

// Runtime starts each target as a pod of Run (TargetPod) on the node
// labelled Node, with its Service, and samples it from its sidecar's log.
// It is a runtimes.Runtime; its Instance's URL is the in-cluster one.
type Runtime struct {
	Client kubernetes.Interface
	Run    Run
	Node   Label
	Logs   Logs
	// Images makes and pushes the target's image in Prepare; nil uses
	// ImageRef's name as it is (already pushed).
	Images *Images
	// Poll is how often the target pod's state is read.
	Poll time.Duration
	// Forward, if set, gives the harness its own way to each target
	// (Instance.LocalURL); nil leaves it the in-cluster URL.
	Forward Forwarder

	mu     sync.Mutex
	images map[string]string
}

// Name implements runtimes.Runtime.
func (r *Runtime) Name() string { return "k8s" }

// Prepare builds the target's image and pushes it to the registry.
func (r *Runtime) Prepare(ctx context.Context, m *targets.Manifest, logPath string) error {
	if r.Images == nil {
		return nil
	}
	ref, err := r.Images.PushTarget(ctx, m, logPath)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.images == nil {
		r.images = map[string]string{}
	}
	r.images[m.Name] = ref
	return nil
}

func (r *Runtime) image(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ref, ok := r.images[name]; ok {
		return ref
	}
	return ImageRef("", name, r.Run.ID)
}

// Start implements runtimes.Runtime: the pod and its Service, ready by its
// health check, sampled by its sidecar. A target that cannot start is
// deleted before Start returns.
func (r *Runtime) Start(ctx context.Context, m *targets.Manifest, spec runtimes.Spec) (runtimes.Instance, error) {
	t, err := r.target(m, spec)
	if err != nil {
		return nil, err
	}
	inst := &instance{rt: r, t: t, name: r.Run.TargetName(t.Name), done: make(chan struct{}), quit: make(chan struct{})}
	if _, err := create(ctx, r.Client, r.Run.TargetObjects(t)); err != nil {
		return nil, errors.Join(err, inst.Stop(ctx))
	}
	pod, err := inst.waitReady(ctx)
	if err != nil {
		return nil, errors.Join(err, inst.Stop(ctx))
	}
	if err := inst.startSampling(ctx); err != nil {
		return nil, errors.Join(err, inst.Stop(ctx))
	}
	if r.Forward != nil {
		if inst.local, inst.stopForward, err = r.Forward.Forward(ctx, r.Run.Namespace, inst.name, TargetPort); err != nil {
			return nil, errors.Join(fmt.Errorf("start %s: %w", m.Name, err), inst.Stop(ctx))
		}
	}
	inst.pinning = fmt.Sprintf("k8s pod %s/%s on node %s, Guaranteed QoS cpu=%d memory=%dMi (exclusive cores where the kubelet's CPU manager is static), image %s, sampled by its sidecar",
		r.Run.Namespace, inst.name, pod.Spec.NodeName, t.VCPUs, t.MemoryBytes>>20, t.Image)
	go inst.watch()
	return inst, nil
}

// target is the pod's plan from the bench pipeline's Spec: whole CPUs
// only, and a memory limit (a Guaranteed pod needs one).
func (r *Runtime) target(m *targets.Manifest, spec runtimes.Spec) (Target, error) {
	b := spec.Plan.Budget
	if b < 1 || b != math.Trunc(b) {
		return Target{}, fmt.Errorf("start %s: a %.3g-vCPU budget is not whole CPUs; the k8s runtime runs Guaranteed pods of whole CPUs", m.Name, b)
	}
	mem := spec.MemoryBytes
	if mem <= 0 {
		mem = 2 << 30
	}
	return Target{Name: m.Name, Image: r.image(m.Name), VCPUs: int(b), MemoryBytes: mem, Node: r.Node, Health: m.Health,
		Env: spec.Env, StartTimeout: m.Timeout() + imagePullAllowance}, nil
}

type instance struct {
	rt      *Runtime
	t       Target
	name    string
	usage   sample.Source
	pinning string

	stopLogs context.CancelFunc
	// local is the harness's own URL of the target (a port-forward), and
	// stopForward ends it; empty when there is none.
	local       string
	stopForward func()
	done        chan struct{}
	err         error
	stopOnce    sync.Once
	stopErr     error
	quit        chan struct{}
}

func (i *instance) URL() string { return i.rt.Run.TargetURL(i.t.Name) }

// LocalURL is where the harness, outside the cluster, reaches the target:
// its port-forward, or the in-cluster URL when there is none.
func (i *instance) LocalURL() string {
	if i.local != "" {
		return i.local
	}
	return i.URL()
}

func (i *instance) Usage() sample.Source  { return i.usage }
func (i *instance) Done() <-chan struct{} { return i.done }
func (i *instance) Err() error            { return i.err }
func (i *instance) Pinning() string       { return i.pinning }

// Pod is the target pod's name.
func (i *instance) Pod() string { return i.name }

func (i *instance) poll() time.Duration {
	if i.rt.Poll > 0 {
		return i.rt.Poll
	}
	return time.Second
}

// waitReady waits for the pod's Ready condition (its readiness probe on
// the contract's health path), failing at once on a pod that cannot run.
func (i *instance) waitReady(ctx context.Context) (*corev1.Pod, error) {
	deadline := time.Now().Add(i.t.StartTimeout)
	pods := i.rt.Client.CoreV1().Pods(i.rt.Run.Namespace)
	for {
		p, err := pods.Get(ctx, i.name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("start %s: read pod %s: %w", i.t.Name, i.name, err)
		}
		if why := podFailed(p); why != "" {
			return nil, fmt.Errorf("start %s: pod %s/%s cannot run: %s", i.t.Name, i.rt.Run.Namespace, i.name, why)
		}
		if podReady(p) {
			return p, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("start %s: pod %s/%s not ready after %s: %s", i.t.Name, i.rt.Run.Namespace, i.name, i.t.StartTimeout, podState(p))
		}
		if err := sleep(ctx, i.poll()); err != nil {
			return nil, err
		}
	}
}

// startSampling follows the sidecar's log as the target's Usage.
func (i *instance) startSampling(ctx context.Context) error {
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	rc, err := i.rt.Logs.Follow(lctx, i.rt.Run.Namespace, i.name, ContainerSampler)
	if err != nil {
		cancel()
		return fmt.Errorf("start %s: %w", i.t.Name, err)
	}
	i.stopLogs = cancel
	i.usage = sample.Follow(rc)
	return nil
}

// watch closes done when the pod stops running, or Stop is called.
func (i *instance) watch() {
	defer close(i.done)
	pods := i.rt.Client.CoreV1().Pods(i.rt.Run.Namespace)
	for {
		select {
		case <-i.quit:
			return
		case <-time.After(i.poll()):
		}
		p, err := pods.Get(context.Background(), i.name, metav1.GetOptions{})
		if err != nil {
			i.err = fmt.Errorf("pod %s/%s: %w", i.rt.Run.Namespace, i.name, err)
			return
		}
		if why := podFailed(p); why != "" {
			i.err = fmt.Errorf("pod %s/%s ended: %s", i.rt.Run.Namespace, i.name, why)
			return
		}
	}
}

// Stop deletes the target's pod and Service (Cleanup by its labels), on
// a context of its own.
func (i *instance) Stop(ctx context.Context) error {
	i.stopOnce.Do(func() {
		close(i.quit)
		if i.stopLogs != nil {
			i.stopLogs()
		}
		if i.stopForward != nil {
			i.stopForward()
		}
		sel := fmt.Sprintf("%s,%s=%s,%s=%s", i.rt.Run.RunSelector(), LabelComponent, ComponentTarget, LabelTarget, labelValue(i.t.Name))
		i.stopErr = Cleanup(ctx, i.rt.Client, i.rt.Run.Namespace, sel)
	})
	return i.stopErr
}
