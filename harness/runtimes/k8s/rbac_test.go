package k8s

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/benchharness/harness/harness/agent"
)

// verbsUsed maps resource[/subresource] to the verbs of actions.
func verbsUsed(actions []k8stesting.Action) map[string][]string {
	out := map[string][]string{}
	for _, a := range actions {
		res := a.GetResource().Resource
		if a.GetSubresource() != "" {
			res += "/" + a.GetSubresource()
		}
		if !slices.Contains(out[res], a.GetVerb()) {
			out[res] = append(out[res], a.GetVerb())
		}
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

// rulesVerbs maps resource to verbs of rules, without what is held only
// to be granted or used over a stream (neither is a recorded action).
func rulesVerbs(rules []rbacv1.PolicyRule, withoutGranted bool) map[string][]string {
	out := map[string][]string{}
	for _, r := range rules {
		for _, res := range r.Resources {
			for _, v := range r.Verbs {
				if withoutGranted && (slices.Contains(grantedOnly[res], v) || slices.Contains(streamedOnly[res], v)) {
					continue
				}
				out[res] = append(out[res], v)
			}
			sort.Strings(out[res])
		}
	}
	return out
}

// The harness's Role (HarnessRules) is exactly what a whole run calls:
// start a target, start the loader, run a step, Ctrl-C, clean up.
func TestHarnessRulesAreExactlyTheVerbsARunUses(t *testing.T) {
	c := newCluster(t)
	run := testRun(2)
	rt := &Runtime{Client: c, Run: run, Node: Label{"bench.harness/role", "target"}, Logs: APILogs{c}, Poll: 10 * time.Millisecond}
	inst, err := rt.Start(context.Background(), loadTarget(t, "chi"), spec(8))
	if err != nil {
		t.Fatal(err)
	}
	f := startFleet(t, c, run)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := f.Step(ctx, testCommand()); err == nil {
		t.Fatal("a step no agent answered succeeded")
	}
	f.Close()
	if err := inst.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, want := verbsUsed(c.Actions()), rulesVerbs(HarnessRules, true)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("verbs a run uses:\n  %v\nHarnessRules (less what is only granted):\n  %v", got, want)
	}
}

// An agent's Role (AgentVerbs) is exactly what ConfigMapCommands calls.
func TestAgentVerbsAreExactlyWhatAnAgentUses(t *testing.T) {
	run := testRun(1)
	cs := fake.NewClientset(run.CommandsConfigMap())
	cmds := ConfigMapCommands(cs, testNS, run.CommandsName())
	cm := run.CommandsConfigMap()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan agent.Command, 3)
	go func() {
		for {
			c, err := cmds.Next(ctx)
			if err != nil {
				return
			}
			got <- c
			if c.Stop {
				return
			}
		}
	}()
	for seq := 1; seq <= 2; seq++ {
		c := testCommand()
		c.Seq = seq
		var err error
		if cm, err = Publish(ctx, cs, cm, c); err != nil {
			t.Fatal(err)
		}
		if r := <-got; r.Seq != seq || r.Rate != c.Rate || r.Scenario.Name != "api" {
			t.Fatalf("agent read %+v, want command %d", r, seq)
		}
	}
	if _, err := Publish(ctx, cs, cm, agent.Command{Seq: 3, Stop: true}); err != nil {
		t.Fatal(err)
	}
	if r := <-got; !r.Stop {
		t.Fatalf("agent read %+v, want Stop", r)
	}
	var agentActions []k8stesting.Action
	for _, a := range cs.Actions() {
		if a.GetVerb() != "update" { // the coordinator's Publish
			agentActions = append(agentActions, a)
		}
	}
	if used := verbsUsed(agentActions)["configmaps"]; !slices.Equal(used, AgentVerbs) {
		t.Errorf("an agent uses %v on its ConfigMap, its Role grants %v", used, AgentVerbs)
	}
}

// docs/kubernetes.md's Role for the harness is HarnessRules.
func TestDocumentedHarnessRoleIsHarnessRules(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(), "docs", "kubernetes.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "<!-- harness-role -->\n```yaml\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("docs/kubernetes.md has no harness-role YAML block")
	}
	path := filepath.Join(t.TempDir(), "role.yaml")
	if err := os.WriteFile(path, []byte(block), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := ReadManifests(path)
	if err != nil {
		t.Fatal(err)
	}
	role, ok := objs[0].(*rbacv1.Role)
	if !ok {
		t.Fatalf("the documented object is a %T, want a Role", objs[0])
	}
	if got, want := rulesVerbs(role.Rules, false), rulesVerbs(HarnessRules, false); !reflect.DeepEqual(got, want) {
		t.Errorf("documented Role:\n  %v\nHarnessRules:\n  %v", got, want)
	}
}
