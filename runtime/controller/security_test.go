package controller_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kfruntime "github.com/kfstack/terraform-provider-kubeflow/bootstrap/runtime"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/controller"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

// markerDAG's only task would leave a file behind if it ever ran.
const markerDAG = `name: marker
parameters:
  marker: {type: string}
tasks:
- name: touch
  image: registry.example/touch:1
  command: [sh, -c, 'touch "$0"', "{{$.inputs.parameters['marker']}}"]
  inputs: {parameters: {marker: {parameter: marker}}}
`

// TestLocalExecutorRefusedWithoutFlag: the local executor runs task
// commands inside the controller with its identity, so a controller not
// started with --allow-local-executor refuses it. A contributor who can
// create runs in their namespace (kubectl as that user) is refused at
// admission, naming spec.executor; a run that slips past (no webhooks)
// fails at the controller before anything runs: no state, no pod, no
// process, no work directory, and the task's file never appears.
func TestLocalExecutorRefusedWithoutFlag(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := namespace(t)
	createPipeline(t, ns, "marker", "", markerDAG)
	marker := filepath.Join(t.TempDir(), "ran")

	// Admission, as a contributor: a Role like the edit role's share of
	// the runtime's kinds, bound to a user the test impersonates.
	const user = "contributor@example.com"
	if err := k8s.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "runs"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"pipelineruns", "pipelines"}, Verbs: []string{"get", "list", "watch", "create"},
	}}}); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "runs"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "runs"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: user}}}); err != nil {
		t.Fatal(err)
	}
	shared := testOptions
	shared.AllowLocalExecutor = false
	registerWebhooks(ctx, t, ns, shared)
	as := rest.CopyConfig(cluster.Config)
	as.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	contributor, err := client.New(as, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	refused := &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "local"},
		Spec: v1alpha1.PipelineRunSpec{Pipeline: "marker", Executor: v1alpha1.ExecutorLocal, Parameters: map[string]string{"marker": marker}}}
	err = contributor.Create(ctx, refused)
	if !apierrors.IsInvalid(err) {
		t.Fatalf("a contributor's local run: %v, want it refused as Invalid", err)
	}
	contains(t, "refusal", err.Error(), `admission webhook "pipelineruns.kfstack.dev" denied the request`, "spec.executor: Forbidden",
		"runs task commands inside the controller's process", "--allow-local-executor")
	pod := refused.DeepCopy()
	pod.Name, pod.Spec.Executor = "pod", v1alpha1.ExecutorPod
	if err := contributor.Create(ctx, pod); err != nil {
		t.Errorf("the same run with the pod executor was refused: %v", err)
	}

	// Past admission: a controller process without the flag, driving the
	// runs labelled for it, in a namespace without webhooks.
	bin := runtimeBinary(t)
	work := filepath.Join(t.TempDir(), "work")
	controllerProcess(t, bin, "--workdir", work)
	free := namespace(t)
	createPipeline(t, free, "marker", "", markerDAG)
	createRun(t, free, "slipped", "marker", v1alpha1.ExecutorLocal, map[string]string{"marker": marker}, func(r *v1alpha1.PipelineRun) {
		r.Labels = map[string]string{labelController: subprocessController}
	})
	run := waitRun(t, free, "slipped", 2*time.Minute)
	c := apimeta.FindStatusCondition(run.Status.Conditions, v1alpha1.ConditionSucceeded)
	if run.Status.Phase != v1alpha1.RunFailed || c == nil || c.Reason != v1alpha1.ReasonExecutorNotAllowed {
		t.Fatalf("the run that slipped past admission: %s (condition %+v), want Failed with %s", describe(run), c, v1alpha1.ReasonExecutorNotAllowed)
	}
	contains(t, "message", run.Status.Message, "spec.executor: Forbidden", "--allow-local-executor")
	// Nothing ran: no engine state, no task counted, no pod, no work
	// directory, no file.
	if run.Status.State != nil || len(run.Status.Tasks) != 0 || run.Status.PipelineVersion != 0 {
		t.Errorf("the refused run got state %v, tasks %v, version %d", run.Status.State, run.Status.Tasks, run.Status.PipelineVersion)
	}
	pods := &corev1.PodList{}
	if err := k8s.List(ctx, pods, client.InNamespace(free)); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 0 {
		t.Errorf("the refused run has %d pods", len(pods.Items))
	}
	if _, err := os.Stat(work); !os.IsNotExist(err) {
		t.Errorf("the controller made its work directory %s: %v", work, err)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("the task ran: %s exists (%v)", marker, err)
	}
}

