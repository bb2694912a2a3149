package k8s

import (
	"context"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/benchharness/harness/harness/scenario"
)

// What a cluster cannot run is refused before anything is pushed or
// created, with the reason.
func TestStartClusterRefuses(t *testing.T) {
	p := loadProfile(t, "article-k8s")
	for _, tc := range []struct {
		name     string
		registry string
		scenario *scenario.Scenario
		want     string
	}{
		{"no registry", "", &scenario.Scenario{Name: "api"}, "BENCH_REGISTRY"},
		{"database scenario", "registry.test", &scenario.Scenario{Name: "db", Database: &scenario.DatabaseScenario{Schema: "db.sql"}}, "scenario db is not supported"},
		{"held connections", "registry.test", &scenario.Scenario{Name: "connections", Hold: &scenario.Hold{Steps: []int{1000}}}, "scenario connections is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewSimpleClientset()
			s := Setup{Profile: p, Scenario: tc.scenario, RunID: "r1", Settings: Settings{Namespace: testNS, Registry: tc.registry}}
			_, err := StartCluster(context.Background(), s, cs, nil, "/no/harness", nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("StartCluster: %v, want an error saying %q", err, tc.want)
			}
			if len(cs.Actions()) != 0 {
				t.Errorf("the cluster was contacted: %v", cs.Actions())
			}
		})
	}
}
