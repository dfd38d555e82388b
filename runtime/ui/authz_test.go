package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/ui"
)

// TestAuthorization: two profiles. A member of one gets 403 for the
// other's runs, graphs, tasks, logs, artifacts, lineage, experiments,
// pipelines, events and actions; a view contributor reads but cannot start
// or cancel runs or archive experiments; an edit contributor can, and the
// run records who started it. A group binding counts; requests that do
// not come through the gateway, or without a user, are refused.
func TestAuthorization(t *testing.T) {
	alice, bob, victor, carol := as{user: "alice@example.com"}, as{user: "bob@example.com"}, as{user: "victor@example.com"}, as{user: "carol@example.com", groups: "ml-auditors, other"}
	a := profile(t, "team-a", map[string]string{alice.user: "edit", victor.user: "view"})
	b := profile(t, "team-b", map[string]string{bob.user: "edit", "group:ml-auditors": "view"})
	for _, ns := range []string{a, b} {
		createPipeline(t, ns, "train", trainFile())
		createRun(t, ns, "first", "train", "tuning", map[string]string{"log_lines": "5"})
	}
	waitRun(t, a, "first")
	waitRun(t, b, "first")
	node := taskNode(t, alice, a, "first", "train")

	readPaths := func(ns string) []string {
		run := "/api/v1/namespaces/" + ns + "/runs/first"
		return []string{
			"/api/v1/namespaces/" + ns + "/runs",
			run, run + "/graph",
			fmt.Sprintf("%s/tasks/%d", run, node),
			fmt.Sprintf("%s/tasks/%d/attempts/1/log", run, node),
			fmt.Sprintf("%s/tasks/%d/attempts/1/log/follow", run, node),
			fmt.Sprintf("%s/tasks/%d/artifacts/model/0", run, node),
			fmt.Sprintf("%s/tasks/%d/artifacts/model/0/content", run, node),
			fmt.Sprintf("%s/tasks/%d/artifacts/model/0/lineage", run, node),
			"/api/v1/namespaces/" + ns + "/experiments",
			"/api/v1/namespaces/" + ns + "/experiments/tuning/compare",
			"/api/v1/namespaces/" + ns + "/pipelines",
			"/api/v1/namespaces/" + ns + "/pipelines/train",
			"/api/v1/namespaces/" + ns + "/pipelines/train/versions/1/graph",
			"/api/v1/events?namespace=" + ns,
			"/api/v1/events?namespace=" + ns + "&run=first",
		}
	}
	actions := func(ns string) [][2]string {
		return [][2]string{
			{"/api/v1/namespaces/" + ns + "/runs", `{"pipeline": "train", "parameters": {"log_lines": "1"}}`},
			{"/api/v1/namespaces/" + ns + "/runs/first/cancel", `{}`},
			{"/api/v1/namespaces/" + ns + "/experiments/tuning/archive", `{"archived": true}`},
		}
	}

	// Alice (edit in team-a) reads her team's runs and nothing of team B's.
	for _, p := range readPaths(a) {
		if strings.HasSuffix(p, "/follow") || strings.HasPrefix(p, "/api/v1/events") {
			continue // streams; their access is checked below
		}
		if code, body := alice.get(t, p); code != http.StatusOK {
			t.Errorf("alice GET %s: %d %s", p, code, body)
		}
	}
	for _, p := range readPaths(b) {
		code, body := alice.get(t, p)
		if code != http.StatusForbidden || !strings.Contains(body, "alice@example.com may not") {
			t.Errorf("alice GET %s of team B: %d %s, want 403", p, code, body)
		}
	}
	for _, act := range actions(b) {
		code, body, _ := alice.do(t, http.MethodPost, act[0], act[1])
		if code != http.StatusForbidden {
			t.Errorf("alice POST %s of team B: %d %s, want 403", act[0], code, body)
		}
	}
	if code, body := alice.get(t, "/api/v1/namespaces"); code != http.StatusOK || !strings.Contains(body, `"`+a+`"`) || strings.Contains(body, `"`+b+`"`) {
		t.Errorf("alice's namespaces: %d %s", code, body)
	}

	// Victor (view in team-a) reads, logs included, but changes nothing.
	for _, p := range readPaths(a)[:6] {
		if strings.HasSuffix(p, "/follow") {
			continue
		}
		if code, body := victor.get(t, p); code != http.StatusOK {
			t.Errorf("victor GET %s: %d %s", p, code, body)
		}
	}
	for _, act := range actions(a) {
		code, body, _ := victor.do(t, http.MethodPost, act[0], act[1])
		if code != http.StatusForbidden || !strings.Contains(body, "victor@example.com may not") {
			t.Errorf("victor POST %s: %d %s, want 403", act[0], code, body)
		}
	}
	// What the page offers follows: no cancel button for victor.
	_, body := victor.get(t, "/api/v1/namespaces/"+a+"/runs/first")
	var detail struct {
		Actions map[string]bool `json:"actions"`
	}
	if err := json.Unmarshal([]byte(body), &detail); err != nil || detail.Actions["cancel"] {
		t.Errorf("victor is offered %v (%v)", detail.Actions, err)
	}

	// Carol reads team B through her group, not team A.
	if code, body := carol.get(t, "/api/v1/namespaces/"+b+"/runs/first"); code != http.StatusOK {
		t.Errorf("carol (group ml-auditors, view in team B): %d %s", code, body)
	}
	if code, _ := carol.get(t, "/api/v1/namespaces/"+a+"/runs/first"); code != http.StatusForbidden {
		t.Errorf("carol in team A: %d, want 403", code)
	}

	// Alice starts a run in her namespace; it records her; she cancels it.
	code, body, _ := alice.do(t, http.MethodPost, "/api/v1/namespaces/"+a+"/runs", `{"pipeline": "train", "experiment": "tuning", "name": "by-alice", "parameters": {"log_lines": "2", "learning_rate": "0.2"}}`)
	if code != http.StatusCreated {
		t.Fatalf("alice starting a run: %d %s", code, body)
	}
	run := &v1alpha1.PipelineRun{}
	if err := admin.Get(context.Background(), client.ObjectKey{Namespace: a, Name: "by-alice"}, run); err != nil {
		t.Fatal(err)
	}
	if run.Annotations[ui.AnnotationCreatedBy] != alice.user || run.Spec.Experiment != "tuning" || run.Spec.Parameters["learning_rate"] != "0.2" || run.Spec.PipelineVersion != 1 {
		t.Errorf("the started run: %+v %+v", run.Annotations, run.Spec)
	}
	// The run's task pods do not end on the simulated nodes: it runs
	// until she cancels it. A finished run has nothing to cancel.
	code, body, _ = alice.do(t, http.MethodPost, "/api/v1/namespaces/"+a+"/runs/by-alice/cancel", `{}`)
	if code != http.StatusOK {
		t.Errorf("alice cancelling her run: %d %s", code, body)
	}
	if err := admin.Get(context.Background(), client.ObjectKey{Namespace: a, Name: "by-alice"}, run); err != nil || !run.Spec.Cancel {
		t.Errorf("the cancelled run's spec.cancel: %v (%v)", run.Spec.Cancel, err)
	}
	code, body, _ = alice.do(t, http.MethodPost, "/api/v1/namespaces/"+a+"/runs/first/cancel", `{}`)
	if code != http.StatusConflict || !strings.Contains(body, "has finished") {
		t.Errorf("cancelling a finished run: %d %s, want 409", code, body)
	}
	// Archiving an experiment: archived, then refused for new runs.
	code, body, _ = alice.do(t, http.MethodPost, "/api/v1/namespaces/"+a+"/experiments/tuning/archive", `{"archived": true}`)
	if code != http.StatusOK {
		t.Fatalf("alice archiving: %d %s", code, body)
	}
	exp := &v1alpha1.Experiment{}
	if err := admin.Get(context.Background(), client.ObjectKey{Namespace: a, Name: "tuning"}, exp); err != nil || !exp.Spec.Archived || exp.Annotations[ui.AnnotationCreatedBy] != alice.user {
		t.Errorf("the archived experiment: %+v (%v)", exp, err)
	}
	code, body, _ = alice.do(t, http.MethodPost, "/api/v1/namespaces/"+a+"/runs", `{"pipeline": "train", "experiment": "tuning"}`)
	if code != http.StatusConflict || !strings.Contains(body, "archived") {
		t.Errorf("a run in an archived experiment: %d %s, want 409", code, body)
	}
	if code, body := alice.get(t, "/api/v1/namespaces/"+a+"/runs"); code != http.StatusOK || strings.Contains(body, `"by-alice"`) {
		t.Errorf("the run list hides archived experiments' runs by default: %d %s", code, body)
	}
	if code, body := alice.get(t, "/api/v1/namespaces/"+a+"/runs?archived=true"); code != http.StatusOK || !strings.Contains(body, `"by-alice"`) {
		t.Errorf("the run list with archived=true: %d %s", code, body)
	}

	// Without an identity the UI refuses.
	noSecret, err := http.Get(uiURL + "/api/v1/namespaces/" + a + "/runs")
	if err != nil {
		t.Fatal(err)
	}
	noSecret.Body.Close()
	if noSecret.StatusCode != http.StatusUnauthorized {
		t.Errorf("a request not through the gateway: %d, want 401", noSecret.StatusCode)
	}
	for _, who := range []as{{}, {user: "system:admin"}, {user: "system:serviceaccount:kube-system:default"}} {
		if code, body := who.get(t, "/api/v1/namespaces/"+a+"/runs"); code != http.StatusUnauthorized {
			t.Errorf("user %q: %d %s, want 401", who.user, code, body)
		}
	}
	// system:masters from the header does not make a cluster admin.
	if code, _ := (as{user: "mallory@example.com", groups: "system:masters"}).get(t, "/api/v1/namespaces/"+b+"/runs"); code != http.StatusForbidden {
		t.Errorf("a system:masters group from the header: %d, want 403", code)
	}
	// The page itself and its assets need no identity: they hold no data.
	for _, p := range []string{"/", "/assets/app.js", "/assets/app.css"} {
		res, err := http.Get(uiURL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("GET %s: %d, CSP %q", p, res.StatusCode, res.Header.Get("Content-Security-Policy"))
		}
	}
}

// taskNode finds a task's node number in a run through the graph API.
func taskNode(t testing.TB, u as, ns, run, task string) int {
	t.Helper()
	code, body := u.get(t, "/api/v1/namespaces/"+ns+"/runs/"+run+"/graph")
	if code != http.StatusOK {
		t.Fatalf("graph of %s/%s: %d %s", ns, run, code, body)
	}
	var g struct {
		Nodes []struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(body), &g); err != nil {
		t.Fatal(err)
	}
	for _, n := range g.Nodes {
		if n.Name == task {
			return n.ID
		}
	}
	t.Fatalf("run %s/%s has no task %s: %s", ns, run, task, body)
	return 0
}
