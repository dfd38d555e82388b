package runtime

import (
	"context"
	"slices"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/crds"
	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
)

var mpijobs = schema.GroupVersionResource{Group: "kubeflow.org", Version: "v2beta1", Resource: "mpijobs"}

const miniMPIJob = `{"apiVersion":"kubeflow.org/v2beta1","kind":"MPIJob","metadata":{"name":"pi"},"spec":{"mpiReplicaSpecs":{
 "Launcher":{"template":{"spec":{"containers":[{"name":"l","image":"example.com/mpi:1"}]}}},
 "Worker":{"replicas":1,"template":{"spec":{"containers":[{"name":"w","image":"example.com/mpi:1"}]}}}}}}`

// TestMPIJobsInstall: the runtime installs the MPIJob CRD marked as its
// own (so --mpi-jobs=auto runs the controller) and the roles that let
// profile members use MPIJobs (edit may create, view may read); uninstall
// keeps the CRD, and the jobs, while MPIJobs exist; a CRD that another
// tool installed (mpi-operator) is adopted unmarked, so auto stays off.
func TestMPIJobsInstall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deleteCRDTimeout)
	defer cancel()
	dyn := dynamic.NewForConfigOrDie(cluster.Config)
	const ns = "kfstack-mpi"
	c, err := Component(Options{Version: "v0.4.2", Namespace: ns, Replicas: 0, MPIGangScheduler: "volcano"})
	if err != nil {
		t.Fatal(err)
	}
	in := newInstaller(t)
	if _, err := in.Install(ctx, c); err != nil {
		t.Fatal(err)
	}
	crd, err := dyn.Resource(crdGVR).Get(ctx, kubeflow.CRDName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if other, why := kubeflow.OwnedElsewhere(crd.GetAnnotations(), crd.GetLabels()); other {
		t.Errorf("the runtime's own MPIJob CRD reads as another controller's: %s", why)
	}
	if kubeflow.InstalledByKfstackAnnotation != bootstrap.InventoryAnnotation {
		t.Errorf("the MPIJob controller looks for %s, the installer writes %s", kubeflow.InstalledByKfstackAnnotation, bootstrap.InventoryAnnotation)
	}
	deploy, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, ControllerName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	args := deploy.Spec.Template.Spec.Containers[0].Args
	if !slices.Contains(args, "--mpi-jobs=auto") || !slices.Contains(args, "--mpi-gang-scheduler=volcano") {
		t.Errorf("args %v", args)
	}
	if got := ParseArgs(args); got.MPIJobs != "auto" || got.MPIGangScheduler != "volcano" {
		t.Errorf("ParseArgs: %+v", got)
	}

	// Profile members: alice has edit, bob has view, in team-mpi.
	const team = "team-mpi"
	if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: team}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for user, role := range map[string]string{"alice": "edit", "bob": "view"} {
		rb := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: team},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: "User", Name: user, APIGroup: "rbac.authorization.k8s.io"}},
		}
		if _, err := cluster.Client.RbacV1().RoleBindings(team).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, check := range []struct {
		user, verb string
		allow      bool
	}{
		{"alice", "create", true}, {"alice", "delete", true}, {"alice", "list", true},
		{"bob", "list", true}, {"bob", "get", true}, {"bob", "create", false}, {"bob", "delete", false},
	} {
		attrs := authorizationv1.ResourceAttributes{Namespace: team, Verb: check.verb, Group: "kubeflow.org", Resource: "mpijobs"}
		// Aggregation is asynchronous: wait for the roles to take the rules.
		err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			review, err := cluster.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: check.user, ResourceAttributes: &attrs}}, metav1.CreateOptions{})
			return err == nil && review.Status.Allowed == check.allow, err
		})
		if err != nil {
			t.Errorf("%s %s mpijobs: want allowed = %v: %v", check.user, check.verb, check.allow, err)
		}
	}

	// Uninstall with an MPIJob in a team's namespace: the CRD and the job
	// stay.
	job := &unstructured.Unstructured{}
	if err := job.UnmarshalJSON([]byte(miniMPIJob)); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(mpijobs).Namespace(team).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := in.Uninstall(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(mpijobs).Namespace(team).Get(ctx, "pi", metav1.GetOptions{}); err != nil {
		t.Errorf("uninstall deleted a team's MPIJob: %v", err)
	}
	if crd, err := dyn.Resource(crdGVR).Get(ctx, kubeflow.CRDName, metav1.GetOptions{}); err != nil || crd.GetDeletionTimestamp() != nil {
		t.Errorf("uninstall deleted the MPIJob CRD while an MPIJob exists: %v", err)
	}
	for _, name := range []string{MPIJobRoleNames.Edit, MPIJobRoleNames.View, MPIJobClusterRoleName(ns)} {
		if _, err := cluster.Client.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ClusterRole %s after uninstall: %v", name, err)
		}
	}

	// A second install finds the kept CRD its own; with the job gone,
	// uninstall deletes it.
	if _, err := in.Install(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := dyn.Resource(mpijobs).Namespace(team).Delete(ctx, "pi", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := in.Uninstall(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(crdGVR).Get(ctx, kubeflow.CRDName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the unused MPIJob CRD is still there after uninstall: %v", err)
	}

	// mpi-operator's CRD: adopted, not marked, so auto leaves it alone.
	all, err := crds.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, crd := range all {
		if crd.Name == kubeflow.CRDName {
			crd.Labels = map[string]string{"app": "mpi-operator", "app.kubernetes.io/name": "mpi-operator"}
			if err := createCRD(ctx, crd); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := in.Install(ctx, c); err != nil {
		t.Fatal(err)
	}
	crd, err = dyn.Resource(crdGVR).Get(ctx, kubeflow.CRDName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if other, why := kubeflow.OwnedElsewhere(crd.GetAnnotations(), crd.GetLabels()); !other {
		t.Errorf("mpi-operator's adopted CRD reads as the runtime's: %s", why)
	} else {
		t.Log(why)
	}
	if err := in.Uninstall(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(crdGVR).Get(ctx, kubeflow.CRDName, metav1.GetOptions{}); err != nil {
		t.Errorf("the adopted MPIJob CRD was deleted: %v", err)
	}
	_ = dyn.Resource(crdGVR).Delete(ctx, kubeflow.CRDName, metav1.DeleteOptions{})
}

func TestMPIJobsOff(t *testing.T) {
	c, err := Component(Options{Version: "v1", MPIJobs: "false"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range c.Manifests {
		for _, obj := range m.Objects {
			if obj.GetName() == kubeflow.CRDName || obj.GetName() == MPIJobRoleNames.Edit {
				t.Errorf("mpi_jobs = false installs %s %s", obj.GetKind(), obj.GetName())
			}
		}
	}
	if _, err := Component(Options{Version: "v1", MPIJobs: "sometimes"}); err == nil {
		t.Error("mpi_jobs = sometimes accepted")
	}
}
