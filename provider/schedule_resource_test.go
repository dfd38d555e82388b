package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/schedule"
)

// scheduleConfig is the greet pipeline and a schedule of it with body.
func scheduleConfig(ns, body string) string {
	return pipelineConfig(ns, greetDAG("hello")) + fmt.Sprintf(`
resource "kubeflow_schedule" "test" {
  name      = "nightly"
  namespace = %q
%s
}
`, ns, body)
}

// nextFires computes the next fire times as the runtime does.
func nextFires(t *testing.T, zone string, cron ...string) []string {
	t.Helper()
	tr, errs := schedule.Parse(schedule.Spec{Cron: cron, TimeZone: zone})
	if errs != nil {
		t.Fatal(errs)
	}
	var out []string
	for _, n := range tr.Upcoming(time.Now(), 3) {
		out = append(out, n.UTC().Format(time.RFC3339))
	}
	return out
}

func stringList(vals []string) knownvalue.Check {
	checks := make([]knownvalue.Check, len(vals))
	for i, v := range vals {
		checks[i] = knownvalue.StringExact(v)
	}
	return knownvalue.ListExact(checks)
}

func TestAccSchedule_basic(t *testing.T) {
	ns := pipelineNamespace(t)
	sameUID := statecheck.CompareValue(compare.ValuesSame())
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: scheduleConfig(ns, `
  cron      = ["0 2 * * *"]
  time_zone = "Europe/Berlin"
  run = {
    pipeline   = kubeflow_pipeline.test.name
    executor   = "local"
    parameters = { who = "run [[Index]] of [[ScheduledTime.2006-01-02]]" }
  }
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_schedule.test", tfjsonpath.New("id"), knownvalue.StringExact(ns+"/nightly")),
					sameUID.AddStateValue("kubeflow_schedule.test", tfjsonpath.New("uid")),
					statecheck.ExpectKnownValue("kubeflow_schedule.test", tfjsonpath.New("concurrency_policy"), knownvalue.StringExact("Allow")),
					statecheck.ExpectKnownValue("kubeflow_schedule.test", tfjsonpath.New("catchup"), knownvalue.StringExact("Latest")),
					statecheck.ExpectKnownValue("kubeflow_schedule.test", tfjsonpath.New("max_concurrency"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("kubeflow_schedule.test", tfjsonpath.New("successful_runs_history_limit"), knownvalue.Int64Exact(10)),
					statecheck.ExpectKnownValue("kubeflow_schedule.test", tfjsonpath.New("next_run_times"), stringList(nextFires(t, "Europe/Berlin", "0 2 * * *"))),
					statecheck.ExpectKnownValue("kubeflow_schedule.test", tfjsonpath.New("last_run_time"), knownvalue.StringExact("")),
					statecheck.ExpectKnownValue("kubeflow_schedule.test", tfjsonpath.New("active_runs"), knownvalue.ListSizeExact(0)),
				},
			},
			{
				// Every change is in place: same UID.
				Config: scheduleConfig(ns, `
  cron                          = ["*/30 9-17 * * 1-5"]
  time_zone                     = "America/New_York"
  suspend                       = true
  concurrency_policy            = "Forbid"
  catchup                       = "All"
  max_catchup                   = 5
  starting_deadline             = "10m"
  stop_after_failures           = 3
  successful_runs_history_limit = 2
  failed_runs_history_limit     = 4
  labels                        = { team = "vision" }
  run = {
    pipeline    = kubeflow_pipeline.test.name
    executor    = "local"
    parameters  = { who = "[[CurrentTime]]" }
    timeout     = "90m"
    experiment  = "nightly"
    parallelism = 2
  }
`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_schedule.test", plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameUID.AddStateValue("kubeflow_schedule.test", tfjsonpath.New("uid")),
					// Suspended: no next fire.
					statecheck.ExpectKnownValue("kubeflow_schedule.test", tfjsonpath.New("next_run_times"), knownvalue.ListSizeExact(0)),
					statecheck.ExpectKnownValue("kubeflow_schedule.test", tfjsonpath.New("run").AtMapKey("timeout"), knownvalue.StringExact("90m")),
				},
			},
			{
				Config: scheduleConfig(ns, `
  interval = "90m"
  run = {
    pipeline = kubeflow_pipeline.test.name
    executor = "local"
  }
`) + `
data "kubeflow_schedule" "test" {
  name      = kubeflow_schedule.test.name
  namespace = kubeflow_schedule.test.namespace
}
`,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_schedule.test", plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameUID.AddStateValue("kubeflow_schedule.test", tfjsonpath.New("uid")),
					statecheck.ExpectKnownValue("data.kubeflow_schedule.test", tfjsonpath.New("interval"), knownvalue.StringExact("1h30m0s")),
					statecheck.ExpectKnownValue("data.kubeflow_schedule.test", tfjsonpath.New("pipeline"), knownvalue.StringExact("greet")),
					statecheck.ExpectKnownValue("data.kubeflow_schedule.test", tfjsonpath.New("ready"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("data.kubeflow_schedule.test", tfjsonpath.New("next_run_times"), knownvalue.ListSizeExact(3)),
					statecheck.ExpectKnownValue("data.kubeflow_schedule.test", tfjsonpath.New("time_zone"), knownvalue.StringExact("UTC")),
				},
			},
			{
				// The import reads "1h30m0s" for interval (see
				// TestAccSchedule_importBlock: the plan is empty anyway).
				ResourceName:            "kubeflow_schedule.test",
				ImportState:             true,
				ImportStateId:           ns + "/nightly",
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"timeouts", "interval"},
			},
		},
	})
}

// TestAccSchedule_importBlock imports a schedule made with kubectl (plain
// YAML, optional fields left out) through an import block. The API server
// spells durations its own way ("1h30m0s" for "90m"): the first apply
// writes the configured spelling in place (same UID, same fire times), and
// refreshes keep it from then on (the attribute types' semantic equality).
func TestAccSchedule_importBlock(t *testing.T) {
	ns := pipelineNamespace(t)
	var u unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(fmt.Sprintf(`
apiVersion: pipelines.kfstack.dev/v1alpha1
kind: Schedule
metadata: {name: nightly, namespace: %s}
spec:
  interval: 1h30m0s
  startTime: "2026-12-01T07:00:00Z"
  startingDeadline: 10m0s
  run: {pipeline: greet, executor: local, timeout: 2h0m0s}
`, ns)), &u.Object); err != nil {
		t.Fatal(err)
	}
	if err := runtimeClient.Create(context.Background(), &u); err != nil {
		t.Fatal(err)
	}
	uid := string(u.GetUID())
	config := scheduleConfig(ns, `
  interval          = "90m"
  start_time        = "2026-12-01T07:00:00Z"
  starting_deadline = "10m"
  run = {
    pipeline = kubeflow_pipeline.test.name
    executor = "local"
    timeout  = "2h"
  }
`) + fmt.Sprintf(`
import {
  to = kubeflow_schedule.test
  id = "%s/nightly"
}
`, ns)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_schedule.test", plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_schedule.test", tfjsonpath.New("uid"), knownvalue.StringExact(uid)),
					statecheck.ExpectKnownValue("kubeflow_schedule.test", tfjsonpath.New("interval"), knownvalue.StringExact("90m")),
					statecheck.ExpectKnownValue("kubeflow_schedule.test", tfjsonpath.New("run").AtMapKey("timeout"), knownvalue.StringExact("2h")),
				},
			},
			{
				// The refresh reads "1h30m0s" and keeps "90m": no diff.
				Config: strings.Split(config, "\nimport {")[0],
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

// TestAccSchedule_fires: the schedule's runs are made and counted, in the
// experiment it names; the destroy at the end takes the schedule, then the
// experiment (which waits for the schedule's runs to go, without
// force_destroy).
func TestAccSchedule_fires(t *testing.T) {
	ns := pipelineNamespace(t)
	config := func(suspend bool) string {
		return scheduleConfig(ns, fmt.Sprintf(`
  cron         = ["*/2 * * * * *"]
  cron_seconds = true
  suspend      = %v
  run = {
    pipeline   = kubeflow_pipeline.test.name
    executor   = "local"
    parameters = { who = "run [[Index]]" }
    experiment = kubeflow_experiment.nightly.name
  }
`, suspend)) + fmt.Sprintf(`
resource "kubeflow_experiment" "nightly" {
  name      = "nightly-runs"
  namespace = %q
}
`, ns)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config(false),
				Check: func(*terraform.State) error {
					return waitScheduleStatus(ns, "nightly", func(st *v1alpha1.ScheduleStatus) bool { return st.SucceededRuns >= 2 })
				},
			},
			{
				// A refresh shows the runs.
				Config: config(true),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_schedule.test", tfjsonpath.New("last_run_time"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-`))),
					statecheck.ExpectKnownValue("kubeflow_schedule.test", tfjsonpath.New("next_run_times"), knownvalue.ListSizeExact(0)),
				},
				Check: func(*terraform.State) error {
					list := &v1alpha1.PipelineRunList{}
					if err := runtimeClient.List(context.Background(), list, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelSchedule: "nightly"}); err != nil {
						return err
					}
					for _, r := range list.Items {
						at, ok := schedule.ScheduledTimeOf("nightly", r.Name)
						if !ok || at.Second()%2 != 0 || !strings.HasPrefix(r.Spec.Parameters["who"], "run ") || r.Spec.Experiment != "nightly-runs" {
							return fmt.Errorf("run %s: fire time %s, parameters %v, experiment %q", r.Name, at, r.Spec.Parameters, r.Spec.Experiment)
						}
					}
					if len(list.Items) < 2 {
						return fmt.Errorf("%d runs", len(list.Items))
					}
					return nil
				},
			},
		},
	})
}

