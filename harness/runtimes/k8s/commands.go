package k8s

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/benchharness/harness/harness/agent"
)

// ParseCommandsSource reads an agent's -commands value
// "configmap:<namespace>/<name>".
func ParseCommandsSource(s string) (namespace, name string, err error) {
	rest, ok := strings.CutPrefix(s, "configmap:")
	ns, n, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || ns == "" || n == "" {
		return "", "", fmt.Errorf("-commands %q: want stdin or configmap:<namespace>/<name>", s)
	}
	return ns, n, nil
}

// ConfigMapCommands are an agent's commands from the ConfigMap its
// coordinator writes (Publish): every command in it whose seq is newer
// than the last one run, found by a get and then a watch of that one
// ConfigMap, exactly the verbs of AgentVerbs.
func ConfigMapCommands(cs kubernetes.Interface, namespace, name string) agent.Commands {
	return &cmCommands{cs: cs, ns: namespace, name: name}
}

type cmCommands struct {
	cs       kubernetes.Interface
	ns, name string
	last     int
}

// Next implements agent.Commands. The watch starts before each read, so a
// change made after the read is always seen, without relying on resuming a
// watch from a resourceVersion.
func (c *cmCommands) Next(ctx context.Context) (agent.Command, error) {
	for {
		w, err := c.cs.CoreV1().ConfigMaps(c.ns).Watch(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("metadata.name", c.name).String()})
		if err != nil {
			return agent.Command{}, fmt.Errorf("agent: watch configmap %s/%s: %w", c.ns, c.name, err)
		}
		cmd, ok, err := c.read(ctx)
		if ok || err != nil {
			w.Stop()
			return cmd, err
		}
		err = c.waitChange(ctx, w)
		w.Stop()
		if err != nil {
			return agent.Command{}, err
		}
	}
}

func (c *cmCommands) read(ctx context.Context) (agent.Command, bool, error) {
	cm, err := c.cs.CoreV1().ConfigMaps(c.ns).Get(ctx, c.name, metav1.GetOptions{})
	if err != nil {
		return agent.Command{}, false, fmt.Errorf("agent: read commands from configmap %s/%s: %w", c.ns, c.name, err)
	}
	return c.newer(cm)
}

// waitChange returns when the ConfigMap changed or the watch ended (the
// caller reads it again either way).
func (c *cmCommands) waitChange(ctx context.Context, w watch.Interface) error {
	// A watch may also end quietly (the API server's timeout).
	timeout := time.NewTimer(5 * time.Minute)
	defer timeout.Stop()
	for {
		select {
		case ev, open := <-w.ResultChan():
			if !open {
				return nil
			}
			if cm, ok := ev.Object.(*corev1.ConfigMap); ok && cm.Name == c.name && ev.Type != watch.Deleted {
				return nil
			}
		case <-timeout.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// newer is the ConfigMap's command when it is one not run yet.
func (c *cmCommands) newer(cm *corev1.ConfigMap) (agent.Command, bool, error) {
	seq, err := strconv.Atoi(cm.Data[seqKey])
	if err != nil || seq <= c.last || cm.Data[commandKey] == "" {
		return agent.Command{}, false, nil
	}
	var cmd agent.Command
	if err := json.Unmarshal([]byte(cm.Data[commandKey]), &cmd); err != nil {
		return agent.Command{}, false, fmt.Errorf("agent: command %d in configmap %s/%s: %w", seq, c.ns, c.name, err)
	}
	c.last = seq
	return cmd, true, nil
}

// Publish writes cmd as the agents' next command. Every agent gets the
// same share (agent.Split), so one ConfigMap serves them all.
func Publish(ctx context.Context, cs kubernetes.Interface, cm *corev1.ConfigMap, cmd agent.Command) (*corev1.ConfigMap, error) {
	b, err := json.Marshal(cmd)
	if err != nil {
		return nil, fmt.Errorf("encode command %d: %w", cmd.Seq, err)
	}
	next := cm.DeepCopy()
	next.Data = map[string]string{seqKey: strconv.Itoa(cmd.Seq), commandKey: string(b)}
	out, err := cs.CoreV1().ConfigMaps(cm.Namespace).Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("publish command %d in configmap %s/%s: %w", cmd.Seq, cm.Namespace, cm.Name, err)
	}
	return out, nil
}
