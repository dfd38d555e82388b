package provider

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// setLocalExecutorNotice sets (value) or removes (nil) the annotation by
// which a controller says it allows the local executor, and returns what
// it was.
func setLocalExecutorNotice(t *testing.T, value *string) *string {
	t.Helper()
	ctx := context.Background()
	crds := dynamic.NewForConfigOrDie(testCluster.Config).Resource(crdResource)
	crd, err := crds.Get(ctx, v1alpha1.PipelineRunCRDName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var old *string
	if v, ok := crd.GetAnnotations()[v1alpha1.AnnotationLocalExecutor]; ok {
		old = &v
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{v1alpha1.AnnotationLocalExecutor: value}}})
	if _, err := crds.Patch(ctx, v1alpha1.PipelineRunCRDName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	return old
}

// TestAccRun_localExecutorRefusedAtPlan: kubeflow_run refuses executor =
// "local" at plan time, naming the attribute and spec.executor, where no
// controller of the runtime says it allows the local executor; where one
// does (make demo's, this test's), the same configuration applies.
func TestAccRun_localExecutorRefusedAtPlan(t *testing.T) {
	ns := pipelineNamespace(t)
	// The test's controller allows the local executor and says so on the
	// CRD; take the notice away, as for a runtime whose controller runs
	// in the cluster.
	var notice *string
	for deadline := time.Now().Add(30 * time.Second); notice == nil; time.Sleep(50 * time.Millisecond) {
		if notice = setLocalExecutorNotice(t, nil); notice == nil && time.Now().After(deadline) {
			t.Fatal("the test's controller never published that it allows the local executor")
		}
	}
	t.Cleanup(func() { setLocalExecutorNotice(t, notice) })
	if !strings.Contains(*notice, "pid") {
		t.Errorf("notice %q does not say which controller", *notice)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      runConfig(ns, greetDAG("hello"), "local", `{ who = "plan" }`),
				PlanOnly:    true,
				ExpectError: wrapped(`Local executor not allowed`, `executor (spec.executor): the local executor runs task commands inside the controller's process`, `--allow-local-executor`),
			},
			{
				PreConfig: func() { setLocalExecutorNotice(t, notice) },
				Config:    runConfig(ns, greetDAG("hello"), "local", `{ who = "plan" }`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_run.test", tfjsonpath.New("phase"), knownvalue.StringExact("Succeeded")),
				},
			},
		},
	})
}

// TestAccRun_pipelineRootCheckedAtPlan: a pipeline root that climbs out of
// its own path, or is not one the runtime opens, is refused at plan time.
func TestAccRun_pipelineRootCheckedAtPlan(t *testing.T) {
	for root, want := range map[string]string{
		"s3://ml/team-a/../team-b": `pipeline_root: "s3://ml/team-a/../team-b" its path must not contain empty, "." or ".." elements (spec.pipelineRoot)`,
		"file://relative/dir":      `pipeline_root: "file://relative/dir" not an absolute file URL`,
		"http://minio/x":           `the scheme must be gs://, s3:// or file://`,
	} {
		resource.UnitTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testProviders,
			Steps: []resource.TestStep{{
				Config: providerBlock() + `
resource "kubeflow_run" "test" {
  name          = "r"
  namespace     = "team-a"
  pipeline      = "p"
  pipeline_root = "` + root + `"
}
`,
				PlanOnly:    true,
				ExpectError: wrapped("Invalid run", want),
			}},
		})
	}
}

// wrapped matches the parts in order in Terraform's output, which wraps
// long diagnostics at any space.
func wrapped(parts ...string) *regexp.Regexp {
	quoted := make([]string, len(parts))
	for i, p := range parts {
		quoted[i] = strings.ReplaceAll(regexp.QuoteMeta(p), " ", `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(quoted, ".*"))
}
