package k8s

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Container names.
const (
	ContainerTarget  = "target"
	ContainerSampler = "sampler"
	ContainerAgent   = "agent"
)

// harnessBin is where the harness image keeps the harness (images.go).
const harnessBin = "/usr/local/bin/harness"

// samplerCPU and samplerMemory are the sidecar's own resources: a Guaranteed
// pod needs limits on every container, and a fraction of a CPU keeps the
// sidecar in the node's shared pool, off the target's exclusive cores.
const (
	samplerCPU    = "100m"
	samplerMemory = "64Mi"
)

// SampleEvery is the sidecar's sampling interval, the local runtime's.
const SampleEvery = "200ms"

// commandKey and seqKey hold the current command in the agents' ConfigMap.
const (
	commandKey = "command"
	seqKey     = "seq"
)

func (r Run) meta(name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: r.Namespace, Labels: r.labels(component)}
}

// guaranteed is requests = limits: what makes a pod's QoS Guaranteed.
func guaranteed(cpu, memory resource.Quantity) corev1.ResourceRequirements {
	rl := corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: memory}
	return corev1.ResourceRequirements{Requests: rl, Limits: rl.DeepCopy()}
}

// TargetPod is the target's pod: the target with whole CPUs, and the
// sampler sidecar, which sees the target's processes through the pod's
// shared PID namespace.
func (r Run) TargetPod(t Target) *corev1.Pod {
	labels := r.labels(ComponentTarget)
	labels[LabelTarget] = labelValue(t.Name)
	noToken, share := false, true
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: r.TargetName(t.Name), Namespace: r.Namespace, Labels: labels},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ShareProcessNamespace:         &share,
			AutomountServiceAccountToken:  &noToken,
			NodeSelector:                  map[string]string{t.Node.Key: t.Node.Value},
			Affinity:                      awayFrom(r.labels(ComponentAgent), true),
			EnableServiceLinks:            &noToken,
			TerminationGracePeriodSeconds: ptr(int64(5)),
			Containers:                    []corev1.Container{r.targetContainer(t), r.samplerContainer()},
		},
	}
	return pod
}

func (r Run) targetContainer(t Target) corev1.Container {
	env := []corev1.EnvVar{{Name: "PORT", Value: strconv.Itoa(TargetPort)}, {Name: "HOST", Value: "0.0.0.0"},
		{Name: "VCPUS", Value: strconv.Itoa(t.VCPUs)}}
	for _, k := range slices.Sorted(maps.Keys(t.Env)) {
		env = append(env, corev1.EnvVar{Name: k, Value: t.Env[k]})
	}
	return corev1.Container{
		Name: ContainerTarget, Image: t.Image, Env: env,
		Ports:     []corev1.ContainerPort{{Name: "http", ContainerPort: TargetPort, Protocol: corev1.ProtocolTCP}},
		Resources: guaranteed(*resource.NewQuantity(int64(t.VCPUs), resource.DecimalSI), *resource.NewQuantity(t.MemoryBytes, resource.BinarySI)),
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: t.Health, Port: intstr.FromInt32(TargetPort)}},
			PeriodSeconds: 1, FailureThreshold: 3, TimeoutSeconds: 1,
		},
		ImagePullPolicy:          corev1.PullIfNotPresent,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
}

func (r Run) samplerContainer() corev1.Container {
	return corev1.Container{
		Name: ContainerSampler, Image: r.HarnessImage,
		Command:                  []string{harnessBin, "sampler", "-every", SampleEvery},
		Resources:                guaranteed(resource.MustParse(samplerCPU), resource.MustParse(samplerMemory)),
		ImagePullPolicy:          corev1.PullIfNotPresent,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
}

// TargetService is a headless Service: the agents resolve the target's
// name to its pod's address and connect to it directly, with no
// kube-proxy translation in the path being measured.
func (r Run) TargetService(t Target) *corev1.Service {
	sel := map[string]string{LabelRun: labelValue(r.ID), LabelTarget: labelValue(t.Name), LabelComponent: ComponentTarget}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: r.meta(r.TargetName(t.Name), ComponentTarget),
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: sel,
			Ports: []corev1.ServicePort{{Name: "http", Port: TargetPort, TargetPort: intstr.FromInt32(TargetPort), Protocol: corev1.ProtocolTCP}}},
	}
	svc.Labels[LabelTarget] = labelValue(t.Name)
	return svc
}

