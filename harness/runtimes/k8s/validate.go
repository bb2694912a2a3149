package k8s

// The API server's own validation (k8s.io/kubernetes/pkg/apis/.../validation)
// is not importable as a library. Validate checks what these manifests could
// get wrong with apimachinery's validation helpers, the ones the API server
// itself uses for names, labels and keys, plus the properties a run relies
// on: Guaranteed QoS, whole target CPUs, the run label, an Indexed Job.

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Validate checks one object; the error has a line per problem, each
// naming the object and the field.
func Validate(o runtime.Object) error {
	v := &validator{}
	switch x := o.(type) {
	case *corev1.Pod:
		v.at = "Pod " + x.Name
		v.meta(x.ObjectMeta, false)
		v.podSpec("spec", x.Spec, x.Labels[LabelComponent] == ComponentTarget)
	case *corev1.Service:
		v.at = "Service " + x.Name
		v.meta(x.ObjectMeta, true)
		v.service(x.Spec)
	case *corev1.ConfigMap:
		v.at = "ConfigMap " + x.Name
		v.meta(x.ObjectMeta, false)
		for k := range x.Data {
			v.msgs("data["+k+"]", validation.IsConfigMapKey(k))
		}
	case *corev1.ServiceAccount:
		v.at = "ServiceAccount " + x.Name
		v.meta(x.ObjectMeta, false)
	case *rbacv1.Role:
		v.at = "Role " + x.Name
		v.meta(x.ObjectMeta, false)
		v.rules(x.Rules)
	case *rbacv1.RoleBinding:
		v.at = "RoleBinding " + x.Name
		v.meta(x.ObjectMeta, false)
		v.binding(x)
	case *batchv1.Job:
		v.at = "Job " + x.Name
		v.meta(x.ObjectMeta, false)
		v.job(x.Spec)
	default:
		return fmt.Errorf("%T: not an object a run creates", o)
	}
	return errors.Join(v.errs...)
}

type validator struct {
	at   string
	errs []error
}

func (v *validator) fail(field, format string, a ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: field %s: %s", v.at, field, fmt.Sprintf(format, a...)))
}

func (v *validator) msgs(field string, msgs []string) {
	for _, m := range msgs {
		v.fail(field, "%s", m)
	}
}

// meta checks the name (a DNS label where the kind needs one: a Service),
// the namespace, the labels, and that the run's label is there.
func (v *validator) meta(m metav1.ObjectMeta, label bool) {
	if label {
		v.msgs("metadata.name", validation.IsDNS1035Label(m.Name))
	} else {
		v.msgs("metadata.name", validation.IsDNS1123Subdomain(m.Name))
	}
	v.msgs("metadata.namespace", validation.IsDNS1123Label(m.Namespace))
	v.labels("metadata.labels", m.Labels)
	if m.Labels[LabelRun] == "" {
		v.fail("metadata.labels", "no %s label: cleanup could not find it", LabelRun)
	}
}

func (v *validator) labels(field string, l map[string]string) {
	for k, val := range l {
		v.msgs(field+"["+k+"]", validation.IsQualifiedName(k))
		v.msgs(field+"["+k+"]", validation.IsValidLabelValue(val))
	}
}

func (v *validator) podSpec(f string, s corev1.PodSpec, target bool) {
	if len(s.Containers) == 0 {
		v.fail(f+".containers", "required")
	}
	seen := map[string]bool{}
	for i, c := range s.Containers {
		cf := fmt.Sprintf("%s.containers[%d]", f, i)
		v.msgs(cf+".name", validation.IsDNS1123Label(c.Name))
		if seen[c.Name] {
			v.fail(cf+".name", "duplicate %q", c.Name)
		}
		seen[c.Name] = true
		v.container(cf, c)
	}
	if s.RestartPolicy != corev1.RestartPolicyNever && s.RestartPolicy != corev1.RestartPolicyOnFailure && s.RestartPolicy != corev1.RestartPolicyAlways {
		v.fail(f+".restartPolicy", "unsupported value %q", s.RestartPolicy)
	}
	v.labels(f+".nodeSelector", s.NodeSelector)
	if s.ServiceAccountName != "" {
		v.msgs(f+".serviceAccountName", validation.IsDNS1123Subdomain(s.ServiceAccountName))
	}
	v.affinity(f+".affinity", s.Affinity)
	if target {
		v.target(f, s)
	}
}

