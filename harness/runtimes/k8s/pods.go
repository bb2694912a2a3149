package k8s

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// stuckReasons are container waiting reasons that do not go away by waiting.
var stuckReasons = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"CrashLoopBackOff": true, "CreateContainerConfigError": true, "CreateContainerError": true}

// podFailed says why pod cannot run (or runs no more), "" while it can.
func podFailed(p *corev1.Pod) string {
	switch p.Status.Phase {
	case corev1.PodFailed, corev1.PodSucceeded:
		return podState(p)
	}
	for _, c := range p.Status.ContainerStatuses {
		if w := c.State.Waiting; w != nil && stuckReasons[w.Reason] {
			return podState(p)
		}
		if t := c.State.Terminated; t != nil {
			return podState(p)
		}
	}
	return ""
}

// podState describes pod for a message: its phase, node, and the reason
// and message of what holds it or ended it.
func podState(p *corev1.Pod) string {
	parts := []string{"phase " + string(p.Status.Phase)}
	if p.Spec.NodeName != "" {
		parts = append(parts, "node "+p.Spec.NodeName)
	}
	if p.Status.Reason != "" {
		parts = append(parts, strings.TrimSpace(p.Status.Reason+" "+p.Status.Message))
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			parts = append(parts, fmt.Sprintf("unscheduled: %s %s", c.Reason, c.Message))
		}
	}
	for _, c := range p.Status.ContainerStatuses {
		switch {
		case c.State.Waiting != nil && c.State.Waiting.Reason != "":
			parts = append(parts, fmt.Sprintf("container %s waiting: %s %s", c.Name, c.State.Waiting.Reason, c.State.Waiting.Message))
		case c.State.Terminated != nil:
			t := c.State.Terminated
			parts = append(parts, fmt.Sprintf("container %s terminated: exit %d %s %s", c.Name, t.ExitCode, t.Reason, strings.TrimSpace(t.Message)))
		}
	}
	return strings.Join(parts, ", ")
}

// podReady is the pod's Ready condition.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