func waitScheduleStatus(ns, name string, cond func(*v1alpha1.ScheduleStatus) bool) error {
	s := &v1alpha1.Schedule{}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err := runtimeClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
			return err
		}
		if cond(&s.Status) {
			return nil
		}
	}
	return fmt.Errorf("schedule %s/%s: status %+v", ns, name, s.Status)
}

func TestAccSchedule_disappears(t *testing.T) {
	ns := pipelineNamespace(t)
	config := scheduleConfig(ns, `
  cron = ["@daily"]
  run  = { pipeline = kubeflow_pipeline.test.name }
`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(*terraform.State) error {
					return runtimeClient.Delete(context.Background(), &v1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nightly"}})
				},
				ExpectNonEmptyPlan: true,
			},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_schedule.test", plancheck.ResourceActionCreate)},
				},
				// Changed behind Terraform's back: the plan puts it back.
				Check: func(*terraform.State) error {
					s := &v1alpha1.Schedule{}
					if err := runtimeClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "nightly"}, s); err != nil {
						return err
					}
					s.Spec.Cron = []string{"@hourly"}
					return runtimeClient.Update(context.Background(), s)
				},
				ExpectNonEmptyPlan: true,
			},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_schedule.test", plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_schedule.test", tfjsonpath.New("cron"), stringList([]string{"@daily"})),
				},
			},
		},
	})
}

