package k8s

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/benchharness/harness/harness/runtimes"
)

// Cluster is a run on a cluster, set up: the harness image pushed, the
// loader's agents running, and the runtime that starts each target's pod.
// Close deletes everything the run created, whatever state it is in.
type Cluster struct {
	Runtime *Runtime
	Fleet   *Fleet
	// VCPUs is the target's budget: the profile's, whole CPUs.
	VCPUs int
	// Capacity is the loader's capacity the agents were sized for (req/s)
	// and CapacitySource where its per-core figure came from.
	Capacity       float64
	CapacitySource string

	cs        kubernetes.Interface
	namespace string
	selector  string
}

// agentsTimeout bounds the wait for the agents' pods: their image is
// pulled onto each node first.
const agentsTimeout = 5 * time.Minute

// StartCluster pushes the images the run needs to the registry, starts the
// loader's agents and returns the Cluster. cs and fwd are the cluster's
// client and port-forwarder, exe the harness binary (the agents' and the
// sidecar's image), log the images' build output.
func StartCluster(ctx context.Context, s Setup, cs kubernetes.Interface, fwd Forwarder, exe string, log io.Writer) (*Cluster, error) {
	if s.Settings.Registry == "" {
		return nil, errors.New("-runtime k8s: BENCH_REGISTRY must name a registry the cluster pulls from (docs/kubernetes.md)")
	}
	// Both hold their load from this machine (a PostgreSQL started here,
	// connections held by this process), which the cluster cannot reach.
	if sc := s.Scenario; sc != nil && (sc.Database != nil || sc.Hold != nil) {
		return nil, fmt.Errorf("-runtime k8s: scenario %s is not supported on a cluster (its database or held connections live on this machine); use the local or docker runtime", sc.Name)
	}
	run, _, err := s.Plan()
	if err != nil {
		return nil, err
	}
	vcpus, err := WholeVCPUs(s.Profile)
	if err != nil {
		return nil, err
	}
	c := &Cluster{VCPUs: vcpus, cs: cs, namespace: run.Namespace, selector: run.RunSelector()}
	perCore, from := s.CapacityPerCore, "an earlier calibration (-calibration)"
	if perCore <= 0 {
		perCore, from = s.Profile.Kubernetes.CapacityPerCore, s.Profile.File+" kubernetes.capacity_per_core_rps"
	}
	c.Capacity = perCore * float64(run.AgentCPUs*run.Agents)
	c.CapacitySource = fmt.Sprintf("%d agents × %d CPUs × %.0f req/s per loader core, from %s", run.Agents, run.AgentCPUs, perCore, from)

	images := &Images{Registry: s.Settings.Registry, Tag: s.RunID, Docker: &runtimes.Docker{Log: log}, Log: log}
	if run.HarnessImage, err = images.PushHarness(ctx, exe); err != nil {
		return nil, err
	}
	if c.Fleet, err = StartFleet(ctx, cs, run, APILogs{Client: cs}, agentsTimeout); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	c.Runtime = &Runtime{Client: cs, Run: run, Node: s.Settings.TargetNode, Logs: APILogs{Client: cs}, Images: images, Forward: fwd}
	return c, nil
}

// Close deletes every object of the run (Cleanup ignores a cancelled
// context: it runs after Ctrl-C too).
func (c *Cluster) Close() error {
	return Cleanup(context.Background(), c.cs, c.namespace, c.selector)
}
