package ui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/ui"
)

func decode[T any](t testing.TB, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return v
}

type graphResp struct {
	Scope struct {
		ID   int    `json:"id"`
		Kind string `json:"kind"`
	} `json:"scope"`
	Nodes []struct {
		ID         int              `json:"id"`
		Name       string           `json:"name"`
		Kind       string           `json:"kind"`
		Phase      string           `json:"phase"`
		Deps       []int            `json:"deps"`
		Condition  string           `json:"condition"`
		Iterations int              `json:"iterations"`
		Tasks      map[string]int32 `json:"tasks"`
	} `json:"nodes"`
	Total int `json:"total"`
}

// TestRunAPI reads a finished training run as its page does: the graph
// (loops and conditions collapsed, with what their tasks did), a task's
// inputs with their producer, outputs with metadata, attempts with the
// launcher's record, its log, an artifact's content, lineage, and the
// experiment's comparison with the metrics the task logged.
func TestRunAPI(t *testing.T) {
	u := as{user: "ann@example.com"}
	ns := profile(t, "api", map[string]string{u.user: "edit"})
	createPipeline(t, ns, "train", trainFile())
	createRun(t, ns, "lr-1", "train", "lr", map[string]string{"learning_rate": "0.1", "log_lines": "40"})
	createRun(t, ns, "lr-3", "train", "lr", map[string]string{"learning_rate": "0.3", "log_lines": "40"})
	waitRun(t, ns, "lr-1")
	waitRun(t, ns, "lr-3")
	base := "/api/v1/namespaces/" + ns + "/runs/lr-1"

	code, body := u.get(t, base+"/graph")
	if code != http.StatusOK {
		t.Fatalf("graph: %d %s", code, body)
	}
	g := decode[graphResp](t, body)
	byName := map[string]int{}
	for i, n := range g.Nodes {
		byName[n.Name] = i
	}
	loop, train, cond := g.Nodes[byName["for-loop-1"]], g.Nodes[byName["train"]], g.Nodes[byName["condition-2"]]
	if loop.Kind != "loop" || loop.Iterations != 3 || loop.Tasks["Succeeded"] != 3 {
		t.Errorf("the loop, collapsed: %+v", loop)
	}
	if cond.Kind != "dag" || !strings.Contains(cond.Condition, "train-accuracy") || cond.Tasks["Succeeded"] != 1 {
		t.Errorf("the condition, collapsed: %+v", cond)
	}
	if train.Kind != "container" || train.Phase != "Succeeded" || len(train.Deps) != 2 {
		t.Errorf("train: %+v", train)
	}
	// Expanding the loop: its iterations, each a graph of its own.
	code, body = u.get(t, fmt.Sprintf("%s/graph?scope=%d", base, loop.ID))
	it := decode[graphResp](t, body)
	if code != http.StatusOK || it.Total != 3 || len(it.Nodes) != 3 || it.Nodes[0].Kind != "iteration" {
		t.Fatalf("the loop's iterations: %d %s", code, body)
	}
	code, body = u.get(t, fmt.Sprintf("%s/graph?scope=%d", base, it.Nodes[2].ID))
	if code != http.StatusOK || !strings.Contains(body, `"name":"featurize"`) {
		t.Errorf("an iteration's graph: %d %s", code, body)
	}
	code, body = u.get(t, fmt.Sprintf("%s/graph?scope=%d&limit=2&offset=1", base, loop.ID))
	if page := decode[graphResp](t, body); code != http.StatusOK || len(page.Nodes) != 2 || page.Total != 3 {
		t.Errorf("a page of iterations: %d %s", code, body)
	}

	// The task: inputs with their producer, outputs, attempts.
	code, body = u.get(t, fmt.Sprintf("%s/tasks/%d", base, train.ID))
	if code != http.StatusOK {
		t.Fatalf("task: %d %s", code, body)
	}
	var task struct {
		Inputs struct {
			Parameters map[string]any `json:"parameters"`
			Artifacts  []struct {
				Name     string `json:"name"`
				Producer *struct {
					Task, Run string
				} `json:"producer"`
			} `json:"artifacts"`
		} `json:"inputs"`
		Outputs struct {
			Parameters map[string]any `json:"parameters"`
			Artifacts  []struct {
				Name     string         `json:"name"`
				Type     string         `json:"type"`
				Preview  string         `json:"preview"`
				Metadata map[string]any `json:"metadata"`
			} `json:"artifacts"`
		} `json:"outputs"`
		AttemptList []struct {
			Number    int    `json:"number"`
			ExitCode  *int   `json:"exitCode"`
			Succeeded *bool  `json:"succeeded"`
			LogBytes  int64  `json:"logBytes"`
			Pod       string `json:"pod"`
		} `json:"attemptList"`
	}
	decodeInto(t, body, &task)
	if task.Inputs.Parameters["learning_rate"] != 0.1 || len(task.Inputs.Artifacts) != 1 || task.Inputs.Artifacts[0].Producer == nil || task.Inputs.Artifacts[0].Producer.Task != "prepare" {
		t.Errorf("train's inputs: %s", body)
	}
	previews := map[string]string{}
	for _, a := range task.Outputs.Artifacts {
		previews[a.Name] = a.Preview
		if a.Name == "metrics" && a.Metadata["accuracy"] != 0.85 {
			t.Errorf("metrics metadata %v", a.Metadata)
		}
	}
	if fmt.Sprint(previews) != "map[classification:classification metrics:metrics model:text page:html report:markdown]" {
		t.Errorf("previews %v", previews)
	}
	if len(task.AttemptList) != 1 || task.AttemptList[0].ExitCode == nil || *task.AttemptList[0].ExitCode != 0 || task.AttemptList[0].LogBytes == 0 {
		t.Errorf("attempts: %s", body)
	}

	// The log, kept in the store after the local process ended.
	code, logText, hdr := u.do(t, http.MethodGet, fmt.Sprintf("%s/tasks/%d/attempts/1/log", base, train.ID), "")
	if code != http.StatusOK || !strings.Contains(logText, "training on 20 rows with learning rate 0.1") || !strings.Contains(logText, "epoch 39: loss") || hdr.Get("X-Log-Complete") != "true" {
		t.Errorf("log: %d %q %v", code, logText, hdr)
	}
	// An artifact's content, and HTML served only into a sandbox.
	code, content, _ := u.do(t, http.MethodGet, fmt.Sprintf("%s/tasks/%d/artifacts/report/0/content", base, train.ID), "")
	if code != http.StatusOK || !strings.Contains(content, "**accuracy of 0.8500**") {
		t.Errorf("report content: %d %q", code, content)
	}
	code, _, hdr = u.do(t, http.MethodGet, fmt.Sprintf("%s/tasks/%d/artifacts/page/0/content?as=html", base, train.ID), "")
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Security-Policy"), "sandbox allow-scripts;") || strings.Contains(hdr.Get("Content-Security-Policy"), "allow-same-origin") {
		t.Errorf("HTML artifact: %d CSP %q", code, hdr.Get("Content-Security-Policy"))
	}
	code, _, hdr = u.do(t, http.MethodGet, fmt.Sprintf("%s/tasks/%d/artifacts/page/0/content", base, train.ID), "")
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Errorf("HTML artifact as text: %d %q", code, hdr.Get("Content-Type"))
	}

	// Lineage of the model: prepare → dataset → train → model → deploy.
	code, body = u.get(t, fmt.Sprintf("%s/tasks/%d/artifacts/model/0/lineage", base, train.ID))
	var lin struct {
		Nodes []struct {
			ID, Kind, Label string
		} `json:"nodes"`
		Edges [][2]string `json:"edges"`
	}
	decodeInto(t, body, &lin)
	labels := map[string]bool{}
	for _, n := range lin.Nodes {
		labels[n.Kind+":"+n.Label] = true
	}
	for _, want := range []string{"artifact:model", "task:train", "artifact:dataset", "task:prepare", "task:condition-2/deploy"} {
		if !labels[want] {
			t.Errorf("lineage lacks %s: %s", want, body)
		}
	}
	if code != http.StatusOK || len(lin.Edges) != 4 {
		t.Errorf("lineage: %d, %d edges: %s", code, len(lin.Edges), body)
	}

	// The experiment: both runs, their parameters and metrics.
	code, body = u.get(t, "/api/v1/namespaces/"+ns+"/experiments/lr/compare")
	var cmp struct {
		Parameters []string `json:"parameters"`
		Metrics    []string `json:"metrics"`
		Runs       []struct {
			Name           string             `json:"name"`
			Metrics        map[string]float64 `json:"metrics"`
			Classification []any              `json:"classification"`
		} `json:"runs"`
	}
	decodeInto(t, body, &cmp)
	if code != http.StatusOK || len(cmp.Runs) != 2 || strings.Join(cmp.Metrics, ",") != "accuracy,learning_rate,loss" {
		t.Fatalf("comparison: %d %s", code, body)
	}
	for _, r := range cmp.Runs {
		want := map[string]float64{"lr-1": 0.85, "lr-3": 0.65}[r.Name]
		if r.Metrics["accuracy"] != want || len(r.Classification) != 1 {
			t.Errorf("run %s: metrics %v, classification %v", r.Name, r.Metrics, r.Classification)
		}
	}

	// Pipelines: a second version, its graph and the diff.
	p := &v1alpha1.Pipeline{}
	if err := admin.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "train"}, p); err != nil {
		t.Fatal(err)
	}
	p.Spec.Spec = strings.Replace(p.Spec.Spec, "defaultValue: 20", "defaultValue: 50", 1)
	if err := admin.Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "version 2", func() bool {
		code, body := u.get(t, "/api/v1/namespaces/"+ns+"/pipelines/train")
		return code == http.StatusOK && strings.Contains(body, `"latest":2`)
	})
	code, body = u.get(t, "/api/v1/namespaces/"+ns+"/pipelines/train/diff?from=1&to=2")
	if code != http.StatusOK || !strings.Contains(body, `"op":"-","text":"      rows: {parameterType: NUMBER_INTEGER, defaultValue: 20, isOptional: true}"`) || !strings.Contains(body, `defaultValue: 50`) {
		t.Errorf("diff: %d %s", code, body)
	}
	code, body = u.get(t, "/api/v1/namespaces/"+ns+"/pipelines/train/versions/2/graph?scope=for-loop-1")
	if code != http.StatusOK || !strings.Contains(body, `"name":"featurize"`) {
		t.Errorf("a version's loop body: %d %s", code, body)
	}
}