// awayFrom keeps a pod off the nodes of pods with labels; required, or
// only preferred (spreading agents among themselves).
func awayFrom(labels map[string]string, required bool) *corev1.Affinity {
	sel := map[string]string{LabelRun: labels[LabelRun], LabelComponent: labels[LabelComponent]}
	term := corev1.PodAffinityTerm{LabelSelector: &metav1.LabelSelector{MatchLabels: sel}, TopologyKey: "kubernetes.io/hostname"}
	if required {
		return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term}}}
	}
	return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100, PodAffinityTerm: term}}}}
}

// CommandsConfigMap holds the step the agents run next (commands.go).
func (r Run) CommandsConfigMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: r.meta(r.CommandsName(), ComponentLoader),
		Data:       map[string]string{seqKey: "0", commandKey: ""},
	}
}

// AgentVerbs are exactly what an agent does with its ConfigMap
// (ConfigMapCommands): get it, then watch it.
var AgentVerbs = []string{"get", "watch"}

// AgentRBAC lets the agents read their ConfigMap, and nothing else.
func (r Run) AgentRBAC() (*corev1.ServiceAccount, *rbacv1.Role, *rbacv1.RoleBinding) {
	name := r.JobName()
	sa := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: r.meta(name, ComponentLoader)}
	role := &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: r.meta(name, ComponentLoader),
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"},
			ResourceNames: []string{r.CommandsName()}, Verbs: slices.Clone(AgentVerbs)}},
	}
	rb := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: r.meta(name, ComponentLoader),
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: r.Namespace}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
	}
	return sa, role, rb
}

// AgentJob is the loader: an Indexed Job of Agents pods, each an agent
// with whole CPUs, off the target's node and spread among themselves.
func (r Run) AgentJob() *batchv1.Job {
	n := int32(r.Agents)
	indexed := batchv1.IndexedCompletion
	labels := r.labels(ComponentAgent)
	spec := corev1.PodSpec{
		RestartPolicy:                 corev1.RestartPolicyNever,
		ServiceAccountName:            r.JobName(),
		TerminationGracePeriodSeconds: ptr(int64(5)),
		Affinity:                      awayFrom(r.labels(ComponentTarget), true),
		Containers:                    []corev1.Container{r.agentContainer()},
	}
	spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution =
		awayFrom(labels, false).PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution
	if r.LoaderNode.Key != "" {
		spec.NodeSelector = map[string]string{r.LoaderNode.Key: r.LoaderNode.Value}
	}
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: r.meta(r.JobName(), ComponentLoader),
		Spec: batchv1.JobSpec{
			CompletionMode: &indexed, Completions: &n, Parallelism: &n,
			// An agent that fails fails its step; a replacement would have
			// missed the commands before it, so none is started.
			BackoffLimit: ptr(int32(0)),
			// A safety net for a harness killed before it could delete it.
			TTLSecondsAfterFinished: ptr(int32(600)),
			Template:                corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}

func (r Run) agentContainer() corev1.Container {
	return corev1.Container{
		Name: ContainerAgent, Image: r.HarnessImage,
		Command: []string{harnessBin, "agent", "-index", "$(JOB_INDEX)",
			"-commands", fmt.Sprintf("configmap:%s/%s", r.Namespace, r.CommandsName())},
		Env: []corev1.EnvVar{
			{Name: "JOB_INDEX", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
				FieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}},
			// As the in-process loader (load.PinProcess): no collection
			// during a step, and a memory limit of half the pod's.
			{Name: "GOGC", Value: "off"},
			{Name: "GOMEMLIMIT", Value: strconv.FormatInt(r.AgentMemoryBytes/2, 10)},
		},
		Resources: guaranteed(*resource.NewQuantity(int64(r.AgentCPUs), resource.DecimalSI),
			*resource.NewQuantity(r.AgentMemoryBytes, resource.BinarySI)),
		ImagePullPolicy:          corev1.PullIfNotPresent,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
}

// LoaderObjects are the run's loader, in the order they are applied.
func (r Run) LoaderObjects() []runtime.Object {
	sa, role, rb := r.AgentRBAC()
	return []runtime.Object{sa, role, rb, r.CommandsConfigMap(), r.AgentJob()}
}

// TargetObjects are one target's objects, in the order they are applied.
func (r Run) TargetObjects(t Target) []runtime.Object {
	return []runtime.Object{r.TargetPod(t), r.TargetService(t)}
}

func ptr[T any](v T) *T { return &v }
