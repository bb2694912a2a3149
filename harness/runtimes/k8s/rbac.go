package k8s

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// HarnessRules are exactly the verbs the harness uses in its namespace:
// what the Role of the user running it needs (docs/kubernetes.md lists the
// same, and a test holds the two and the code's calls together).
//
// ConfigMaps' get and watch are not the harness's own calls: it grants them
// to the agents, and RBAC lets a user grant only what it holds itself.
var HarnessRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create", "get", "list", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
	{APIGroups: []string{""}, Resources: []string{"pods/portforward"}, Verbs: []string{"create"}},
	{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"create", "list", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create", "update", "list", "delete", "get", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"create", "list", "delete"}},
	{APIGroups: []string{rbacv1.GroupName}, Resources: []string{"roles", "rolebindings"}, Verbs: []string{"create", "list", "delete"}},
	{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"create", "list", "delete"}},
}

// grantedOnly are HarnessRules' verbs held only to be granted to the agents.
var grantedOnly = map[string][]string{"configmaps": AgentVerbs}

// streamedOnly are HarnessRules' verbs used over a streaming connection (the
// port-forward the harness checks the target through, APIForwarder), which
// a fake clientset does not record.
var streamedOnly = map[string][]string{"pods/portforward": {"create"}}

// HarnessRole is the Role a user needs to run the harness in namespace.
func HarnessRole(namespace string) *rbacv1.Role {
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: metav1.ObjectMeta{Name: "bench-harness", Namespace: namespace},
		Rules:      HarnessRules,
	}
}
