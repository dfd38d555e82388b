package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

// statusFaults makes the API server refuse PipelineRun status updates in
// namespace ns that deny picks, with 409 Conflict, as a write that lost a
// race would be: a validating admission webhook on pipelineruns/status,
// served from this process. The controller then redoes the step from the
// status it last wrote, after it has already created that step's pods.
func statusFaults(t *testing.T, ns string, deny func(old, cur *v1alpha1.PipelineRun) bool) {
	t.Helper()
	ctx := context.Background()
	certDir := t.TempDir()
	caPEM, err := writeServingCert(certDir, net.ParseIP("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	const path = "/faults"
	srv := webhook.NewServer(webhook.Options{Host: "127.0.0.1", Port: port, CertDir: certDir})
	srv.Register(path, &webhook.Admission{Handler: admission.HandlerFunc(func(_ context.Context, req admission.Request) admission.Response {
		old, cur := &v1alpha1.PipelineRun{}, &v1alpha1.PipelineRun{}
		if json.Unmarshal(req.OldObject.Raw, old) != nil || json.Unmarshal(req.Object.Raw, cur) != nil {
			return admission.Allowed("")
		}
		if cur.Name == "fault-probe" || deny(old, cur) {
			return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{
				Status: metav1.StatusFailure, Code: 409, Reason: metav1.StatusReasonConflict, Message: "injected fault: status write refused",
			}}}
		}
		return admission.Allowed("")
	})})
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Start(sctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("fault webhook: %v", err)
		}
	})
	fail, none := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone
	timeout := int32(10)
	url := fmt.Sprintf("https://127.0.0.1:%d%s", port, path)
	config := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "kfstack-faults-" + ns},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "faults.test.kfstack.dev",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caPEM},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
				Rule: admissionregistrationv1.Rule{
					APIGroups: []string{v1alpha1.GroupVersion.Group}, APIVersions: []string{v1alpha1.GroupVersion.Version}, Resources: []string{"pipelineruns/status"},
				},
			}},
		}},
	}
	if err := k8s.Create(ctx, config); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k8s.Delete(context.Background(), config); err != nil {
			t.Errorf("deleting the fault webhook: %v", err)
		}
	})
	// The API server picks the configuration up asynchronously: wait until
	// a dry-run status write of a probe run (no controller drives it) is
	// refused.
	probe := &v1alpha1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fault-probe", Labels: map[string]string{labelController: "none"}},
		Spec:       v1alpha1.PipelineRunSpec{Pipeline: "none"},
	}
	if err := k8s.Create(ctx, probe); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		probe.Status.Message = "probe"
		err := k8s.Status().Update(ctx, probe, client.DryRunAll)
		if err != nil && strings.Contains(err.Error(), "injected fault") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fault webhook is not called: a status write gave %v", err)
		}
	}
}

// stateOf decodes a run's engine state (nil before the first step).
func stateOf(r *v1alpha1.PipelineRun) *engine.State {
	if r.Status.State == nil || len(r.Status.State.Raw) == 0 {
		return nil
	}
	s := &engine.State{}
	if json.Unmarshal(r.Status.State.Raw, s) != nil {
		return nil
	}
	return s
}

// progress counts a state's nodes and its running ones.
func progress(s *engine.State) (nodes, running int) {
	if s == nil {
		return 0, 0
	}
	for i := range s.Nodes {
		if s.Nodes[i].Phase == engine.Running {
			running++
		}
	}
	return len(s.Nodes), running
}

const fanOutDAG = `name: fanout
tasks:
- name: source
  image: registry.example/step:1
  command: [source]
  outputs:
    parameters: {seed: string}
- {name: f0, image: registry.example/step:1, command: [f], dependsOn: [source], inputs: {parameters: {seed: {task: source, output: seed}}}, outputs: {parameters: {v: string}}}
- {name: f1, image: registry.example/step:1, command: [f], dependsOn: [source], inputs: {parameters: {seed: {task: source, output: seed}}}, outputs: {parameters: {v: string}}}
- {name: f2, image: registry.example/step:1, command: [f], dependsOn: [source], inputs: {parameters: {seed: {task: source, output: seed}}}, outputs: {parameters: {v: string}}}
- {name: f3, image: registry.example/step:1, command: [f], dependsOn: [source], inputs: {parameters: {seed: {task: source, output: seed}}}, outputs: {parameters: {v: string}}}
- {name: f4, image: registry.example/step:1, command: [f], dependsOn: [source], inputs: {parameters: {seed: {task: source, output: seed}}}, outputs: {parameters: {v: string}}}
- {name: f5, image: registry.example/step:1, command: [f], dependsOn: [source], inputs: {parameters: {seed: {task: source, output: seed}}}, outputs: {parameters: {v: string}}}
- name: join
  image: registry.example/step:1
  command: [join]
  inputs:
    parameters:
      v0: {task: f0, output: v}
      v1: {task: f1, output: v}
      v2: {task: f2, output: v}
      v3: {task: f3, output: v}
      v4: {task: f4, output: v}
      v5: {task: f5, output: v}
  outputs:
    parameters: {all: string}
outputs:
  all: {task: join, output: all}
`

