// Package runtimetest runs the runtime controller in tests as it runs in a
// cluster: with the ServiceAccount, ClusterRole and Role that
// kubeflow_runtime installs (bootstrap/runtime), impersonated on the test
// cluster's administrator config. A verb missing from the controller's
// RBAC markers then fails the test that needs it, instead of passing as
// cluster-admin.
package runtimetest

import (
	"context"
	"fmt"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	bootstrapruntime "github.com/kfstack/terraform-provider-kubeflow/bootstrap/runtime"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// Namespace is where the tests' controller "runs": its ServiceAccount and
// leader election Role live there. It is not the runtime's default
// namespace, so that tests installing and uninstalling kubeflow_runtime
// there never take the tests' controller's permissions away.
const Namespace = "kfstack-test-controller"

// ServiceAccountUser is the user name of the controller's ServiceAccount
// in namespace.
func ServiceAccountUser(namespace string) string {
	return "system:serviceaccount:" + namespace + ":" + bootstrapruntime.ControllerName
}

// ServiceAccountGroups are the groups the API server gives that
// ServiceAccount.
func ServiceAccountGroups(namespace string) []string {
	return []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}
}

// rbacKinds are the objects of the runtime component that make up the
// controller's identity and permissions.
var rbacKinds = map[string]bool{
	"Namespace": true, "ServiceAccount": true, "ClusterRole": true, "ClusterRoleBinding": true, "Role": true, "RoleBinding": true,
}

// ControllerConfig applies, to the cluster admin reaches, the
// controller's ServiceAccount and RBAC exactly as the runtime component
// makes them for namespace (and the members' aggregated ClusterRoles with
// them), and returns a copy of admin that impersonates the
// ServiceAccount. It waits until the authorizer has seen the new
// bindings.
func ControllerConfig(ctx context.Context, admin *rest.Config, namespace string) (*rest.Config, error) {
	c, err := bootstrapruntime.Component(bootstrapruntime.Options{Version: "test", Namespace: namespace})
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(admin)
	if err != nil {
		return nil, err
	}
	applied := 0
	for _, set := range c.Manifests {
		for _, obj := range set.Objects {
			if !rbacKinds[obj.GetKind()] {
				continue
			}
			if err := apply(ctx, dyn, obj); err != nil {
				return nil, err
			}
			applied++
		}
	}
	if applied == 0 {
		return nil, fmt.Errorf("the runtime component made no RBAC objects")
	}
	if err := waitAuthorized(ctx, admin, namespace); err != nil {
		return nil, err
	}
	return Impersonate(admin, namespace), nil
}

// Impersonate returns a copy of admin that acts as the controller's
// ServiceAccount in namespace, as installed by kubeflow_runtime (or by
// ControllerConfig).
func Impersonate(admin *rest.Config, namespace string) *rest.Config {
	cfg := rest.CopyConfig(admin)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: ServiceAccountUser(namespace), Groups: ServiceAccountGroups(namespace)}
	return cfg
}

func apply(ctx context.Context, dyn dynamic.Interface, obj *unstructured.Unstructured) error {
	gv, err := schema.ParseGroupVersion(obj.GetAPIVersion())
	if err != nil {
		return err
	}
	resources := map[string]string{
		"Namespace": "namespaces", "ServiceAccount": "serviceaccounts", "ClusterRole": "clusterroles",
		"ClusterRoleBinding": "clusterrolebindings", "Role": "roles", "RoleBinding": "rolebindings",
	}
	res := dyn.Resource(gv.WithResource(resources[obj.GetKind()]))
	var ri dynamic.ResourceInterface = res
	if ns := obj.GetNamespace(); ns != "" {
		ri = res.Namespace(ns)
	}
	if _, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "kfstack-runtimetest", Force: true}); err != nil {
		return fmt.Errorf("applying %s %s: %w", obj.GetKind(), obj.GetName(), err)
	}
	return nil
}

// waitAuthorized waits until the ServiceAccount may list PipelineRuns and
// update its Lease: RBAC reaches the authorizer through an informer.
func waitAuthorized(ctx context.Context, admin *rest.Config, namespace string) error {
	return waitAllowed(ctx, admin, namespace, []authorizationv1.ResourceAttributes{
		{Verb: "list", Group: "pipelines.kfstack.dev", Resource: "pipelineruns"},
		{Namespace: namespace, Verb: "update", Group: "coordination.k8s.io", Resource: "leases"},
	})
}

// waitAllowed waits until the authorizer allows the ServiceAccount in
// namespace every one of checks.
func waitAllowed(ctx context.Context, admin *rest.Config, namespace string, checks []authorizationv1.ResourceAttributes) error {
	cs, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		for _, attrs := range checks {
			review, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: ServiceAccountUser(namespace), Groups: ServiceAccountGroups(namespace), ResourceAttributes: &attrs,
			}}, metav1.CreateOptions{})
			if err != nil {
				return false, err
			}
			if !review.Status.Allowed {
				return false, nil
			}
		}
		return true, nil
	})
}

// WriteKubeconfig writes a kubeconfig for cfg, impersonation included, to
// path: for a controller started as a separate process.
func WriteKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken,
		Impersonate: cfg.Impersonate.UserName, ImpersonateGroups: cfg.Impersonate.Groups,
	}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kc.CurrentContext = "test"
	return clientcmd.WriteToFile(*kc, path)
}

// LocalExecutorRules are what a controller that allows the local executor
// needs beyond the installed RBAC: it runs outside the cluster (make
// demo, these tests) with its user's credentials, and publishes that it
// allows the local executor by annotating the PipelineRun CRD
// (runtime/controller localexecutor.go), watching CRDs' metadata to do it
// again on a new one. The installed controller never gets these rules:
// in the cluster the local executor is off.
func LocalExecutorRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, ResourceNames: []string{v1alpha1.PipelineRunCRDName}, Verbs: []string{"patch"}},
	}
}

// AllowLocalExecutor gives the controller's ServiceAccount in namespace
// LocalExecutorRules, as the user who runs a local controller has them,
// and waits until the authorizer has seen them. Call it after
// ControllerConfig for a controller started with AllowLocalExecutor.
func AllowLocalExecutor(ctx context.Context, admin *rest.Config, namespace string) error {
	dyn, err := dynamic.NewForConfig(admin)
	if err != nil {
		return err
	}
	name := "kfstack-runtimetest-local-executor-" + namespace
	role := &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules:      LocalExecutorRules(),
	}
	binding := &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: bootstrapruntime.ControllerName, Namespace: namespace}},
	}
	for _, obj := range []any{role, binding} {
		raw, err := kruntime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return err
		}
		if err := apply(ctx, dyn, &unstructured.Unstructured{Object: raw}); err != nil {
			return err
		}
	}
	return waitAllowed(ctx, admin, namespace, []authorizationv1.ResourceAttributes{
		{Verb: "patch", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions", Name: v1alpha1.PipelineRunCRDName},
		{Verb: "watch", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"},
	})
}
