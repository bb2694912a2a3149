package k8s

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func startFleet(t *testing.T, c *cluster, run Run) *Fleet {
	t.Helper()
	f, err := StartFleet(context.Background(), c, run, c.logs, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f.StartLead, f.Poll, f.StopGrace = 50*time.Millisecond, 20*time.Millisecond, 100*time.Millisecond
	return f
}

func TestFleetCreatesAnIndexedJobOffTheTarget(t *testing.T) {
	c := newCluster(t)
	run := testRun(3)
	f := startFleet(t, c, run)
	t.Cleanup(f.Close)
	ctx := context.Background()

	job, err := c.BatchV1().Jobs(testNS).Get(ctx, run.JobName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := job.Spec
	if *s.CompletionMode != "Indexed" || *s.Completions != 3 || *s.Parallelism != 3 || *s.BackoffLimit != 0 {
		t.Errorf("job spec: mode %s, completions %d, parallelism %d, backoff %d", *s.CompletionMode, *s.Completions, *s.Parallelism, *s.BackoffLimit)
	}
	anti := s.Template.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if len(anti) != 1 || anti[0].TopologyKey != "kubernetes.io/hostname" || anti[0].LabelSelector.MatchLabels[LabelComponent] != ComponentTarget {
		t.Errorf("agents' required anti-affinity = %+v, want away from the target's node", anti)
	}
	ctr := s.Template.Spec.Containers[0]
	if !slices.Contains(ctr.Command, "configmap:"+testNS+"/"+run.CommandsName()) || ctr.Resources.Limits.Cpu().Value() != 4 ||
		!ctr.Resources.Requests.Cpu().Equal(*ctr.Resources.Limits.Cpu()) {
		t.Errorf("agent container: command %v, resources %+v", ctr.Command, ctr.Resources)
	}
	role, err := c.RbacV1().Roles(testNS).Get(ctx, run.JobName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := role.Rules; len(r) != 1 || !slices.Equal(r[0].Verbs, []string{"get", "watch"}) || !slices.Equal(r[0].ResourceNames, []string{run.CommandsName()}) {
		t.Errorf("agents' role = %+v, want get and watch of their ConfigMap only", r)
	}
	if got := len(f.Agents()); got != 3 || f.Agents()[2].Agent != 2 || f.Agents()[0].Pod == "" {
		t.Errorf("agents = %+v", f.Agents())
	}
	for _, o := range leftovers(t, c, run) {
		if !strings.HasPrefix(o, "jobs/") && !strings.HasPrefix(o, "pods/") && !strings.HasPrefix(o, "configmaps/") &&
			!strings.HasPrefix(o, "serviceaccounts/") && !strings.HasPrefix(o, "roles/") && !strings.HasPrefix(o, "rolebindings/") {
			t.Errorf("unexpected object %s", o)
		}
	}
	if n := len(leftovers(t, c, run)); n != 5+3 {
		t.Errorf("%d objects labelled with the run id, want 5 and 3 pods: %v", n, leftovers(t, c, run))
	}
}

func TestFleetStepMergesTheAgentsReportsFromTheirLogs(t *testing.T) {
	c := newCluster(t)
	run := testRun(3)
	f := startFleet(t, c, run)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	runAgents(ctx, t, c, run, 100)

	for step := 1; step <= 2; step++ {
		m, err := f.Step(ctx, testCommand())
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if m.Step.Requests != 300 || len(m.Agents) != 3 {
			t.Fatalf("step %d: %d requests from %d agents, want 300 from 3", step, m.Step.Requests, len(m.Agents))
		}
		for _, a := range m.Agents {
			if a.Offered != 1000 || a.Requests != 100 {
				t.Errorf("step %d agent %d: offered %g, %d requests; want 1000 and 100", step, a.Agent, a.Offered, a.Requests)
			}
		}
		if p95 := m.Step.Corrected.P95; p95 < 94 || p95 > 96 {
			t.Errorf("step %d: merged p95 %.2f ms, want 95 (requests of 1..100 ms on each agent)", step, p95)
		}
	}
	f.Close()
	if left := leftovers(t, c, run); len(left) != 0 {
		t.Errorf("after Close: %v", left)
	}
}

func TestAFailedAgentFailsTheStepAndEverythingIsDeleted(t *testing.T) {
	c := newCluster(t)
	run := testRun(2)
	f := startFleet(t, c, run)
	ctx := context.Background()
	pods, _ := c.CoreV1().Pods(testNS).List(ctx, metav1.ListOptions{LabelSelector: run.agentSelector()})
	bad := pods.Items[1]
	fmt.Fprintln(c.logs.writer(bad.Name, ContainerAgent), "panic: out of file descriptors")
	bad.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Error", ContainerStatuses: []corev1.ContainerStatus{{Name: ContainerAgent,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error"}}}}}
	if _, err := c.CoreV1().Pods(testNS).UpdateStatus(ctx, &bad, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	_, err := f.Step(ctx, testCommand())
	if err == nil {
		t.Fatal("a step with a failed agent pod succeeded")
	}
	for _, want := range []string{"agent 1", bad.Name, "phase Failed", "exit 2", "out of file descriptors"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	f.Close()
	if left := leftovers(t, c, run); len(left) != 0 {
		t.Errorf("after a failed step and Close: %v", left)
	}
}

func TestCtrlCDuringAStepDeletesEverything(t *testing.T) {
	c := newCluster(t)
	run := testRun(2)
	rt := &Runtime{Client: c, Run: run, Node: Label{"bench.harness/role", "target"}, Logs: c.logs, Poll: 20 * time.Millisecond}
	inst, err := rt.Start(context.Background(), loadTarget(t, "chi"), spec(8))
	if err != nil {
		t.Fatal(err)
	}
	f := startFleet(t, c, run)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := f.Step(ctx, testCommand()); errc <- err }() // no agent answers
	waitFor(t, "the step's command published", func() bool {
		cm, err := c.CoreV1().ConfigMaps(testNS).Get(context.Background(), run.CommandsName(), metav1.GetOptions{})
		return err == nil && cm.Data[seqKey] == "1"
	})
	cancel() // Ctrl-C
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("step after Ctrl-C: %v, want context.Canceled", err)
	}
	// What the CLI defers for every exit path, with the run's cancelled context.
	if err := Cleanup(ctx, c, testNS, run.RunSelector()); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, c, run); len(left) != 0 {
		t.Errorf("after Ctrl-C: %v", left)
	}
	waitFor(t, "the target's watch to end", func() bool {
		select {
		case <-inst.Done():
			return true
		default:
			return false
		}
	})
}
