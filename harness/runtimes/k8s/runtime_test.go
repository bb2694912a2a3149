package k8s

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/sample"
)

func spec(vcpus float64) runtimes.Spec {
	return runtimes.Spec{Plan: cpuset.Plan{Budget: vcpus}, MemoryBytes: 2 << 30, Env: map[string]string{"GC_LIVE_OBJECTS": "0"}}
}

func TestTargetPodIsGuaranteedWithItsSamplerAndIsSampledFromItsLog(t *testing.T) {
	c := newCluster(t)
	run := testRun(1)
	rt := &Runtime{Client: c, Run: run, Node: Label{"bench.harness/role", "target"}, Logs: c.logs, Poll: 20 * time.Millisecond}
	inst, err := rt.Start(context.Background(), loadTarget(t, "chi"), spec(8))
	if err != nil {
		t.Fatal(err)
	}
	pod, err := c.CoreV1().Pods(testNS).Get(context.Background(), run.TargetName("chi"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := pod.Spec
	if s.ShareProcessNamespace == nil || !*s.ShareProcessNamespace || s.NodeSelector["bench.harness/role"] != "target" || len(s.Containers) != 2 {
		t.Fatalf("pod spec: shareProcessNamespace %v, nodeSelector %v, %d containers", s.ShareProcessNamespace, s.NodeSelector, len(s.Containers))
	}
	for _, ctr := range s.Containers {
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, lim := ctr.Resources.Requests[res], ctr.Resources.Limits[res]
			if lim.IsZero() || req.Cmp(lim) != 0 {
				t.Errorf("container %s %s: request %s, limit %s; a Guaranteed pod needs them equal", ctr.Name, res, req.String(), lim.String())
			}
		}
	}
	if cpu := s.Containers[0].Resources.Limits.Cpu(); s.Containers[0].Name != ContainerTarget || cpu.String() != "8" {
		t.Errorf("target container %s has cpu %s, want 8 whole CPUs", s.Containers[0].Name, cpu)
	}
	if s.Containers[1].Name != ContainerSampler || s.Containers[1].Resources.Limits.Cpu().MilliValue() >= 1000 {
		t.Errorf("sampler container %s: it must stay in the shared pool (under a CPU)", s.Containers[1].Name)
	}
	if pod.Labels[LabelRun] != run.ID || inst.URL() != "http://"+run.TargetName("chi")+"."+testNS+".svc:8080" {
		t.Errorf("labels %v, url %s", pod.Labels, inst.URL())
	}

	w := c.logs.writer(run.TargetName("chi"), ContainerSampler)
	for i, cpu := range []float64{1, 3} {
		_ = sample.WriteLine(w, sample.Line{AtNS: int64(i+1) * int64(time.Second), CPUSeconds: cpu, RSSBytes: 50 << 20})
		waitFor(t, "a sample line", func() bool {
			r, err := inst.Usage().Read(context.Background())
			return err == nil && (i == 0 || r.Interval > 0)
		})
	}

	if err := inst.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, c, run); len(left) != 0 {
		t.Errorf("after Stop: %v", left)
	}
}

func TestATargetThatCannotStartIsDeletedAndSaysWhy(t *testing.T) {
	c := newCluster(t)
	c.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Status = corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: ContainerTarget,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "not found"}}}}}
		return false, nil, nil
	})
	run := testRun(1)
	rt := &Runtime{Client: c, Run: run, Node: Label{"bench.harness/role", "target"}, Logs: c.logs, Poll: 20 * time.Millisecond}
	_, err := rt.Start(context.Background(), loadTarget(t, "chi"), spec(8))
	if err == nil || !strings.Contains(err.Error(), "ImagePullBackOff") || !strings.Contains(err.Error(), run.TargetName("chi")) {
		t.Fatalf("start error = %v, want the pod and ImagePullBackOff", err)
	}
	if left := leftovers(t, c, run); len(left) != 0 {
		t.Errorf("after a failed start: %v", left)
	}
}

func TestAFractionalBudgetIsRefused(t *testing.T) {
	c := newCluster(t)
	rt := &Runtime{Client: c, Run: testRun(1), Logs: c.logs}
	if _, err := rt.Start(context.Background(), loadTarget(t, "chi"), spec(1.0/3)); err == nil || !strings.Contains(err.Error(), "whole CPUs") {
		t.Fatalf("start on 1/3 vCPU: %v", err)
	}
}
