package runtime

import (
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// UIName names the UI's Deployment, ServiceAccount, ClusterRole (with the
// namespace) and Service.
const UIName = "kfstack-runtime-ui"

// UIPort is the port the UI listens on (its Service's target port) and
// UIProbePort the port of its probes.
const (
	UIPort      = 8082
	UIProbePort = 8083
)

// UIClusterRoleName names the UI's ClusterRole and ClusterRoleBinding.
func UIClusterRoleName(namespace string) string {
	return UIName + "-" + namespace
}

// UIRules are the UI's cluster-wide permissions, exactly what runtime/ui
// uses: it reads the runtime's kinds, task pods and namespaces (its
// informers), asks the API server's authoriser about its users
// (SubjectAccessReviews), and makes the changes its actions make once the
// authoriser said the user may make them: create runs, cancel them
// (patch), archive experiments (patch, or create one that has no object
// yet). It cannot create pods, read secrets, read logs through the API
// (logs come from the artifact store), or change a status.
func UIRules() []rbacv1.PolicyRule {
	group := v1alpha1.GroupVersion.Group
	return []rbacv1.PolicyRule{
		{APIGroups: []string{group}, Resources: []string{"pipelines", "pipelineruns", "experiments"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{group}, Resources: []string{"pipelineruns", "experiments"}, Verbs: []string{"create", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"pods", "namespaces"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	}
}
