package validation

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

func validSpec() v1alpha1.ScheduleSpec {
	return v1alpha1.ScheduleSpec{
		Cron:     []string{"0 0 * * *"},
		TimeZone: "Europe/Berlin",
		Run:      v1alpha1.ScheduleRunTemplate{Pipeline: "train", Parameters: map[string]string{"date": "[[ScheduledTime.2006-01-02]]"}},
	}
}

func TestScheduleValid(t *testing.T) {
	specs := map[string]func(*v1alpha1.ScheduleSpec){
		"cron":               func(*v1alpha1.ScheduleSpec) {},
		"six fields":         func(s *v1alpha1.ScheduleSpec) { s.Cron, s.CronSeconds = []string{"0 0 * * * *"}, true },
		"interval":           func(s *v1alpha1.ScheduleSpec) { s.Cron, s.Interval = nil, &metav1.Duration{Duration: 90 * time.Minute} },
		"descriptor list":    func(s *v1alpha1.ScheduleSpec) { s.Cron = []string{"@daily", "@every 90m", "30 12 * * 1-5"} },
		"all the knobs":      func(s *v1alpha1.ScheduleSpec) { allKnobs(s) },
		"defaults left zero": func(s *v1alpha1.ScheduleSpec) { s.TimeZone = "" },
	}
	for name, mutate := range specs {
		s := validSpec()
		mutate(&s)
		if errs, err := ValidateSchedule("nightly", s, nil, nil); len(errs) > 0 || err != nil {
			t.Errorf("%s: %v %v", name, errs, err)
		}
	}
}

func allKnobs(s *v1alpha1.ScheduleSpec) {
	start := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	end := metav1.NewTime(start.AddDate(1, 0, 0))
	s.StartTime, s.EndTime = &start, &end
	s.ConcurrencyPolicy, s.MaxConcurrency = v1alpha1.ConcurrencyAllow, 3
	s.Catchup, s.MaxCatchup, s.CatchupFromSuspended = v1alpha1.CatchupAll, 50, true
	s.StartingDeadline = &metav1.Duration{Duration: time.Minute}
	s.StopAfterFailures = 3
	s.SuccessfulRunsHistoryLimit, s.FailedRunsHistoryLimit = ptr.To[int32](0), ptr.To[int32](5)
	s.Run.PipelineVersion, s.Run.Executor, s.Run.Parallelism = 2, v1alpha1.ExecutorLocal, 4
	s.Run.ServiceAccountName, s.Run.Experiment = "pipeline-runner", "nightly-training"
	s.Run.Timeout = &metav1.Duration{Duration: time.Hour}
}

