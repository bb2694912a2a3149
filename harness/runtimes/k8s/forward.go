package k8s

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Forwarder opens a local port to a pod's port. The agents reach a target
// by its in-cluster URL; the harness itself, outside the cluster, reaches
// it this way for what it asks the target directly (the contract check,
// the GC figures): as kubectl port-forward does, through the API server.
// Nothing measured goes through it.
type Forwarder interface {
	Forward(ctx context.Context, namespace, pod string, port int) (localURL string, stop func(), err error)
}

// APIForwarder forwards through the API server of Config.
type APIForwarder struct{ Config *rest.Config }

// Forward implements Forwarder on 127.0.0.1 and a free port.
func (f APIForwarder) Forward(ctx context.Context, namespace, pod string, port int) (string, func(), error) {
	cs, err := kubernetes.NewForConfig(f.Config)
	if err != nil {
		return "", nil, fmt.Errorf("port-forward to %s/%s: %w", namespace, pod, err)
	}
	rt, upgrader, err := spdy.RoundTripperFor(f.Config)
	if err != nil {
		return "", nil, fmt.Errorf("port-forward to %s/%s: %w", namespace, pod, err)
	}
	u := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	stop, ready := make(chan struct{}), make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		return "", nil, fmt.Errorf("port-forward to %s/%s: %w", namespace, pod, err)
	}
	failed := make(chan error, 1)
	go func() { failed <- pf.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-failed:
		return "", nil, fmt.Errorf("port-forward to %s/%s: %w", namespace, pod, err)
	case <-ctx.Done():
		close(stop)
		return "", nil, ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		close(stop)
		return "", nil, fmt.Errorf("port-forward to %s/%s: no local port (%v)", namespace, pod, err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", ports[0].Local), func() { close(stop) }, nil
}