// TestAccSchedule_againstPipeline: before writing the schedule, its run is
// checked against the pipeline, each problem on its attribute.
func TestAccSchedule_againstPipeline(t *testing.T) {
	ns := pipelineNamespace(t)
	cases := []struct{ run, want string }{
		{`{ pipeline = kubeflow_pipeline.test.name, parameters = { whom = "x" } }`, words(`run.parameters[whom]: Invalid value: the pipeline has no parameter "whom"`)},
		{`{ pipeline = kubeflow_pipeline.test.name, pipeline_version = 7 }`, words(`run.pipeline_version: Invalid value: 7: pipeline "greet" has no version 7 (kept: 1)`)},
		{`{ pipeline = "nosuch" }`, words(`run.pipeline: Not found: "nosuch"`)},
	}
	var steps []resource.TestStep
	for _, c := range cases {
		steps = append(steps, resource.TestStep{
			Config:      scheduleConfig(ns, "  cron = [\"@daily\"]\n  run = "+c.run+"\n"),
			ExpectError: regexp.MustCompile(`(?s)Invalid schedule.*` + c.want),
		})
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testProviders, Steps: steps})
}

// words matches a phrase across Terraform's line wrapping.
func words(s string) string {
	parts := strings.Fields(s)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return strings.Join(parts, `\s+`)
}