// TestScheduleInvalid is the bad input of the API: every case is refused
// with an error at the field that is wrong.
func TestScheduleInvalid(t *testing.T) {
	cases := []struct {
		name   string
		obj    string
		mutate func(*v1alpha1.ScheduleSpec)
		field  string
		says   string
	}{
		{"cron hour out of range", "", func(s *v1alpha1.ScheduleSpec) { s.Cron = []string{"0 24 * * *"} }, "spec.cron[0]", `hour field "24"`},
		{"second expression bad", "", func(s *v1alpha1.ScheduleSpec) { s.Cron = []string{"@daily", "0 0 * * * *"} }, "spec.cron[1]", "needs cronSeconds: true"},
		{"unknown descriptor", "", func(s *v1alpha1.ScheduleSpec) { s.Cron = []string{"@nightly"} }, "spec.cron[0]", "unknown descriptor"},
		{"never fires", "", func(s *v1alpha1.ScheduleSpec) { s.Cron = []string{"0 0 31 2 *"} }, "spec.cron[0]", "never fires"},
		{"zone prefix", "", func(s *v1alpha1.ScheduleSpec) { s.Cron = []string{"CRON_TZ=UTC 0 0 * * *"} }, "spec.cron[0]", "set timeZone"},
		{"both cron and interval", "", func(s *v1alpha1.ScheduleSpec) { s.Interval = &metav1.Duration{Duration: time.Hour} }, "spec.interval", "exactly one of cron and interval"},
		{"neither", "", func(s *v1alpha1.ScheduleSpec) { s.Cron = nil }, "spec.cron", "exactly one of cron"},
		{"interval below a second", "", func(s *v1alpha1.ScheduleSpec) {
			s.Cron, s.Interval = nil, &metav1.Duration{Duration: 100 * time.Millisecond}
		}, "spec.interval", "at least 1s"},
		{"@every below a second", "", func(s *v1alpha1.ScheduleSpec) { s.Cron = []string{"@every 10ms"} }, "spec.cron[0]", "at least 1s"},
		{"cronSeconds without cron", "", func(s *v1alpha1.ScheduleSpec) {
			s.Cron, s.CronSeconds, s.Interval = nil, true, &metav1.Duration{Duration: time.Hour}
		}, "spec.cronSeconds", "none is set"},
		{"unknown time zone", "", func(s *v1alpha1.ScheduleSpec) { s.TimeZone = "Europe/Atlantis" }, "spec.timeZone", "unknown time zone"},
		{"end before start", "", func(s *v1alpha1.ScheduleSpec) {
			a, b := metav1.NewTime(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)), metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			s.StartTime, s.EndTime = &a, &b
		}, "spec.endTime", "must be after startTime"},
		{"maxConcurrency with Forbid", "", func(s *v1alpha1.ScheduleSpec) { s.ConcurrencyPolicy, s.MaxConcurrency = v1alpha1.ConcurrencyForbid, 2 }, "spec.maxConcurrency", "applies to concurrencyPolicy Allow"},
		{"unknown policy", "", func(s *v1alpha1.ScheduleSpec) { s.ConcurrencyPolicy = "Queue" }, "spec.concurrencyPolicy", "Unsupported value"},
		{"catchup All with Replace", "", func(s *v1alpha1.ScheduleSpec) {
			s.ConcurrencyPolicy, s.Catchup = v1alpha1.ConcurrencyReplace, v1alpha1.CatchupAll
		}, "spec.catchup", "would cancel each late run"},
		{"catchupFromSuspended without All", "", func(s *v1alpha1.ScheduleSpec) { s.CatchupFromSuspended = true }, "spec.catchupFromSuspended", "only with catchup All"},
		{"maxCatchup too big", "", func(s *v1alpha1.ScheduleSpec) { s.MaxCatchup = 5000 }, "spec.maxCatchup", "between 0 and 1000"},
		{"startingDeadline zero", "", func(s *v1alpha1.ScheduleSpec) { s.StartingDeadline = &metav1.Duration{} }, "spec.startingDeadline", "at least 1s"},
		{"negative history", "", func(s *v1alpha1.ScheduleSpec) { s.FailedRunsHistoryLimit = ptr.To[int32](-1) }, "spec.failedRunsHistoryLimit", "between 0 and 1000"},
		{"stopAfterFailures negative", "", func(s *v1alpha1.ScheduleSpec) { s.StopAfterFailures = -2 }, "spec.stopAfterFailures", "between 0 and 1000"},
		{"no pipeline", "", func(s *v1alpha1.ScheduleSpec) { s.Run.Pipeline = "" }, "spec.run.pipeline", "Required value"},
		{"pipeline not a name", "", func(s *v1alpha1.ScheduleSpec) { s.Run.Pipeline = "Train_Model" }, "spec.run.pipeline", "RFC 1123"},
		{"unknown macro", "", func(s *v1alpha1.ScheduleSpec) { s.Run.Parameters["date"] = "[[ScheduleTime]]" }, "spec.run.parameters[date]", "unknown macro [[ScheduleTime]]"},
		{"empty layout", "", func(s *v1alpha1.ScheduleSpec) { s.Run.Parameters["date"] = "[[CurrentTime.]]" }, "spec.run.parameters[date]", "needs a Go time layout"},
		{"bad executor", "", func(s *v1alpha1.ScheduleSpec) { s.Run.Executor = "ssh" }, "spec.run.executor", "Unsupported value"},
		{"negative timeout", "", func(s *v1alpha1.ScheduleSpec) { s.Run.Timeout = &metav1.Duration{Duration: -time.Hour} }, "spec.run.timeout", "must be positive"},
		{"bad service account", "", func(s *v1alpha1.ScheduleSpec) { s.Run.ServiceAccountName = "Pipeline Runner" }, "spec.run.serviceAccountName", "RFC 1123"},
		{"bad experiment", "", func(s *v1alpha1.ScheduleSpec) { s.Run.Experiment = "Nightly!" }, "spec.run.experiment", "RFC 1123"},
		{"name too long", strings.Repeat("n", 53), func(*v1alpha1.ScheduleSpec) {}, "metadata.name", "may not be more than 52"},
	}
	for _, c := range cases {
		s := validSpec()
		c.mutate(&s)
		name := c.obj
		if name == "" {
			name = "nightly"
		}
		errs, err := ValidateSchedule(name, s, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(errs) != 1 || errs[0].Field != c.field || !strings.Contains(errs[0].Error(), c.says) {
			t.Errorf("%s: got %v\nwant one error at %s saying %q", c.name, errs, c.field, c.says)
		}
	}
}

