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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	bootstrapruntime "github.com/kfstack/terraform-provider-kubeflow/bootstrap/runtime"
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
	cs, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return err
	}
	checks := []authorizationv1.ResourceAttributes{
		{Verb: "list", Group: "pipelines.kfstack.dev", Resource: "pipelineruns"},
		{Namespace: namespace, Verb: "update", Group: "coordination.k8s.io", Resource: "leases"},
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