func decodeInto(t testing.TB, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
}

func waitFor(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBadInput: unknown namespaces, runs, tasks, attempts and artifacts,
// malformed filters and bodies, a file name climbing out of an artifact,
// requests without the CSRF header or from another site: each gets a
// clear answer that names what is wrong. A huge log is served in pages.
func TestBadInput(t *testing.T) {
	u := as{user: "root@example.com"}
	bindClusterView(t, u.user)
	ns := profile(t, "bad", map[string]string{u.user: "edit"})
	createPipeline(t, ns, "train", trainFile())
	createRun(t, ns, "r", "train", "", map[string]string{"log_lines": "120000"})
	waitRun(t, ns, "r")
	node := taskNode(t, u, ns, "r", "train")
	run := "/api/v1/namespaces/" + ns + "/runs/r"
	for _, c := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"GET", "/api/v1/namespaces/no-such-ns/runs", "", 404, "namespace no-such-ns does not exist"},
		{"GET", "/api/v1/namespaces/" + ns + "/runs/nosuch", "", 404, "run nosuch does not exist in namespace " + ns},
		{"GET", "/api/v1/namespaces/" + ns + "/runs/nosuch/graph", "", 404, "run nosuch does not exist"},
		{"GET", run + "/graph?scope=99999", "", 404, "has no node 99999"},
		{"GET", run + "/graph?scope=x", "", 400, `scope: "x" is not a number`},
		{"GET", run + "/graph?limit=0", "", 400, "limit: 0 is not between 1 and 500"},
		{"GET", fmt.Sprintf("%s/graph?scope=%d", run, node), "", 400, "it has no graph of its own"},
		{"GET", run + "/tasks/x", "", 400, `node: "x" is not a node number`},
		{"GET", run + "/tasks/0", "", 404, "has no task node 0"},
		{"GET", run + "/tasks/99999", "", 404, "has no task node 99999"},
		{"GET", fmt.Sprintf("%s/tasks/%d/attempts/9/log", run, node), "", 404, "has no attempt 9 (it has 1)"},
		{"GET", fmt.Sprintf("%s/tasks/%d/attempts/1/log?limit=99999999", run, node), "", 400, "limit: 99999999 is not between 1 and 1048576"},
		{"GET", fmt.Sprintf("%s/tasks/%d/attempts/1/log?offset=abc", run, node), "", 400, `offset: "abc" is not a byte offset`},
		{"GET", fmt.Sprintf("%s/tasks/%d/artifacts/nosuch/0", run, node), "", 404, "has no output artifact nosuch[0]"},
		{"GET", fmt.Sprintf("%s/tasks/%d/artifacts/model/7", run, node), "", 404, "has no output artifact model[7]"},
		{"GET", fmt.Sprintf("%s/tasks/%d/artifacts/model/x", run, node), "", 400, `index: "x" is not an index`},
		{"GET", fmt.Sprintf("%s/tasks/%d/artifacts/model/0/content?file=../../../etc/passwd", run, node), "", 400, "not under the pipeline root"},
		{"GET", fmt.Sprintf("%s/tasks/%d/artifacts/model/0/content?limit=0", run, node), "", 400, "limit"},
		{"GET", "/api/v1/namespaces/" + ns + "/runs?phase=Bogus", "", 400, `phase: "Bogus" is not a run phase`},
		{"GET", "/api/v1/namespaces/" + ns + "/runs?sort=size", "", 400, `sort: "size" is not one of`},
		{"GET", "/api/v1/namespaces/" + ns + "/runs?limit=1000", "", 400, "limit: 1000 is not between 1 and 500"},
		{"GET", "/api/v1/namespaces/" + ns + "/runs?offset=-1", "", 400, "offset: -1 is not between"},
		{"GET", "/api/v1/namespaces/" + ns + "/runs?archived=maybe", "", 400, `archived: "maybe" is not true or false`},
		{"GET", "/api/v1/namespaces/" + ns + "/experiments/nosuch/compare", "", 404, "experiment nosuch has no runs"},
		{"GET", "/api/v1/namespaces/" + ns + "/pipelines/nosuch", "", 404, "pipeline nosuch does not exist"},
		{"GET", "/api/v1/namespaces/" + ns + "/pipelines/train/versions/9/graph", "", 404, "keeps no version 9"},
		{"GET", "/api/v1/namespaces/" + ns + "/pipelines/train/versions/x/graph", "", 400, `version: "x" is not a version number`},
		{"GET", "/api/v1/namespaces/" + ns + "/pipelines/train/versions/1/graph?scope=nosuch", "", 404, `no task "nosuch"`},
		{"GET", "/api/v1/namespaces/" + ns + "/pipelines/train/diff?from=1", "", 400, `to: "" is not a version number`},
		{"GET", "/api/v1/events", "", 400, "namespace: required"},
		{"GET", "/api/v1/nosuch", "", 404, "no such API"},
		{"POST", "/api/v1/namespaces/" + ns + "/runs", `{"pipeline": "nosuch"}`, 404, "pipeline nosuch does not exist"},
		{"POST", "/api/v1/namespaces/" + ns + "/runs", `{"pipeline": "train", "parameters": {"rows": "many", "nope": "1"}}`, 400, `parameters["nope"]: the pipeline has no parameter "nope"`},
		{"POST", "/api/v1/namespaces/" + ns + "/runs", `{"pipeline": "train", "name": "Bad_Name"}`, 400, `name: "Bad_Name" is not a valid run name`},
		{"POST", "/api/v1/namespaces/" + ns + "/runs", `{"pipeline": "train", "experiment": "Bad_Exp"}`, 400, "experiment: Invalid value"},
		{"POST", "/api/v1/namespaces/" + ns + "/runs", `{"pipeline": "train", "version": 5}`, 400, "version: pipeline train keeps no version 5"},
		{"POST", "/api/v1/namespaces/" + ns + "/runs", `{"pipeline": "train", "colour": "red"}`, 400, `unknown field "colour"`},
		{"POST", "/api/v1/namespaces/" + ns + "/runs", `not json`, 400, "the request body is not what this action takes"},
		{"POST", "/api/v1/namespaces/" + ns + "/runs", `{"pipeline": "train", "name": "r"}`, 409, "already exists"},
		{"POST", "/api/v1/namespaces/" + ns + "/runs/nosuch/cancel", `{}`, 404, "run nosuch does not exist"},
		{"POST", "/api/v1/namespaces/" + ns + "/experiments/Bad_Name/archive", `{"archived": true}`, 400, `experiment: "Bad_Name" is not a valid name`},
	} {
		code, body, _ := u.do(t, c.method, c.path, c.body)
		var answer struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &answer); err != nil || answer.Error == "" {
			t.Errorf("%s %s: the error is not JSON: %s", c.method, c.path, body)
		}
		if code != c.code || !strings.Contains(answer.Error, c.want) {
			t.Errorf("%s %s: %d %s\nwant %d with %q", c.method, c.path, code, answer.Error, c.code, c.want)
		}
	}

	// Changes need the CSRF header, and refuse another site's origin.
	req, _ := http.NewRequest(http.MethodPost, uiURL+run+"/cancel", strings.NewReader("{}"))
	req.Header.Set(ui.DefaultSecretHeader, proxySecret)
	req.Header.Set(ui.DefaultUserHeader, u.user)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("a change without the CSRF header: %d, want 403", res.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodPost, uiURL+run+"/cancel", strings.NewReader("{}"))
	req.Header.Set(ui.DefaultSecretHeader, proxySecret)
	req.Header.Set(ui.DefaultUserHeader, u.user)
	req.Header.Set("X-Kfstack-Request", "1")
	req.Header.Set("Origin", "https://evil.example")
	if res, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("a change from another origin: %d, want 403", res.StatusCode)
	}

	// A huge log (120,000 lines, about 2 MB) is served in pages.
	logURL := fmt.Sprintf("%s/tasks/%d/attempts/1/log", run, node)
	code, page, hdr := u.do(t, http.MethodGet, logURL, "")
	size, _ := strconv.Atoi(hdr.Get("X-Log-Size"))
	if code != http.StatusOK || len(page) != 64<<10 || size < 2_000_000 {
		t.Fatalf("the first page: %d, %d bytes of %d", code, len(page), size)
	}
	var whole strings.Builder
	for off := 0; off < size; {
		code, page, hdr := u.do(t, http.MethodGet, fmt.Sprintf("%s?offset=%d&limit=%d", logURL, off, 1<<20), "")
		if code != http.StatusOK || hdr.Get("X-Log-Offset") != strconv.Itoa(off) || len(page) == 0 {
			t.Fatalf("page at %d: %d, %d bytes", off, code, len(page))
		}
		whole.WriteString(page)
		off += len(page)
	}
	lines := strings.Count(whole.String(), "\n")
	if !strings.Contains(whole.String(), "epoch 119999: loss") || lines != 120001 {
		t.Errorf("the log read in pages has %d lines", lines)
	}
	code, last, _ := u.do(t, http.MethodGet, logURL+"?offset=-100", "")
	if code != http.StatusOK || !strings.HasSuffix(strings.TrimSpace(last), "epoch 119999: loss 0.0000") {
		t.Errorf("the last 100 bytes: %d %q", code, last)
	}
}

