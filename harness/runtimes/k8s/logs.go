package k8s

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/benchharness/harness/harness/agent"
)

// Logs opens a container's log, followed: the agents' reports and the
// sampler's readings arrive that way. Tests give their own (client-go's
// fake clientset answers every log with "fake logs").
type Logs interface {
	Follow(ctx context.Context, namespace, pod, container string) (io.ReadCloser, error)
}

// APILogs reads logs through the API server (pods/log, get).
type APILogs struct{ Client kubernetes.Interface }

// Follow implements Logs.
func (l APILogs) Follow(ctx context.Context, namespace, pod, container string) (io.ReadCloser, error) {
	rc, err := l.Client.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{Container: container, Follow: true}).Stream(ctx)
	if err != nil {
		return nil, fmt.Errorf("follow the log of %s/%s container %s: %w", namespace, pod, container, err)
	}
	return rc, nil
}

// reportStream passes an agent's reports on from its log, and keeps the
// last other lines for a failure's message.
type reportStream struct {
	reports chan agent.Report
	done    chan struct{} // closed when the log ends

	mu   sync.Mutex
	tail []string
	err  error // why reading the log stopped, if not its end
}

const tailLines = 10

func followReports(rc io.ReadCloser, index int) *reportStream {
	s := &reportStream{reports: make(chan agent.Report, 4), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer rc.Close()
		sc := bufio.NewScanner(rc)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			r, ok, err := agent.ParseReport(sc.Bytes())
			switch {
			case ok && err != nil:
				s.reports <- agent.Report{Agent: index, Error: err.Error()}
			case ok:
				s.reports <- r
			default:
				s.keep(sc.Text())
			}
		}
		s.mu.Lock()
		s.err = sc.Err()
		s.mu.Unlock()
	}()
	return s
}

func (s *reportStream) keep(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tail = append(s.tail, line)
	if len(s.tail) > tailLines {
		s.tail = s.tail[len(s.tail)-tailLines:]
	}
}

// logTail is the end of the agent's log, for a failure's message.
func (s *reportStream) logTail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg := ""
	if s.err != nil {
		msg = "; reading its log failed: " + s.err.Error()
	}
	if len(s.tail) == 0 {
		return msg
	}
	return msg + "; its log ends: " + strings.Join(s.tail, " | ")
}