func (v *validator) container(f string, c corev1.Container) {
	if c.Image == "" {
		v.fail(f+".image", "required")
	}
	for _, e := range c.Env {
		v.msgs(f+".env["+e.Name+"]", validation.IsEnvVarName(e.Name))
	}
	for _, p := range c.Ports {
		v.msgs(f+".ports", validation.IsValidPortNum(int(p.ContainerPort)))
	}
	if p := c.ReadinessProbe; p != nil && p.HTTPGet != nil && !strings.HasPrefix(p.HTTPGet.Path, "/") {
		v.fail(f+".readinessProbe.httpGet.path", "must begin with /, got %q", p.HTTPGet.Path)
	}
	// Guaranteed QoS: every container has CPU and memory limits, and its
	// requests equal them.
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		lim, ok := c.Resources.Limits[res]
		if !ok || lim.IsZero() {
			v.fail(f+".resources.limits."+string(res), "required for Guaranteed QoS")
			continue
		}
		if req, ok := c.Resources.Requests[res]; ok && req.Cmp(lim) != 0 {
			v.fail(f+".resources.requests."+string(res), "%s differs from the limit %s: the pod would not be Guaranteed", req.String(), lim.String())
		}
	}
}

// target checks what the measurement needs of the target's pod: whole
// CPUs for the target container, and the sidecar's view of its processes.
func (v *validator) target(f string, s corev1.PodSpec) {
	if s.ShareProcessNamespace == nil || !*s.ShareProcessNamespace {
		v.fail(f+".shareProcessNamespace", "must be true: the sampler sidecar reads the target's processes")
	}
	i := slices.IndexFunc(s.Containers, func(c corev1.Container) bool { return c.Name == ContainerTarget })
	if i < 0 {
		v.fail(f+".containers", "no container %q", ContainerTarget)
		return
	}
	if cpu := s.Containers[i].Resources.Limits[corev1.ResourceCPU]; cpu.MilliValue()%1000 != 0 {
		v.fail(fmt.Sprintf("%s.containers[%d].resources.limits.cpu", f, i), "%s is not whole CPUs: no exclusive cores", cpu.String())
	}
	if !slices.ContainsFunc(s.Containers, func(c corev1.Container) bool { return c.Name == ContainerSampler }) {
		v.fail(f+".containers", "no container %q", ContainerSampler)
	}
}

func (v *validator) affinity(f string, a *corev1.Affinity) {
	if a == nil || a.PodAntiAffinity == nil {
		return
	}
	terms := slices.Clone(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
	for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		if w.Weight < 1 || w.Weight > 100 {
			v.fail(f+".podAntiAffinity.preferred.weight", "must be in 1..100, got %d", w.Weight)
		}
		terms = append(terms, w.PodAffinityTerm)
	}
	for _, t := range terms {
		if t.TopologyKey == "" {
			v.fail(f+".podAntiAffinity.topologyKey", "required")
		}
		if _, err := metav1.LabelSelectorAsSelector(t.LabelSelector); err != nil {
			v.fail(f+".podAntiAffinity.labelSelector", "%v", err)
		}
	}
}

func (v *validator) service(s corev1.ServiceSpec) {
	if len(s.Ports) == 0 {
		v.fail("spec.ports", "required")
	}
	for _, p := range s.Ports {
		v.msgs("spec.ports", validation.IsValidPortNum(int(p.Port)))
	}
	v.labels("spec.selector", s.Selector)
}

func (v *validator) job(s batchv1.JobSpec) {
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		v.fail("spec.completionMode", "must be Indexed: each agent's index comes from it")
	}
	if s.Completions == nil || *s.Completions < 1 {
		v.fail("spec.completions", "required and positive for an Indexed Job")
	} else if s.Parallelism == nil || *s.Parallelism != *s.Completions {
		v.fail("spec.parallelism", "must equal completions: every agent runs at once")
	}
	if p := s.Template.Spec.RestartPolicy; p != corev1.RestartPolicyNever && p != corev1.RestartPolicyOnFailure {
		v.fail("spec.template.spec.restartPolicy", "a Job's pods need Never or OnFailure, got %q", p)
	}
	v.labels("spec.template.metadata.labels", s.Template.Labels)
	v.podSpec("spec.template.spec", s.Template.Spec, false)
}

// knownVerbs are the API's verbs.
var knownVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

func (v *validator) rules(rules []rbacv1.PolicyRule) {
	for i, r := range rules {
		f := fmt.Sprintf("rules[%d]", i)
		if len(r.Verbs) == 0 || len(r.Resources) == 0 {
			v.fail(f, "needs verbs and resources")
		}
		for _, verb := range r.Verbs {
			if !slices.Contains(knownVerbs, verb) {
				v.fail(f+".verbs", "unknown verb %q", verb)
			}
		}
	}
}

func (v *validator) binding(b *rbacv1.RoleBinding) {
	if b.RoleRef.APIGroup != rbacv1.GroupName || (b.RoleRef.Kind != "Role" && b.RoleRef.Kind != "ClusterRole") || b.RoleRef.Name == "" {
		v.fail("roleRef", "must name a Role or ClusterRole of %s", rbacv1.GroupName)
	}
	for i, s := range b.Subjects {
		if s.Kind != rbacv1.ServiceAccountKind || s.Name == "" || s.Namespace == "" {
			v.fail(fmt.Sprintf("subjects[%d]", i), "must be a ServiceAccount with a name and namespace")
		}
	}
}
