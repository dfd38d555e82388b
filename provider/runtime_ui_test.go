package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	kfruntime "github.com/kfstack/terraform-provider-kubeflow/bootstrap/runtime"
)

// TestAccRuntime_ui installs the runtime with its UI (the gateway's
// identity header, trusted from its network), switches it in place to a
// shared secret, puts back an edit made out of band, and
// removes it; the UI's objects go with the block. Settings the UI would
// refuse are refused at plan time.
func TestAccRuntime_ui(t *testing.T) {
	ns := uniqueName("rt-ui")
	adopted := runtimeCRDsExist(t)
	uiArgs := func() ([]string, error) {
		d, err := testCluster.Client.AppsV1().Deployments(ns).Get(context.Background(), kfruntime.UIName, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return d.Spec.Template.Spec.Containers[0].Args, nil
	}
	header := `  ui = {
    auth          = "header"
    proxy_secret  = "a-secret-the-gateway-sends"
    groups_header = "kubeflow-groups"
    base_path     = "/pipelines-ui/"
  }`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkRuntimeGone(ns, adopted),
		Steps: []resource.TestStep{
			{
				Config:      runtimeConfig(ns, "  ui = { auth = \"header\" }"),
				ExpectError: wrappedError(`set proxy_secret`),
			},
			{
				Config:      runtimeConfig(ns, "  ui = { auth = \"none\" }"),
				ExpectError: wrappedError(`value must be one of`),
			},
			{
				Config: runtimeConfig(ns, "  ui = {\n    auth = \"header\"\n    trusted_proxies = [\"10.0.0.0/8\"]\n  }"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_runtime.test", tfjsonpath.New("ready"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("kubeflow_runtime.test", tfjsonpath.New("ui").AtMapKey("replicas"), knownvalue.Int64Exact(1)),
				},
				Check: func(*terraform.State) error {
					args, err := uiArgs()
					if err != nil {
						return err
					}
					if !slices.Contains(args, "--auth=header") || !slices.Contains(args, "--trusted-proxies=10.0.0.0/8") {
						return fmt.Errorf("UI args %v", args)
					}
					d, err := testCluster.Client.AppsV1().Deployments(ns).Get(context.Background(), kfruntime.UIName, metav1.GetOptions{})
					if err != nil {
						return err
					}
					if d.Status.AvailableReplicas != 1 {
						return fmt.Errorf("the UI is not available: %d replicas available", d.Status.AvailableReplicas)
					}
					if _, err := testCluster.Client.RbacV1().ClusterRoles().Get(context.Background(), kfruntime.UIClusterRoleName(ns), metav1.GetOptions{}); err != nil {
						return err
					}
					return nil
				},
			},
			{
				Config: runtimeConfig(ns, header),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_runtime.test", plancheck.ResourceActionUpdate)},
				},
				Check: func(*terraform.State) error {
					args, err := uiArgs()
					if err != nil {
						return err
					}
					for _, want := range []string{"--auth=header", "--groups-header=kubeflow-groups", "--base-path=/pipelines-ui/", "--proxy-secret-file=/etc/kfstack/ui/proxy-secret"} {
						if !slices.Contains(args, want) {
							return fmt.Errorf("UI args %v lack %s", args, want)
						}
					}
					if strings.Contains(strings.Join(args, " "), "a-secret-the-gateway-sends") {
						return fmt.Errorf("the secret is in the UI's args")
					}
					s, err := testCluster.Client.CoreV1().Secrets(ns).Get(context.Background(), kfruntime.UIName, metav1.GetOptions{})
					if err != nil || string(s.Data["proxy-secret"]) != "a-secret-the-gateway-sends" {
						return fmt.Errorf("the UI's Secret: %w", err)
					}
					// Edited out of band: scaled to 3.
					patch := []byte(`{"spec":{"replicas":3}}`)
					_, err = testCluster.Client.AppsV1().Deployments(ns).Patch(context.Background(), kfruntime.UIName, types.MergePatchType, patch, metav1.PatchOptions{})
					return err
				},
				ExpectNonEmptyPlan: true,
			},
			{
				Config: runtimeConfig(ns, header),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_runtime.test", plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_runtime.test", tfjsonpath.New("ui").AtMapKey("replicas"), knownvalue.Int64Exact(1)),
				},
			},
			{
				Config: runtimeConfig(ns, ""),
				Check: func(*terraform.State) error {
					for _, get := range []func() error{
						func() error {
							_, err := testCluster.Client.AppsV1().Deployments(ns).Get(context.Background(), kfruntime.UIName, metav1.GetOptions{})
							return err
						},
						func() error {
							_, err := testCluster.Client.CoreV1().Secrets(ns).Get(context.Background(), kfruntime.UIName, metav1.GetOptions{})
							return err
						},
						func() error {
							_, err := testCluster.Client.RbacV1().ClusterRoles().Get(context.Background(), kfruntime.UIClusterRoleName(ns), metav1.GetOptions{})
							return err
						},
					} {
						if err := get(); err == nil {
							return errors.New("a UI object is still there without the ui block")
						} else if !apierrors.IsNotFound(err) {
							return err
						}
					}
					return nil
				},
			},
		},
	})
}