// bindClusterView lets a user list runs in every namespace, as a
// cluster-wide auditor would, so unknown namespaces answer 404 (for
// others, 403 comes first).
func bindClusterView(t testing.TB, user string) {
	t.Helper()
	name := "view-" + strings.NewReplacer("@", "-", ".", "-").Replace(user)
	if err := admin.Create(context.Background(), &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: user, APIGroup: rbacv1.GroupName}},
	}); err != nil {
		t.Fatal(err)
	}
}

// TestLogFollow follows the log of a running task: what it printed is
// there while it runs, what it prints next arrives as an event, and the
// stream ends when the attempt does. The time from the print to the event
// is the follow latency (logged; bench/RESULTS.md).
func TestLogFollow(t *testing.T) {
	t.Logf("log follow latency (print to event): %s", followOnce(t, 0))
}

// followOnce runs a task that prints a line, waits for a gate, prints the
// time and another line; it follows the log from the first line and
// returns the time from the print to the event that carries it.
func followOnce(t testing.TB, i int) time.Duration {
	t.Helper()
	u := as{user: "fay@example.com"}
	ns := profile(t, "follow", map[string]string{u.user: "edit"})
	gate := filepath.Join(os.TempDir(), fmt.Sprintf("kfstack-follow-gate-%s-%d", ns, i))
	defer os.Remove(gate)
	dag := fmt.Sprintf(`name: follow
tasks:
- name: talk
  image: busybox
  command: [sh, -c, 'echo first; while [ ! -e "$0" ]; do sleep 0.01; done; date +%%s%%N; echo second']
  args: [%q]
`, gate)
	if err := admin.Create(context.Background(), &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "follow"}, Spec: v1alpha1.PipelineSpec{DAG: dag}}); err != nil {
		t.Fatal(err)
	}
	createRun(t, ns, "f", "follow", "", nil)
	node := 0
	waitFor(t, "the task's first line", func() bool {
		code, body := u.get(t, "/api/v1/namespaces/"+ns+"/runs/f/graph")
		if code != http.StatusOK || !strings.Contains(body, `"phase":"Running"`) {
			return false
		}
		node = taskNode(t, u, ns, "f", "talk")
		_, log := u.get(t, fmt.Sprintf("/api/v1/namespaces/%s/runs/f/tasks/%d/attempts/1/log", ns, node))
		return log == "first\n"
	})
	type event struct {
		name string
		data string
		at   time.Time
	}
	events := make(chan event, 16)
	go func() {
		defer close(events)
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/namespaces/%s/runs/f/tasks/%d/attempts/1/log/follow?offset=6", uiURL, ns, node), nil)
		req.Header.Set(ui.DefaultSecretHeader, proxySecret)
		req.Header.Set(ui.DefaultUserHeader, u.user)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		name := ""
		for sc.Scan() {
			line := sc.Text()
			if e, ok := strings.CutPrefix(line, "event: "); ok {
				name = e
			} else if d, ok := strings.CutPrefix(line, "data: "); ok {
				events <- event{name, d, time.Now()}
				if name == "end" {
					return
				}
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // let the stream start before the line is printed
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	var latency time.Duration
	for e := range events {
		got = append(got, e.name)
		if e.name == "log" {
			var c struct {
				Offset int64  `json:"offset"`
				Data   string `json:"data"`
			}
			decodeInto(t, e.data, &c)
			if c.Offset != 6 || !strings.HasSuffix(c.Data, "second\n") {
				t.Errorf("followed chunk %+v", c)
			}
			if nanos, err := strconv.ParseInt(strings.SplitN(c.Data, "\n", 2)[0], 10, 64); err == nil {
				latency = e.at.Sub(time.Unix(0, nanos))
			}
		}
	}
	if strings.Join(got, ",") != "log,end" {
		t.Errorf("followed events %v, want log then end", got)
	}
	waitRun(t, ns, "f")
	return latency
}