// TestRunRootOutsideAllowedDirectoriesFails: a run naming a file:// root
// of its own outside the directories the controller allows fails, and the
// controller never touches the directory (it would read and write there
// with its own identity).
func TestRunRootOutsideAllowedDirectoriesFails(t *testing.T) {
	ns := namespace(t)
	createPipeline(t, ns, "marker", "", markerDAG)
	// Outside the test controller's allowed directory (the temporary one).
	outside := filepath.Join("/var/tmp", fmt.Sprintf("kfstack-outside-%s", ns))
	if strings.HasPrefix(outside, os.TempDir()) {
		t.Skipf("%s is under the temporary directory %s", outside, os.TempDir())
	}
	createRun(t, ns, "outside", "marker", v1alpha1.ExecutorLocal, map[string]string{"marker": filepath.Join(t.TempDir(), "ran")}, func(r *v1alpha1.PipelineRun) {
		r.Spec.PipelineRoot = "file://" + outside
	})
	run := waitRun(t, ns, "outside", time.Minute)
	if run.Status.Phase != v1alpha1.RunFailed || !strings.Contains(run.Status.Message, "spec.pipelineRoot") || !strings.Contains(run.Status.Message, "is not under a directory this controller allows") {
		t.Errorf("run with a root outside the allowed directories: %s", describe(run))
	}
	if _, err := os.Stat(outside); !os.IsNotExist(err) {
		t.Errorf("the controller made %s: %v", outside, err)
	}
}