// TestAccSchedule_badInput: every bad value is refused at plan time, by
// the runtime's own validation, naming the attribute.
func TestAccSchedule_badInput(t *testing.T) {
	run := "\n  run = { pipeline = \"greet\" }\n"
	cases := []struct{ body, attr, says string }{
		{`cron = ["0 24 * * *"]` + run, "cron[0]", `hour field "24": end of range (24) above maximum (23)`},
		{`cron = ["0 0 * * * *"]` + run, "cron[0]", "needs cronSeconds: true"},
		{`cron = ["@nightly"]` + run, "cron[0]", "unknown descriptor"},
		{`cron = ["0 0 30 2 *"]` + run, "cron[0]", "never fires"},
		{`cron = ["TZ=UTC 0 0 * * *"]` + run, "cron[0]", "set timeZone"},
		{"cron = [\"@daily\"]\n  interval = \"1h\"" + run, "interval", "exactly one of cron and interval"},
		{`time_zone = "UTC"` + run, "cron", "Required value: exactly one of cron"},
		{`interval = "500ms"` + run, "interval", "must be at least 1s"},
		{`interval = "soon"` + run, `interval = "soon"`, "Invalid Time Duration String Value"},
		{"cron = [\"@daily\"]\n  time_zone = \"Mars/Base\"" + run, "time_zone", "unknown time zone"},
		{"cron = [\"@daily\"]\n  start_time = \"2027-02-01T00:00:00Z\"\n  end_time = \"2027-01-01T00:00:00Z\"" + run, "end_time", "must be after startTime"},
		{"cron = [\"@daily\"]\n  start_time = \"tomorrow\"" + run, `start_time = "tomorrow"`, "Invalid RFC3339 String Value"},
		{"cron = [\"@daily\"]\n  concurrency_policy = \"Queue\"" + run, "concurrency_policy", `Unsupported value: "Queue"`},
		{"cron = [\"@daily\"]\n  concurrency_policy = \"Forbid\"\n  max_concurrency = 3" + run, "max_concurrency", "applies to concurrencyPolicy Allow"},
		{"cron = [\"@daily\"]\n  catchup = \"Some\"" + run, "catchup", `Unsupported value: "Some"`},
		{"cron = [\"@daily\"]\n  catchup = \"All\"\n  concurrency_policy = \"Replace\"" + run, "catchup", "would cancel each late run"},
		{"cron = [\"@daily\"]\n  catchup_from_suspended = true" + run, "catchup_from_suspended", "applies only with catchup All"},
		{"cron = [\"@daily\"]\n  max_catchup = 5000" + run, "max_catchup", "must be between 0 and 1000"},
		{"cron = [\"@daily\"]\n  starting_deadline = \"0s\"" + run, "starting_deadline", "must be at least 1s"},
		{"cron = [\"@daily\"]\n  successful_runs_history_limit = -1" + run, "successful_runs_history_limit", "must be between 0 and 1000"},
		{"cron = [\"@daily\"]\n  stop_after_failures = -1" + run, "stop_after_failures", "must be between 0 and 1000"},
		{"cron = [\"@daily\"]\n  run = { pipeline = \"Bad_Name\" }", "run.pipeline", "RFC 1123"},
		{"cron = [\"@daily\"]\n  run = {\n    pipeline = \"greet\"\n    parameters = { d = \"[[ScheduleTime]]\" }\n  }", "run.parameters[d]", "unknown macro [[ScheduleTime]]"},
		{"cron = [\"@daily\"]\n  run = {\n    pipeline = \"greet\"\n    timeout = \"-1h\"\n  }", "run.timeout", "must be positive"},
		{"cron = [\"@daily\"]\n  run = {\n    pipeline = \"greet\"\n    service_account = \"Pipeline Runner\"\n  }", "run.service_account", "RFC 1123"},
		{"cron = [\"@daily\"]\n  run = {\n    pipeline = \"greet\"\n    experiment = \"Nightly!\"\n  }", "run.experiment", "RFC 1123"},
		{"cron = [\"@daily\"]\n  run = {\n    pipeline = \"greet\"\n    executor = \"ssh\"\n  }", "run.executor", `Unsupported value: "ssh"`},
	}
	steps := make([]resource.TestStep, 0, len(cases)+1)
	for _, c := range cases {
		// An attribute named by its path in the message ("cron[0]: ..."),
		// or, for values its type refuses, by the configuration line.
		attr := words(c.attr + ": ")
		if strings.Contains(c.attr, " = ") {
			attr = words(c.attr)
		}
		steps = append(steps, resource.TestStep{
			Config:      providerBlock() + "resource \"kubeflow_schedule\" \"bad\" {\n  name = \"bad\"\n  namespace = \"unused\"\n  " + c.body + "\n}\n",
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)(` + attr + `.*` + words(c.says) + `|` + words(c.says) + `.*` + attr + `)`),
		})
	}
	steps = append(steps, resource.TestStep{
		Config:      providerBlock() + fmt.Sprintf("resource \"kubeflow_schedule\" \"bad\" {\n  name = %q\n  namespace = \"unused\"\n  cron = [\"@daily\"]%s}\n", strings.Repeat("n", 53), run),
		PlanOnly:    true,
		ExpectError: regexp.MustCompile(`(?s)name: Too long: may not be more than 52`),
	})
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testProviders, Steps: steps})
}
