package k8s

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/benchharness/harness/harness/scenario"
	"github.com/benchharness/harness/harness/targets"
)

// Labels on every object a run creates; cleanup deletes by LabelRun.
const (
	LabelRun       = "bench.harness/run-id"
	LabelTarget    = "bench.harness/target"
	LabelComponent = "app.kubernetes.io/component"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelName      = "app.kubernetes.io/name"
	managedBy      = "benchharness"
)

// Components, the values of LabelComponent.
const (
	ComponentTarget = "target"
	ComponentAgent  = "agent"
	ComponentLoader = "loader" // the agents' Job, ConfigMap and RBAC
)

// DefaultNodeLabel is the label of the node the target runs on, unless
// BENCH_K8S_TARGET_NODE_LABEL names another.
const DefaultNodeLabel = "bench.harness/role=target"

// TargetPort is the port the target listens on in its pod (PORT).
const TargetPort = 8080

// Run is what a run's objects share.
type Run struct {
	// ID is the run id (results/<id>), the value of LabelRun.
	ID        string
	Namespace string
	// HarnessImage runs the agents and the sampler sidecar.
	HarnessImage string
	// Agents is the number of loader agents, each with AgentCPUs whole
	// CPUs and AgentMemoryBytes (requests = limits).
	Agents           int
	AgentCPUs        int
	AgentMemoryBytes int64
	// LoaderNode, when set, is a node label the agents must run on.
	LoaderNode Label
}

// Target is one target's pod.
type Target struct {
	Name  string
	Image string
	// VCPUs are whole CPUs (requests = limits), so the static CPU
	// manager can give the container exclusive cores.
	VCPUs       int
	MemoryBytes int64
	// Node is the label of the node it runs on.
	Node   Label
	Health string
	// Env is the scenario's environment on top of PORT, HOST and VCPUS.
	Env map[string]string
	// StartTimeout bounds its readiness, image pull included.
	StartTimeout time.Duration
}

// Label is one key=value label.
type Label struct{ Key, Value string }

func (l Label) String() string { return l.Key + "=" + l.Value }

// ParseLabel reads key=value.
func ParseLabel(s string) (Label, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return Label{}, fmt.Errorf("node label %q: want key=value", s)
	}
	return Label{Key: k, Value: v}, nil
}

// WholeVCPUs is a profile's target budget as whole CPUs, planned from the
// profile alone: the target runs on a cluster node, not on this machine.
func WholeVCPUs(p *scenario.Profile) (int, error) {
	field := func(msg string) error {
		return &scenario.FieldError{File: p.File, Field: "vcpus", Msg: msg}
	}
	if p.Budget == "auto" {
		return 0, field(`"auto" sizes to this machine; on a cluster give whole CPUs (e.g. "8")`)
	}
	v, err := scenario.ParseBudget(p.Budget)
	if err != nil {
		return 0, field(err.Error())
	}
	if v != math.Trunc(v) {
		return 0, field(fmt.Sprintf("%g is not whole: a Guaranteed pod gets exclusive cores only for whole CPUs", v))
	}
	return int(v), nil
}

// HighestRate is the highest rate the profile's search may offer a target
// of vcpus: its start rate grown for every step, capped at max_rate.
func HighestRate(p *scenario.Profile, vcpus int) float64 {
	s := p.Search
	ramp := s.StartPerVCPU * float64(vcpus) * math.Pow(s.Growth, float64(s.MaxSteps-1))
	return max(min(ramp, s.MaxRate), p.FixedRatePerVCPU*float64(vcpus))
}

// Agents is how many agents of agentCPUs each carry rate at capacityPerCore
// req/s per loader core: ceil(rate / (capacityPerCore × agentCPUs)), at
// least 1.
func Agents(rate, capacityPerCore float64, agentCPUs int) int {
	if capacityPerCore <= 0 || agentCPUs < 1 {
		return 1
	}
	return max(1, int(math.Ceil(rate/(capacityPerCore*float64(agentCPUs))-1e-9)))
}

// PlanRun sizes a run's loader from the profile: capacityPerCore is the
// calibrated capacity per loader core, or 0 for the profile's figure.
func PlanRun(p *scenario.Profile, id, namespace, harnessImage string, capacityPerCore float64) (Run, error) {
	vcpus, err := WholeVCPUs(p)
	if err != nil {
		return Run{}, err
	}
	if capacityPerCore <= 0 {
		capacityPerCore = p.Kubernetes.CapacityPerCore
	}
	k := p.Kubernetes
	return Run{ID: id, Namespace: namespace, HarnessImage: harnessImage,
		Agents:    Agents(HighestRate(p, vcpus), capacityPerCore, k.AgentCPUs),
		AgentCPUs: k.AgentCPUs, AgentMemoryBytes: int64(k.AgentMemoryMB) << 20}, nil
}