// TestPodInformerWatchesOnlyTaskPods: the controller's informer selects
// pods labelled pipelines.kfstack.dev/run-uid; other pods of the cluster
// never reach its memory or its handlers.
func TestPodInformerWatchesOnlyTaskPods(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	mk := func(name string, labels map[string]string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.example/other:1"}}}}
		if err := k8s.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	other := mk("someone-elses", map[string]string{"app": "web"})
	// Created after the other pod: once the informer shows it, it has
	// seen every earlier pod event, so the other pod is left out by its
	// selector, not missed by timing.
	task := mk("task-like", map[string]string{v1alpha1.LabelRunUID: "not-a-run"})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err := managerCache.Get(ctx, client.ObjectKeyFromObject(task), &corev1.Pod{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the labelled pod never reached the controller's cache: %v", err)
		}
	}
	if err := managerCache.Get(ctx, client.ObjectKeyFromObject(other), &corev1.Pod{}); !apierrors.IsNotFound(err) {
		t.Errorf("a pod without the task label is in the controller's cache: %v", err)
	}
	list := &corev1.PodList{}
	if err := managerCache.List(ctx, list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != task.Name {
		t.Errorf("the controller's cache holds %d pods of the namespace, want only the task pod", len(list.Items))
	}
}

// TestTeamsNeverShareCacheEntries: two namespaces run the same cached task
// with the same inputs against the same pipeline root; team b's run never
// takes team a's result. An entry planted in team b's part of the cache
// (written without the controller's key, as a task could) is refused with
// an event, and the task runs instead.
func TestTeamsNeverShareCacheEntries(t *testing.T) {
	a, b := namespace(t), namespace(t)
	executions := map[string]int{}
	var mu sync.Mutex
	for _, ns := range []string{a, b} {
		startPrograms(t, ns, func(spec *launcher.TaskSpec, _ int) (launcher.Message, int) {
			mu.Lock()
			executions[spec.Name]++
			n := executions[spec.Name]
			mu.Unlock()
			switch spec.Name {
			case "produce":
				return launcher.Message{Params: map[string]any{"y": fmt.Sprintf("%v made by execution %d", spec.Params["x"], n)}}, 0
			case "consume":
				return launcher.Message{Params: map[string]any{"z": fmt.Sprintf("used %v", spec.Params["y"])}}, 0
			}
			return launcher.Message{}, 0
		})
		createPipeline(t, ns, "cached", "", cacheDAG)
	}
	x := map[string]string{"x": "shared-" + a} // the same inputs in both namespaces
	createRun(t, a, "first", "cached", v1alpha1.ExecutorPod, x)
	first := waitRun(t, a, "first", time.Minute)
	createRun(t, b, "first", "cached", v1alpha1.ExecutorPod, x)
	other := waitRun(t, b, "first", time.Minute)
	if first.Status.Phase != v1alpha1.RunSucceeded || other.Status.Phase != v1alpha1.RunSucceeded {
		t.Fatalf("a: %s; b: %s", describe(first), describe(other))
	}
	if other.Status.CachedTasks != 0 || other.Status.Outputs["y"] == first.Status.Outputs["y"] {
		t.Fatalf("team b reused team a's results: %d cached, y = %s (a's: %s)", other.Status.CachedTasks, other.Status.Outputs["y"], first.Status.Outputs["y"])
	}

	// Plant: overwrite team b's entries with results signed by no one.
	root := strings.TrimPrefix(testOptions.PipelineRoot, "file://")
	dir := filepath.Join(root, ".cache", b)
	all, err := os.ReadDir(dir)
	var entries []os.DirEntry
	for _, e := range all {
		if strings.HasSuffix(e.Name(), ".json") { // not the store's .attrs files
			entries = append(entries, e)
		}
	}
	if err != nil || len(entries) != 2 {
		t.Fatalf("team b's cache entries: %v, %v; want 2", all, err)
	}
	store, err := launcher.OpenStore(context.Background(), testOptions.PipelineRoot, launcher.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	forged := launcher.StoreCache{Store: store, Namespace: b, Producer: "a task of team a"}
	for _, e := range entries {
		key := strings.TrimSuffix(e.Name(), ".json")
		if err := forged.Put(context.Background(), key, &engine.CachedResult{Params: map[string]any{"y": "poisoned", "z": "poisoned"}}); err != nil {
			t.Fatal(err)
		}
	}
	createRun(t, b, "second", "cached", v1alpha1.ExecutorPod, x)
	second := waitRun(t, b, "second", time.Minute)
	if second.Status.Phase != v1alpha1.RunSucceeded || second.Status.CachedTasks != 0 || strings.Contains(fmt.Sprint(second.Status.Outputs), "poisoned") {
		t.Fatalf("after planting: %s, %d cached, outputs %v", describe(second), second.Status.CachedTasks, second.Status.Outputs)
	}
	events := &corev1.EventList{}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := k8s.List(context.Background(), events, client.InNamespace(b)); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range events.Items {
			if e.Reason == v1alpha1.ReasonCacheEntryRefused && e.InvolvedObject.Name == "second" && strings.Contains(e.Message, "signature does not match") {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event on the run", v1alpha1.ReasonCacheEntryRefused)
		}
	}
	// Team b's own entries, signed again by the controller, now serve.
	createRun(t, b, "third", "cached", v1alpha1.ExecutorPod, x)
	third := waitRun(t, b, "third", time.Minute)
	if third.Status.CachedTasks != 2 || third.Status.Outputs["y"] != second.Status.Outputs["y"] {
		t.Errorf("team b's own entries: %s, %d cached", describe(third), third.Status.CachedTasks)
	}
}

// TestArtifactStoreUnavailableThenBack: a task's offloaded result lives in
// an S3 store that does not answer for a while. The run is not failed: it
// says so (event, ArtifactStoreAvailable=False) and retries with backoff,
// and once the store answers it reads the result and succeeds.
func TestArtifactStoreUnavailableThenBack(t *testing.T) {
	ns := namespace(t)
	backend := s3mem.New()
	if err := backend.CreateBucket("ml"); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "minio")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "minio123")
	root := fmt.Sprintf("s3://ml/runs?endpoint=http://127.0.0.1:%d&region=us-east-1&use_path_style=true", port)
	const dag = `name: offload
tasks:
- name: big
  image: registry.example/big:1
  command: [big]
  outputs: {parameters: {csv: string}}
outputs:
  csv: {task: big, output: csv}
`
	full := `{"params":{"csv":"` + strings.Repeat("1,", 3000) + `"}}`
	store, err := launcher.OpenStore(context.Background(), root, launcher.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// The task writes its result where it belongs (under the run's UID),
	// straight into the backend: the store is down for the controller.
	startPrograms(t, ns, func(spec *launcher.TaskSpec, _ int) (launcher.Message, int) {
		rel := launcher.ResultPath(spec.PipelineName, spec.RunID, spec.RunUID, spec.Path)
		if _, err := backend.PutObject("ml", "runs/"+rel, nil, strings.NewReader(full), int64(len(full)), nil); err != nil {
			return launcher.Message{Error: err.Error()}, 1
		}
		return launcher.Message{ResultURI: store.URI(rel)}, 0
	})
	createPipeline(t, ns, "offload", "", dag)
	createRun(t, ns, "r", "offload", v1alpha1.ExecutorPod, nil, func(r *v1alpha1.PipelineRun) { r.Spec.PipelineRoot = root })

	// The store is down: the run waits and says why.
	run := &v1alpha1.PipelineRun{}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "r"}, run); err != nil {
			t.Fatal(err)
		}
		if c := apimeta.FindStatusCondition(run.Status.Conditions, v1alpha1.ConditionArtifactStoreAvailable); c != nil && c.Status == metav1.ConditionFalse {
			contains(t, "condition", c.Message, "the artifact store is unavailable; retrying")
			break
		}
		if run.Status.Phase.Terminal() || time.Now().After(deadline) {
			t.Fatalf("while the store is down: %s; conditions %+v", describe(run), run.Status.Conditions)
		}
	}
	if run.Status.Phase != v1alpha1.RunRunning {
		t.Fatalf("while the store is down the run is %s", describe(run))
	}

	// It comes back on the same address.
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	server := &httptest.Server{Listener: l, Config: &http.Server{Handler: gofakes3.New(backend).Server()}}
	server.Start()
	defer server.Close()
	run = waitRun(t, ns, "r", 2*time.Minute)
	if run.Status.Phase != v1alpha1.RunSucceeded || len(run.Status.Outputs["csv"]) < 6000 {
		t.Fatalf("after the store came back: %s, outputs %d bytes", describe(run), len(run.Status.Outputs["csv"]))
	}
	if c := apimeta.FindStatusCondition(run.Status.Conditions, v1alpha1.ConditionArtifactStoreAvailable); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("after the store came back: condition %+v", c)
	}
}