// fixtureProgram plays the programs of fanOutDAG and of the
// loops_nested_condition fixture: every output names the task that made it
// and what it received, so a pod taken for another task's shows in the
// run's outputs.
func fixtureProgram(spec *launcher.TaskSpec, _ int) (launcher.Message, int) {
	p := spec.Params
	out := map[string]any{}
	switch {
	case spec.Name == "source":
		out["seed"] = "s"
	case strings.HasPrefix(spec.Name, "f"):
		out["v"] = fmt.Sprintf("%s:%v", spec.Name, p["seed"])
	case spec.Name == "join":
		var all []string
		for i := range 6 {
			all = append(all, fmt.Sprint(p[fmt.Sprintf("v%d", i)]))
		}
		out["all"] = strings.Join(all, ",")
	case spec.Name == "make-list":
		var items []any
		for i := 1; i <= int(num(p["n"])); i++ {
			items = append(items, i)
		}
		out["items"] = items
	case spec.Name == "square":
		x := num(p["x"])
		out["y"] = x * x
	case spec.Name == "sum":
		total := 0.0
		for _, v := range p["nums"].([]any) {
			total += num(v)
		}
		out["total"] = total
	case spec.Name == "announce":
		out["said"] = p["msg"]
	}
	return launcher.Message{Params: out}, 0
}

// TestRedoneStepsAdoptTheSamePods refuses the status write that follows
// every step which starts pods (the source, the fan-out of six, the loop's
// expansion and each later iteration), once each: the controller has made
// the step's pods but its state is lost, and it redoes the step from the
// status before. The redone step must hand out the same nodes to the same
// tasks, find and adopt their pods (one per task and attempt, never a pod
// taken for another task's), and the runs' outputs must be exactly those
// of an undisturbed run.
func TestRedoneStepsAdoptTheSamePods(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	startPrograms(t, ns, fixtureProgram)
	var mu sync.Mutex
	refused := map[string]int{}
	seen := map[string]bool{}
	statusFaults(t, ns, func(old, cur *v1alpha1.PipelineRun) bool {
		oldNodes, oldRunning := progress(stateOf(old))
		nodes, running := progress(stateOf(cur))
		if nodes == oldNodes && running <= oldRunning {
			return false
		}
		key := fmt.Sprintf("%s %d->%d nodes, %d->%d running", cur.Name, oldNodes, nodes, oldRunning, running)
		mu.Lock()
		defer mu.Unlock()
		if seen[key] {
			return false
		}
		seen[key] = true
		refused[cur.Name]++
		t.Logf("refusing the status write of %s", key)
		return true
	})
	loops, err := os.ReadFile(filepath.Join("..", "pipeline", "testdata", "loops_nested_condition.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	createPipeline(t, ns, "fanout", "", fanOutDAG)
	createPipeline(t, ns, "loops", string(loops), "")
	// A root of its own: the loop's tasks cache, and no earlier test's
	// result may serve them.
	root := "file://" + t.TempDir()
	createRun(t, ns, "fanout", "fanout", v1alpha1.ExecutorPod, nil)
	createRun(t, ns, "loops", "loops", v1alpha1.ExecutorPod, map[string]string{"n": "6"}, func(r *v1alpha1.PipelineRun) { r.Spec.PipelineRoot = root })

	want := map[string]map[string]string{
		"fanout": {"all": `"f0:s,f1:s,f2:s,f3:s,f4:s,f5:s"`},
		"loops":  {"squares": "[1,4,9,16,25,36]", "total": "91"},
	}
	tasks := map[string]int{"fanout": 8, "loops": 9} // make-list, 6 squares, sum, announce
	for _, name := range []string{"fanout", "loops"} {
		r := waitRun(t, ns, name, 2*time.Minute)
		if r.Status.Phase != v1alpha1.RunSucceeded {
			t.Errorf("%s: %s", name, describe(r))
			continue
		}
		for k, v := range want[name] {
			if got := r.Status.Outputs[k]; got != v {
				t.Errorf("%s: output %s = %s, want %s", name, k, got, v)
			}
		}
		mu.Lock()
		n := refused[name]
		mu.Unlock()
		if n < 3 {
			t.Errorf("%s: %d status writes refused, want one after each step that started pods", name, n)
		}
		// One pod per task, each annotated with the task it ran.
		pods := &corev1.PodList{}
		if err := k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelRunUID: string(r.UID)}); err != nil {
			t.Fatal(err)
		}
		var names []string
		perTask := map[string]int{}
		for _, p := range pods.Items {
			task := p.Annotations[v1alpha1.AnnotationTask]
			perTask[task]++
			names = append(names, task+" attempt "+p.Labels[v1alpha1.LabelAttempt])
		}
		sort.Strings(names)
		if len(pods.Items) != tasks[name] || len(perTask) != tasks[name] {
			t.Errorf("%s: pods %v, want one for each of %d tasks", name, names, tasks[name])
		}
	}
	events := &eventsv1.EventList{}
	if err := k8s.List(ctx, events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if e.Reason == v1alpha1.ReasonPodNotControlled {
			t.Errorf("%s: %s", e.Regarding.Name, e.Note)
		}
	}
}