// PlanTarget is one target's pod as the profile sizes it.
func PlanTarget(p *scenario.Profile, m *targets.Manifest, image string, node Label, env map[string]string) (Target, error) {
	vcpus, err := WholeVCPUs(p)
	if err != nil {
		return Target{}, err
	}
	mem := p.MemoryLimitMB
	if mem <= 0 {
		mem = p.Kubernetes.TargetMemoryMB
	}
	return Target{Name: m.Name, Image: image, VCPUs: vcpus, MemoryBytes: int64(mem) << 20, Node: node,
		Health: m.Health, Env: env, StartTimeout: m.Timeout() + imagePullAllowance}, nil
}

// imagePullAllowance is added to a target's start timeout: its image is
// pulled from the registry onto the node first.
const imagePullAllowance = 5 * time.Minute

// Settings are a cluster run's settings from the environment.
type Settings struct {
	Namespace  string
	Registry   string
	TargetNode Label
	LoaderNode Label
}

// SettingsFromEnv reads BENCH_K8S_NAMESPACE (default "default"),
// BENCH_REGISTRY, BENCH_K8S_TARGET_NODE_LABEL (default DefaultNodeLabel)
// and BENCH_K8S_LOADER_NODE_LABEL (none by default).
func SettingsFromEnv() (Settings, error) {
	s := Settings{Namespace: os.Getenv("BENCH_K8S_NAMESPACE"), Registry: strings.TrimSuffix(os.Getenv("BENCH_REGISTRY"), "/")}
	if s.Namespace == "" {
		s.Namespace = "default"
	}
	node := os.Getenv("BENCH_K8S_TARGET_NODE_LABEL")
	if node == "" {
		node = DefaultNodeLabel
	}
	var err error
	if s.TargetNode, err = ParseLabel(node); err != nil {
		return s, fmt.Errorf("BENCH_K8S_TARGET_NODE_LABEL: %w", err)
	}
	if l := os.Getenv("BENCH_K8S_LOADER_NODE_LABEL"); l != "" {
		if s.LoaderNode, err = ParseLabel(l); err != nil {
			return s, fmt.Errorf("BENCH_K8S_LOADER_NODE_LABEL: %w", err)
		}
	}
	return s, nil
}

var notName = regexp.MustCompile(`[^a-z0-9-]+`)

// name is an object name of the run: "bench-<run>-<suffix>", a DNS label
// (a Service's name must be one) short enough for the Job controller's
// pod names; a long run id is cut and keeps a hash of itself.
func (r Run) name(suffix string) string {
	id := strings.Trim(notName.ReplaceAllString(strings.ToLower(r.ID), "-"), "-")
	const keep = 28
	if len(id) > keep {
		sum := sha256.Sum256([]byte(r.ID))
		id = strings.TrimRight(id[:keep-7], "-") + "-" + hex.EncodeToString(sum[:])[:6]
	}
	return "bench-" + id + "-" + suffix
}

// labelValue makes s a valid label value (63 characters of [A-Za-z0-9_.-],
// alphanumeric at both ends).
func labelValue(s string) string {
	v := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(s, "-")
	if len(v) > 63 {
		v = v[:63]
	}
	return strings.Trim(v, "-_.")
}

// labels are an object's labels: the run's, and its component's.
func (r Run) labels(component string) map[string]string {
	return map[string]string{LabelRun: labelValue(r.ID), LabelComponent: component, LabelManagedBy: managedBy, LabelName: "bench-harness"}
}

// RunSelector selects every object of the run.
func (r Run) RunSelector() string { return LabelRun + "=" + labelValue(r.ID) }

// Names of the run's objects.
func (r Run) TargetName(target string) string { return r.name(strings.ToLower(target)) }
func (r Run) JobName() string                 { return r.name("agents") }
func (r Run) CommandsName() string            { return r.name("commands") }

// TargetURL is the target's URL inside the cluster, by its Service.
func (r Run) TargetURL(target string) string {
	return fmt.Sprintf("http://%s.%s.svc:%d", r.TargetName(target), r.Namespace, TargetPort)
}