// TestMetricsRequireAuthorization runs the controller process with its
// default, secure metrics: HTTPS, and only callers whom the API server
// authenticates and authorises for GET /metrics (the metrics-reader role
// kubeflow_runtime installs) get them.
func TestMetricsRequireAuthorization(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := runtimeBinary(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	controllerProcess(t, bin, "--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", port))
	ns := namespace(t)
	cs := kubernetes.NewForConfigOrDie(cluster.Config)
	token := func(sa string) string {
		t.Helper()
		if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	reader := ns + "-metrics-reader"
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: reader}, Rules: kfruntime.MetricsReaderRules()}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: reader},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: reader},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "prometheus", Namespace: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.RbacV1().ClusterRoleBindings().Delete(context.Background(), reader, metav1.DeleteOptions{})
		_ = cs.RbacV1().ClusterRoles().Delete(context.Background(), reader, metav1.DeleteOptions{})
	})
	allowed, stranger := token("prometheus"), token("stranger")

	// The certificate is self-signed: the scrape checks the caller, not
	// the server (Prometheus is configured likewise, or with a CA).
	httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // a test of the caller's authorisation
	scrape := func(bearer string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/metrics", port), nil)
		if err != nil {
			t.Fatal(err)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := httpc.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	var code int
	var body string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if code, body = scrape(allowed); code == http.StatusOK || time.Now().After(deadline) {
			break
		}
	}
	if code != http.StatusOK || !strings.Contains(body, "controller_runtime_") {
		t.Fatalf("an authorised scrape: %d %.200s", code, body)
	}
	if code, body := scrape(""); code != http.StatusUnauthorized {
		t.Errorf("an unauthenticated scrape: %d %.200s, want 401", code, body)
	}
	if code, body := scrape(stranger); code != http.StatusForbidden {
		t.Errorf("a scrape by a service account without the role: %d %.200s, want 403", code, body)
	}
	// A token the API server cannot read fails the TokenReview itself,
	// which controller-runtime's filter answers with 500: refused all the
	// same.
	if code, body := scrape("not-a-token"); code != http.StatusUnauthorized && code != http.StatusInternalServerError || strings.Contains(body, "controller_runtime_") {
		t.Errorf("a scrape with a bad token: %d %.200s, want 401 or 500 and no metrics", code, body)
	}
	plain := &http.Client{Timeout: 10 * time.Second}
	if resp, err := plain.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port)); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP served the metrics: %.200s", body)
		}
	}
}

// TestCacheSigningKeySecret: the key that signs cache entries is made once
// in its Secret and read back by every later start (another replica, a
// restart), so they all trust the same entries; a key too short is refused.
func TestCacheSigningKeySecret(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	first, err := controller.LoadCacheSigningKey(ctx, cluster.Config, ns+"/cache-key")
	if err != nil {
		t.Fatal(err)
	}
	again, err := controller.LoadCacheSigningKey(ctx, cluster.Config, ns+"/cache-key")
	if err != nil || string(again) != string(first) || len(first) < 32 {
		t.Fatalf("second start: %d bytes (%v), first %d bytes; want the same key", len(again), err, len(first))
	}
	weak := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "weak"}, Data: map[string][]byte{"key": []byte("short")}}
	if err := k8s.Create(ctx, weak); err != nil {
		t.Fatal(err)
	}
	if _, err := controller.LoadCacheSigningKey(ctx, cluster.Config, ns+"/weak"); err == nil || !strings.Contains(err.Error(), "fewer than 32") {
		t.Errorf("a short key: %v", err)
	}
}
