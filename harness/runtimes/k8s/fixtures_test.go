package k8s

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/benchharness/harness/harness/agent"
	"github.com/benchharness/harness/harness/bench"
	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/scenario"
	"github.com/benchharness/harness/harness/targets"
)

// The API's coordinator is a bench.Fleet, its target runtime a Runtime.
var (
	_ bench.Fleet      = (*Fleet)(nil)
	_ runtimes.Runtime = (*Runtime)(nil)
)

const testNS = "bench"

func testRun(agents int) Run {
	return Run{ID: "20261130-120000-article-k8s", Namespace: testNS, HarnessImage: "registry.test/bench-harness:t",
		Agents: agents, AgentCPUs: 4, AgentMemoryBytes: 1 << 30}
}

// cluster is client-go's fake clientset playing the controllers and the
// kubelet: a Job's pods appear running on create, a pod becomes ready.
type cluster struct {
	*fake.Clientset
	logs *fakeLogs
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{Clientset: fake.NewClientset(), logs: newFakeLogs()}
	c.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		job := a.(k8stesting.CreateAction).GetObject().(*batchv1.Job)
		for i := range int(*job.Spec.Completions) {
			if err := c.Tracker().Add(jobPod(job, i)); err != nil {
				t.Errorf("add job pod: %v", err)
			}
		}
		return false, nil, nil
	})
	c.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Spec.NodeName = "node-target"
		if p.Status.Phase != "" {
			return false, nil, nil // a test set its state
		}
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
		return false, nil, nil
	})
	t.Cleanup(c.logs.closeAll)
	return c
}

// jobPod is the pod the Job controller would make for index i.
func jobPod(job *batchv1.Job, i int) *corev1.Pod {
	labels := map[string]string{"job-name": job.Name}
	for k, v := range job.Spec.Template.Labels {
		labels[k] = v
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d-x7k2p", job.Name, i), Namespace: job.Namespace, Labels: labels,
			Annotations: map[string]string{completionIndex: fmt.Sprint(i)}},
		Spec:   *job.Spec.Template.Spec.DeepCopy(),
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

// fakeLogs hands each followed container a pipe the test writes.
type fakeLogs struct {
	mu sync.Mutex
	w  map[string]*io.PipeWriter
	r  map[string]*io.PipeReader
}

func newFakeLogs() *fakeLogs {
	return &fakeLogs{w: map[string]*io.PipeWriter{}, r: map[string]*io.PipeReader{}}
}

func (l *fakeLogs) pipe(pod, container string) (*io.PipeReader, *io.PipeWriter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := pod + "/" + container
	if _, ok := l.w[k]; !ok {
		l.r[k], l.w[k] = io.Pipe()
	}
	return l.r[k], l.w[k]
}

func (l *fakeLogs) Follow(ctx context.Context, namespace, pod, container string) (io.ReadCloser, error) {
	r, _ := l.pipe(pod, container)
	return r, nil
}

func (l *fakeLogs) writer(pod, container string) *io.PipeWriter {
	_, w := l.pipe(pod, container)
	return w
}

func (l *fakeLogs) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.w {
		w.Close()
	}
}

// runAgents plays each agent pod: it reads commands as an agent does
// (ConfigMapCommands) and answers with a report of requests requests in
// its log, until a Stop or ctx.
func runAgents(ctx context.Context, t *testing.T, c *cluster, run Run, requests int) {
	pods, err := c.CoreV1().Pods(run.Namespace).List(ctx, metav1.ListOptions{LabelSelector: run.agentSelector()})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		idx := 0
		fmt.Sscan(p.Annotations[completionIndex], &idx)
		cmds := ConfigMapCommands(c, run.Namespace, run.CommandsName())
		w := c.logs.writer(p.Name, ContainerAgent)
		go func() {
			fmt.Fprintln(w, "agent starting")
			for {
				cmd, err := cmds.Next(ctx)
				if err != nil || cmd.Stop {
					w.Close()
					return
				}
				r := agent.Report{Agent: idx, Seq: cmd.Seq, Host: p.Name, PID: 1, Rate: cmd.Rate, StartAt: cmd.StartAt,
					Began: cmd.StartAt.Add(time.Millisecond), Tally: tally(t, requests), CPUSeconds: 0.5, WallSeconds: 1, CPUs: 4}
				if err := agent.WriteReport(w, r); err != nil {
					return
				}
			}
		}()
	}
}

// tally is a tally of n successful requests of 1..n ms, as an agent
// sends it: the JSON of its HDR histograms.
func tally(t *testing.T, n int) *load.Tally {
	t.Helper()
	h := hdrhistogram.New(1, int64(2*time.Minute/time.Microsecond), 3)
	for i := 1; i <= n; i++ {
		_ = h.RecordValue(int64(i) * 1000)
	}
	enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UnixNano()
	b, _ := json.Marshal(map[string]any{"vegeta_hdr": string(enc), "corrected_hdr": string(enc), "requests": n, "success": n,
		"first_ns": start, "last_ns": start + int64(time.Second), "end_ns": start + int64(time.Second),
		"codes": map[string]int{"200": n}, "connections": 4})
	var tl load.Tally
	if err := json.Unmarshal(b, &tl); err != nil {
		t.Fatal(err)
	}
	return &tl
}

func testCommand() agent.Command {
	return agent.Command{URL: "http://target", Scenario: &scenario.Scenario{Name: "api"}, Rate: 3000,
		Duration: scenario.Duration(time.Second), Loader: scenario.Loader{Workers: 64, MaxWorkers: 512, Connections: 512, Timeout: scenario.Duration(time.Second)}}
}

// leftovers lists every object of the run still in the cluster.
func leftovers(t *testing.T, c *cluster, run Run) []string {
	t.Helper()
	var out []string
	for _, k := range kinds(c, run.Namespace) {
		names, err := k.list(context.Background(), metav1.ListOptions{LabelSelector: run.RunSelector()})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			out = append(out, k.name+"/"+n)
		}
	}
	return out
}

func repoRoot() string { return filepath.Join("..", "..", "..") }

func loadProfile(t *testing.T, name string) *scenario.Profile {
	t.Helper()
	p, err := scenario.LoadProfile(filepath.Join(repoRoot(), "scenarios"), name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func loadTarget(t *testing.T, name string) *targets.Manifest {
	t.Helper()
	m, err := targets.Load(filepath.Join(repoRoot(), "targets", name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
