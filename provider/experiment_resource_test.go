package provider

import (
	"context"
	"fmt"
	"regexp"
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
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

func experimentConfig(ns, body string) string {
	return providerBlock() + fmt.Sprintf(`
resource "kubeflow_experiment" "test" {
  name      = "tuning"
  namespace = %q
%s
}
`, ns, body)
}

// TestAccExperiment_basic creates an experiment and a run in it, imports
// both, changes the description and archives it in place, and puts back
// what was changed or deleted behind Terraform's back.
func TestAccExperiment_basic(t *testing.T) {
	ns := pipelineNamespace(t)
	withRun := func(body string) string {
		return experimentConfig(ns, body) + strings.TrimPrefix(pipelineConfig(ns, greetDAG("hello")), providerBlock()) + fmt.Sprintf(`
resource "kubeflow_run" "test" {
  name       = "tuned"
  namespace  = %q
  pipeline   = kubeflow_pipeline.test.name
  experiment = kubeflow_experiment.test.name
  executor   = "local"
}
`, ns)
	}
	key := client.ObjectKey{Namespace: ns, Name: "tuning"}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: withRun(`  description = "learning rates"`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_experiment.test", tfjsonpath.New("id"), knownvalue.StringExact(ns+"/tuning")),
					statecheck.ExpectKnownValue("kubeflow_experiment.test", tfjsonpath.New("archived"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue("kubeflow_run.test", tfjsonpath.New("experiment"), knownvalue.StringExact("tuning")),
					statecheck.ExpectKnownValue("kubeflow_run.test", tfjsonpath.New("phase"), knownvalue.StringExact("Succeeded")),
				},
				Check: func(*terraform.State) error {
					run := &v1alpha1.PipelineRun{}
					if err := runtimeClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "tuned"}, run); err != nil {
						return err
					}
					if run.Spec.Experiment != "tuning" {
						return fmt.Errorf("the run's spec.experiment is %q, want tuning", run.Spec.Experiment)
					}
					return nil
				},
			},
			{
				ResourceName:      "kubeflow_experiment.test",
				ImportState:       true,
				ImportStateId:     ns + "/tuning",
				ImportStateVerify: true,
				// force_destroy lives in state only; an import sets it false.
				ImportStateVerifyIgnore: []string{"timeouts"},
			},
			{
				ResourceName:            "kubeflow_run.test",
				ImportState:             true,
				ImportStateId:           ns + "/tuned",
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"timeouts"},
			},
			{
				// Archived with force_destroy, in place; the run is not
				// touched. Then the description is changed out of band.
				Config: withRun("  description = \"learning rates, batch sizes\"\n  archived = true\n  force_destroy = true"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("kubeflow_experiment.test", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("kubeflow_run.test", plancheck.ResourceActionNoop),
					},
				},
				Check: func(*terraform.State) error {
					exp := &v1alpha1.Experiment{}
					if err := runtimeClient.Get(context.Background(), key, exp); err != nil {
						return err
					}
					if !exp.Spec.Archived || exp.Spec.Description != "learning rates, batch sizes" {
						return fmt.Errorf("experiment spec %+v, want archived with the new description", exp.Spec)
					}
					exp.Spec.Description = "edited"
					return runtimeClient.Update(context.Background(), exp)
				},
				ExpectNonEmptyPlan: true,
			},
			{
				Config: withRun("  description = \"learning rates, batch sizes\"\n  archived = true\n  force_destroy = true"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_experiment.test", plancheck.ResourceActionUpdate)},
				},
				Check: func(*terraform.State) error {
					// Deleted behind Terraform's back: the next plan creates it.
					return runtimeClient.Delete(context.Background(), &v1alpha1.Experiment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tuning"}})
				},
				ExpectNonEmptyPlan: true,
			},
			{
				Config: withRun("  description = \"learning rates, batch sizes\"\n  archived = true\n  force_destroy = true"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_experiment.test", plancheck.ResourceActionCreate)},
				},
			},
		},
	})
}

// TestAccExperiment_forceDestroy shows that destroying an experiment that
// runs refer to (here one made with kubectl, which Terraform does not
// know) is refused, naming the run, and that force_destroy deletes the
// run with it, but not while a schedule makes runs in it.
func TestAccExperiment_forceDestroy(t *testing.T) {
	ns := pipelineNamespace(t)
	run := &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "by-kubectl"},
		Spec: v1alpha1.PipelineRunSpec{Pipeline: "nosuch", Experiment: "tuning"}}
	sched := &v1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "weekly"},
		Spec: v1alpha1.ScheduleSpec{Cron: []string{"@weekly"}, Suspend: true, Run: v1alpha1.ScheduleRunTemplate{Pipeline: "nosuch", Experiment: "tuning"}}}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: experimentConfig(ns, ""),
				Check: func(*terraform.State) error {
					return runtimeClient.Create(context.Background(), run.DeepCopy())
				},
			},
			{
				Config:      providerBlock(),
				ExpectError: regexp.MustCompile(`1 run\(s\) still refer to experiment "tuning": by-kubectl`),
			},
			{
				Config: experimentConfig(ns, "  force_destroy = true"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_experiment.test", plancheck.ResourceActionUpdate)},
				},
				Check: func(*terraform.State) error {
					return runtimeClient.Create(context.Background(), sched.DeepCopy())
				},
			},
			{
				// Even force_destroy: the schedule would make new runs in it.
				Config:      providerBlock(),
				ExpectError: regexp.MustCompile(`1 schedule\(s\) still make runs in experiment "tuning": weekly`),
			},
			{
				PreConfig: func() {
					if err := runtimeClient.Delete(context.Background(), sched.DeepCopy()); err != nil {
						t.Fatal(err)
					}
				},
				Config: providerBlock(),
				Check: func(*terraform.State) error {
					err := runtimeClient.Get(context.Background(), client.ObjectKeyFromObject(run), &v1alpha1.PipelineRun{})
					if !apierrors.IsNotFound(err) {
						return fmt.Errorf("the experiment's run after a forced destroy: %w, want it gone", err)
					}
					return nil
				},
			},
		},
	})
}

func TestAccExperiment_badInput(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      providerBlock() + "resource \"kubeflow_experiment\" \"bad\" {\n  name = \"Tuning_1\"\n  namespace = \"team-a\"\n}\n",
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)name.*"Tuning_1" is not a valid name`),
			},
			{
				Config: providerBlock() + `
resource "kubeflow_run" "bad" {
  name       = "r"
  namespace  = "team-a"
  pipeline   = "p"
  experiment = "Not_An_Experiment"
}
`,
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)experiment.*"Not_An_Experiment" is not a valid name`),
			},
		},
	})
}