const greetDAG = `name: greet
parameters:
  who: {type: string, default: world}
  times: {type: int, default: 1}
tasks:
- name: hello
  image: busybox
  command: [echo, "{{$.inputs.parameters['who']}}"]
  inputs: {parameters: {who: {parameter: who}}}
`

func greet(versions ...int32) *v1alpha1.Pipeline {
	p := &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Name: "train"}, Spec: v1alpha1.PipelineSpec{DAG: greetDAG}}
	for _, v := range versions {
		p.Status.Versions = append(p.Status.Versions, v1alpha1.PipelineVersion{Number: v, ConfigMap: fmt.Sprintf("train-v%d", v)})
		p.Status.LatestVersion = v
	}
	return p
}

// greetContent is the content of every version greet makes, as its
// ConfigMap would hold it.
func greetContent(_ *v1alpha1.Pipeline, v *v1alpha1.PipelineVersion) (v1alpha1.PipelineSpec, error) {
	if v.ConfigMap == "" {
		return v1alpha1.PipelineSpec{}, fmt.Errorf("version %d has no ConfigMap", v.Number)
	}
	return v1alpha1.PipelineSpec{DAG: greetDAG}, nil
}

func TestScheduleAgainstPipeline(t *testing.T) {
	lookup := func(p *v1alpha1.Pipeline) PipelineLookup {
		return func(string) (*v1alpha1.Pipeline, error) { return p, nil }
	}
	cases := []struct {
		name   string
		p      *v1alpha1.Pipeline
		mutate func(*v1alpha1.ScheduleSpec)
		field  string
		says   string
	}{
		{"unknown pipeline", nil, func(*v1alpha1.ScheduleSpec) {}, "spec.run.pipeline", "Not found"},
		{"version not kept", greet(3, 4), func(s *v1alpha1.ScheduleSpec) { s.Run.PipelineVersion = 2 }, "spec.run.pipelineVersion", "has no version 2 (kept: 3, 4)"},
		{"undeclared parameter", greet(1), func(s *v1alpha1.ScheduleSpec) { s.Run.Parameters = map[string]string{"lr": "0.1"} }, "spec.run.parameters[lr]", `the pipeline has no parameter "lr"`},
		{"wrong type", greet(1), func(s *v1alpha1.ScheduleSpec) { s.Run.Parameters = map[string]string{"times": "often"} }, "spec.run.parameters[times]", "NUMBER_INTEGER parameter"},
		{"pinned version", greet(1, 2), func(s *v1alpha1.ScheduleSpec) {
			s.Run.PipelineVersion = 1
			s.Run.Parameters = map[string]string{"nope": "x"}
		}, "spec.run.parameters[nope]", `(version 1 of pipeline "train")`},
	}
	for _, c := range cases {
		s := validSpec()
		s.Run.Parameters = nil
		c.mutate(&s)
		errs, err := ValidateSchedule("nightly", s, lookup(c.p), greetContent)
		if err != nil {
			t.Fatal(err)
		}
		if len(errs) != 1 || errs[0].Field != c.field || !strings.Contains(errs[0].Error(), c.says) {
			t.Errorf("%s: got %v\nwant one error at %s saying %q", c.name, errs, c.field, c.says)
		}
	}
	// Macros bind with sample values: an int parameter may be [[Index]].
	s := validSpec()
	s.Run.Parameters = map[string]string{"who": "run [[Index]] at [[ScheduledTime]]", "times": "[[Index]]"}
	if errs, err := ValidateSchedule("nightly", s, lookup(greet(1)), greetContent); len(errs) > 0 || err != nil {
		t.Errorf("macros: %v %v", errs, err)
	}
	// A failed lookup is not the schedule's fault.
	boom := errors.New("connection refused")
	if _, err := ValidateSchedule("nightly", s, func(string) (*v1alpha1.Pipeline, error) { return nil, boom }, greetContent); !errors.Is(err, boom) {
		t.Errorf("lookup error: %v", err)
	}
}
