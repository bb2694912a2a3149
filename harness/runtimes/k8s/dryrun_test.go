package k8s

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/benchharness/harness/harness/targets"
)

func articleSetup(t *testing.T) Setup {
	t.Helper()
	return Setup{Profile: loadProfile(t, "article-k8s"), Targets: []*targets.Manifest{loadTarget(t, "chi"), loadTarget(t, "fastify")},
		RunID: "20261130-120000-article-k8s", Settings: Settings{Namespace: "bench", TargetNode: Label{"bench.harness/role", "target"}}}
}

// The dry run's files decode into the API's types with client-go's
// universal deserializer, and every object passes Validate.
func TestDryRunManifestsParseIntoAPITypesAndValidate(t *testing.T) {
	dir := t.TempDir()
	paths, sizing, err := DryRun(articleSetup(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sizing, "5 agents of 4 CPUs") {
		t.Errorf("sizing = %q, want 5 agents of 4 CPUs (400,000 req/s at 20,000 per core)", sizing)
	}
	kinds := map[string]int{}
	for _, p := range paths {
		objs, err := ReadManifests(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if err := Validate(o); err != nil {
				t.Errorf("%s: %v", filepath.Base(p), err)
			}
			kinds[kindOf(o)]++
			if pod, ok := o.(*corev1.Pod); ok {
				if cpu := pod.Spec.Containers[0].Resources.Limits.Cpu(); cpu.String() != "8" {
					t.Errorf("%s: target cpu %s, want 8", pod.Name, cpu)
				}
				if img := pod.Spec.Containers[0].Image; !strings.HasPrefix(img, PlaceholderRegistry+"/bench-") {
					t.Errorf("%s: image %s, want the placeholder registry", pod.Name, img)
				}
			}
			if job, ok := o.(*batchv1.Job); ok && *job.Spec.Completions != 5 {
				t.Errorf("job completions %d, want 5", *job.Spec.Completions)
			}
		}
	}
	want := map[string]int{"Pod": 2, "Service": 2, "Job": 1, "ConfigMap": 1, "ServiceAccount": 1, "Role": 1, "RoleBinding": 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s objects, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
}

func TestDryRunRefusesAFractionalProfile(t *testing.T) {
	s := articleSetup(t)
	s.Profile = loadProfile(t, "quick") // vcpus: auto
	_, _, err := DryRun(s, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "quick.yaml: field vcpus") {
		t.Fatalf("dry run of the quick profile: %v, want an error naming the file and field", err)
	}
}

// Validate rejects what would break a run or the API server's checks.
func TestValidateRejectsABrokenManifest(t *testing.T) {
	run, ts, err := articleSetup(t).Plan()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, want string
		breakIt    func() runtime.Object
	}{
		{"fractional target CPU", "not whole CPUs", func() runtime.Object {
			p := run.TargetPod(ts[0])
			q := resource.MustParse("7500m")
			p.Spec.Containers[0].Resources.Limits[corev1.ResourceCPU], p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = q, q
			return p
		}},
		{"requests below limits", "would not be Guaranteed", func() runtime.Object {
			p := run.TargetPod(ts[0])
			p.Spec.Containers[1].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("32Mi")
			return p
		}},
		{"no shared PID namespace", "shareProcessNamespace", func() runtime.Object {
			p := run.TargetPod(ts[0])
			p.Spec.ShareProcessNamespace = nil
			return p
		}},
		{"bad label value", "metadata.labels", func() runtime.Object {
			p := run.TargetPod(ts[0])
			p.Labels[LabelTarget] = "not a value!"
			return p
		}},
		{"no run label", "cleanup could not find it", func() runtime.Object {
			s := run.TargetService(ts[0])
			delete(s.Labels, LabelRun)
			return s
		}},
		{"bad container name", "containers[0].name", func() runtime.Object {
			j := run.AgentJob()
			j.Spec.Template.Spec.Containers[0].Name = "Agent_0"
			return j
		}},
		{"not indexed", "completionMode", func() runtime.Object {
			j := run.AgentJob()
			j.Spec.CompletionMode = nil
			return j
		}},
		{"unknown verb", "unknown verb", func() runtime.Object {
			_, r, _ := run.AgentRBAC()
			r.Rules[0].Verbs = append(r.Rules[0].Verbs, "read")
			return r
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Validate(c.breakIt())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate = %v, want an error saying %q", err, c.want)
			}
		})
	}
}

// A file that is not a Kubernetes object fails to decode, naming the file.
func TestReadManifestsRejectsWhatTheAPIWouldNotDecode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("---\napiVersion: v1\nkind: Pod\nspec:\n  containers: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadManifests(path); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Fatalf("ReadManifests = %v, want a decode error naming the file", err)
	}
}

func TestAgentsAreSizedByCapacityPerCore(t *testing.T) {
	cases := []struct {
		rate, perCore float64
		cpus, want    int
	}{
		{400000, 20000, 4, 5},
		{400001, 20000, 4, 6},
		{1000, 20000, 4, 1},
		{80000, 0, 4, 1}, // no capacity known: one agent
		{160000, 20000, 1, 8},
	}
	for _, c := range cases {
		if got := Agents(c.rate, c.perCore, c.cpus); got != c.want {
			t.Errorf("Agents(%g, %g, %d) = %d, want %d", c.rate, c.perCore, c.cpus, got, c.want)
		}
	}
	p := loadProfile(t, "article-k8s")
	if r := HighestRate(p, 8); r != 400000 {
		t.Errorf("article-k8s highest rate %g, want max_rate 400000", r)
	}
}

func TestObjectNamesAreDNSLabelsForAnyRunID(t *testing.T) {
	for _, id := range []string{"20261130-120000-article-k8s", "20261130-120000-A_Very.Long_profile-name-that-goes-on-and-on-external"} {
		r := Run{ID: id}
		for _, n := range []string{r.TargetName("phoenix"), r.JobName(), r.CommandsName()} {
			if len(n) > 52 || strings.ToLower(n) != n || slices.Contains([]byte(n), '_') {
				t.Errorf("run %q: name %q is not a short DNS label", id, n)
			}
		}
	}
}
