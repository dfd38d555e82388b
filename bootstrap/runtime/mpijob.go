package runtime

import (
	"fmt"
	"slices"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap"

	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
)

// MPI jobs: the MPIJob CRD (kubeflow.org/v2beta1) is applied with the
// runtime's CRDs, so before the controller starts (and --mpi-jobs=auto
// finds it); uninstall keeps it while MPIJobs exist
// (bootstrap.KeepWhileInUseAnnotation): they are the teams' training jobs,
// not the runtime's. A CRD that mpi-operator installed is adopted, left
// without the installer's mark, and the controller's auto mode then leaves
// MPIJobs to mpi-operator.

// MPIJobRoleNames are the aggregated ClusterRoles that give profile
// members (ClusterRoles edit and view, which profiles bind) MPIJobs.
var MPIJobRoleNames = struct{ Edit, View string }{"kfstack-mpijobs-edit", "kfstack-mpijobs-view"}

// CheckMPIJobs reports a mode the controller would refuse.
func CheckMPIJobs(mode string) error {
	if mode != "" && !slices.Contains(kubeflow.ControllerModes, mode) {
		return fmt.Errorf("%q is not auto, true or false", mode)
	}
	return nil
}

func mpiJobsOn(o Options) bool { return o.MPIJobs != "false" }

// MPIJobRules are the controller's cluster-wide permissions for MPIJobs,
// exactly what runtime/mpijob uses: it reads MPIJobs and writes their
// status; it makes their pods, Services, ConfigMaps and launcher Jobs; it
// creates the SSH key Secrets but never reads a Secret; it reads pod logs
// (the last lines of failed pods, and of the launcher, go into the job's
// conditions); it reads its own CRD (--mpi-jobs=auto).
func MPIJobRules(gangScheduler string) []rbacv1.PolicyRule {
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{kubeflow.GroupVersion.Group}, Resources: []string{"mpijobs"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{kubeflow.GroupVersion.Group}, Resources: []string{"mpijobs/status", "mpijobs/finalizers"}, Verbs: []string{"update"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch", "create", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"services", "configmaps"}, Verbs: []string{"get", "list", "watch", "create", "update"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}},
		{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get", "list", "watch", "create", "update", "delete"}},
		{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, ResourceNames: []string{kubeflow.CRDName}, Verbs: []string{"get"}},
	}
	if gangScheduler != "" {
		group := "scheduling.x-k8s.io"
		if gangScheduler == "volcano" {
			group = "scheduling.volcano.sh"
		}
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{"podgroups"}, Verbs: []string{"get", "list", "watch", "create", "update", "delete"}})
	}
	return rules
}

// MPIJobClusterRoleName names the ClusterRole (and binding) of the
// controller's MPIJob permissions.
func MPIJobClusterRoleName(namespace string) string {
	return "kfstack-runtime-mpijobs-" + namespace
}

// mpiJobObjects are the controller's MPIJob permissions and the
// aggregated roles of profile members, when MPIJobs are on.
func mpiJobObjects(o Options, common map[string]string) []kruntime.Object {
	if !mpiJobsOn(o) {
		return nil
	}
	ns := o.Namespace
	name := MPIJobClusterRoleName(ns)
	group := kubeflow.GroupVersion.Group
	// Through aggregation, edit (and admin, which includes edit) may
	// manage MPIJobs and view may read them.
	aggregated := func(name, to string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
		return &rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: withLabels(common, map[string]string{"rbac.authorization.k8s.io/aggregate-to-" + to: "true"})},
			Rules:      rules,
		}
	}
	read := []string{"get", "list", "watch"}
	edit := aggregated(MPIJobRoleNames.Edit, "edit",
		rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{"mpijobs"}, Verbs: []string{"create", "update", "patch", "delete", "deletecollection"}})
	view := aggregated(MPIJobRoleNames.View, "view",
		rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{"mpijobs", "mpijobs/status"}, Verbs: read})
	return []kruntime.Object{
		&rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: common},
			Rules:      MPIJobRules(o.MPIGangScheduler),
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: common},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: ControllerName, Namespace: ns}},
		},
		edit,
		view,
	}
}

// mpiJobArgs are the controller's MPIJob flags.
func mpiJobArgs(o Options) []string {
	mode := o.MPIJobs
	if mode == "" {
		mode = "auto"
	}
	args := []string{"--mpi-jobs=" + mode}
	if o.MPIGangScheduler != "" {
		args = append(args, "--mpi-gang-scheduler="+o.MPIGangScheduler)
	}
	return args
}

// MPIJobController says what the runtime does with MPIJobs after an
// install or check found status: what --mpi-jobs decides at the
// controller's start, from the same facts (an adopted MPIJob CRD is
// another installation's, and carries no installer mark).
func MPIJobController(o Options, status *bootstrap.Status) string {
	mode := o.MPIJobs
	if mode == "" {
		mode = "auto"
	}
	if mode == "false" {
		return "off (mpi_jobs = false)"
	}
	adopted := false
	if status != nil {
		for _, m := range status.Manifests {
			adopted = adopted || slices.Contains(m.Adopted, "CustomResourceDefinition "+kubeflow.CRDName)
		}
	}
	switch {
	case adopted && mode == "auto":
		return fmt.Sprintf("off (mpi_jobs = auto): the CRD %s was installed by another tool, so another controller, such as kubeflow/mpi-operator, owns MPIJobs", kubeflow.CRDName)
	case adopted:
		return fmt.Sprintf("on (mpi_jobs = true), though another tool installed the CRD %s: stop any other MPIJob controller", kubeflow.CRDName)
	}
	return fmt.Sprintf("on (mpi_jobs = %s): the runtime's controller runs MPIJobs", mode)
}

// MPIJobWebhookName names the MPIJob admission webhook.
const MPIJobWebhookName = "mpijobs.kubeflow.org"

// addMPIJobWebhook adds the MPIJob webhook, modelled on the runtime's
// others, to the webhook configuration among typed.
func addMPIJobWebhook(o Options, typed []kruntime.Object) {
	if !o.Webhooks || !mpiJobsOn(o) {
		return
	}
	for _, obj := range typed {
		cfg, ok := obj.(*admissionregistrationv1.ValidatingWebhookConfiguration)
		if !ok || len(cfg.Webhooks) == 0 {
			continue
		}
		hook := *cfg.Webhooks[0].DeepCopy()
		hook.Name = MPIJobWebhookName
		path := kubeflow.WebhookPath
		hook.ClientConfig.Service.Path = &path
		hook.Rules[0].APIGroups = []string{kubeflow.GroupVersion.Group}
		hook.Rules[0].APIVersions = []string{kubeflow.GroupVersion.Version}
		hook.Rules[0].Resources = []string{"mpijobs"}
		cfg.Webhooks = append(cfg.Webhooks, hook)
	}
}
