package ui_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/ui"
)

// chromium is Debian's Chromium (apt-get install chromium; .ci/run
// installs it).
const chromium = "/usr/bin/chromium"

// browser starts a headless Chromium, with a fresh profile, whose every
// request carries the identity the test's gateway would set.
func browser(t testing.TB, user string) context.Context {
	t.Helper()
	path := chromium
	if p := os.Getenv("KFSTACK_CHROMIUM"); p != "" {
		path = p
	}
	if _, err := exec.LookPath(path); err != nil {
		t.Skipf("no Chromium at %s (apt-get install chromium, as .ci/run does): %v", path, err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1500, 1000),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{
			ui.DefaultUserHeader: user, ui.DefaultSecretHeader: proxySecret,
		}})
		return err
	}))
	if err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// open loads a page of the UI and waits until it says it is ready.
func open(t *testing.T, ctx context.Context, hash, ready string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(uiURL+"/"+hash)); err != nil {
		t.Fatal(err)
	}
	// Navigating within the page (a new hash) keeps the document: reload
	// so each page starts fresh.
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.body.dataset.ready === `+quote(ready)+` || document.body.dataset.ready === "error"`)
	if state := evalString(t, ctx, `document.body.dataset.ready`); state != ready {
		t.Fatalf("%s: the page says %q: %s", hash, state, evalString(t, ctx, `document.getElementById("banner").textContent`))
	}
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// waitJS waits until a JavaScript expression is true.
func waitJS(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		t.Fatalf("waiting for %s: %v\npage: %s", expr, err, evalString(t, ctx, `document.body.innerText.slice(0, 2000)`))
	}
}

func evalString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`String(`+expr+`)`))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return s
}

// screenshot keeps a picture of the page as test output (go test
// -artifacts keeps t.ArtifactDir; KFSTACK_SCREENSHOTS copies it there).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dirs := []string{t.ArtifactDir()}
	if d := os.Getenv("KFSTACK_SCREENSHOTS"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot %s (%d bytes) in %s", name, len(png), strings.Join(dirs, ", "))
}

func contains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s lacks %q: %s", what, sub, s)
		}
	}
}

// TestBrowser opens the UI in Chromium as a team member and checks what
// each page shows: the run list (and that it updates live), a run of the
// quickstart's pipeline with its graph, a loop expanded, a task's log,
// artifact previews (metrics, confusion matrix and ROC curve, Markdown,
// sandboxed HTML), the experiment comparison with its chart, lineage, and
// a pipeline's versions with their diff.
func TestBrowser(t *testing.T) {
	user := "dana@example.com"
	ns := profile(t, "web", map[string]string{user: "edit"})
	createPipeline(t, ns, "word-count", filepath.Join("..", "..", "examples", "quickstart", "pipelines", "word_count.yaml"))
	createPipeline(t, ns, "train", trainFile())
	createRun(t, ns, "word-count-1", "word-count", "", map[string]string{"text": "one apply gives a team a namespace, a quota and its pipelines"})
	createRun(t, ns, "lr-1", "train", "tuning", map[string]string{"learning_rate": "0.1"})
	createRun(t, ns, "lr-3", "train", "tuning", map[string]string{"learning_rate": "0.3"})
	// The scikit-learn example (examples/sklearn) where Debian's
	// python3-sklearn is installed (.ci/run installs it).
	sklearn := python() != "" && exec.Command(python(), "-c", "import sklearn").Run() == nil
	if sklearn {
		createPipeline(t, ns, "sklearn-classifiers", filepath.Join("..", "..", "examples", "sklearn", "pipeline.yaml"))
		createRun(t, ns, "iris-1", "sklearn-classifiers", "iris", nil)
	}
	for _, r := range []string{"word-count-1", "lr-1", "lr-3"} {
		waitRun(t, ns, r)
	}
	train := taskNode(t, as{user: user}, ns, "lr-1", "train")
	ctx := browser(t, user)

	t.Run("run list", func(t *testing.T) {
		open(t, ctx, "#/ns/"+ns+"/runs", "runs")
		text := evalString(t, ctx, `document.querySelector("[data-testid=runs]").innerText`)
		contains(t, "run list", text, "word-count-1", "lr-1", "lr-3", "Succeeded", "tuning", "train", "word-count")
		contains(t, "header", evalString(t, ctx, `document.querySelector("[data-testid=user]").textContent`), user)
		screenshot(t, ctx, "runs.png")
		// A run started elsewhere appears without a reload.
		waitJS(t, ctx, `!document.querySelector(".live").hidden`)
		createRun(t, ns, "lr-5", "train", "tuning", map[string]string{"learning_rate": "0.5", "log_lines": "3"})
		waitJS(t, ctx, `document.querySelector('tr[data-run="lr-5"]') !== null`)
		waitJS(t, ctx, `document.querySelector('tr[data-run="lr-5"] [data-phase]').dataset.phase === "Succeeded"`)
		// Filters: by phase, and a name that matches nothing.
		open(t, ctx, "#/ns/"+ns+"/runs?phase=Failed", "runs")
		contains(t, "filtered list", evalString(t, ctx, `document.querySelector("[data-testid=runs]").innerText`), "No runs match.")
	})

	t.Run("quickstart run", func(t *testing.T) {
		open(t, ctx, "#/ns/"+ns+"/runs/word-count-1", "run")
		contains(t, "run header", evalString(t, ctx, `document.querySelector("[data-testid=run-header]").innerText`), "word-count-1", "Succeeded", "word-count", "words", "12")
		names := evalString(t, ctx, `[...document.querySelectorAll("[data-testid=graph] g.node")].map(n => n.dataset.name + ":" + n.dataset.phase).join(",")`)
		contains(t, "graph", names, "write-corpus:Succeeded", "count-words:Succeeded")
		if n := evalString(t, ctx, `document.querySelectorAll("[data-testid=graph] path.edge").length`); n != "1" {
			t.Errorf("the graph has %s edges, want 1", n)
		}
		// The first task's output, the corpus, previewed as text.
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=graph] g.node[data-name="write-corpus"]`))); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, `document.querySelector("[data-testid=task-name]")?.textContent.includes("write-corpus")`)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-tab=outputs]`)), chromedp.Click(chromedp.CSS(`[data-testid=preview-corpus]`))); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, `document.querySelector("[data-testid=text-preview]")?.textContent.includes("one apply gives a team a namespace")`)
		screenshot(t, ctx, "quickstart-run.png")
	})

	t.Run("scikit-learn run", func(t *testing.T) {
		if !sklearn {
			t.Skipf("%s cannot import sklearn (apt-get install python3-sklearn, as .ci/run does)", debianPython)
		}
		waitRun(t, ns, "iris-1")
		evaluate := taskNode(t, as{user: user}, ns, "iris-1", "evaluate")
		open(t, ctx, fmt.Sprintf("#/ns/%s/runs/iris-1?task=%d&tab=outputs", ns, evaluate), "run")
		contains(t, "run header", evalString(t, ctx, `document.querySelector("[data-testid=run-header]").innerText`), "iris-1", "Succeeded", "sklearn-classifiers", "iris")
		names := evalString(t, ctx, `[...document.querySelectorAll("[data-testid=graph] g.node")].map(n => n.dataset.name + ":" + n.dataset.phase).join(",")`)
		contains(t, "graph", names, "load-data:Succeeded", "split-data:Succeeded", "train-logistic-regression:Succeeded",
			"train-random-forest:Succeeded", "evaluate:Succeeded", "evaluate-2:Succeeded", "pick-best:Succeeded")
		waitJS(t, ctx, `document.querySelector("[data-testid=metrics]") !== null && document.querySelector("[data-testid=confusion-matrix] svg") !== null`)
		contains(t, "metrics table", evalString(t, ctx, `document.querySelector("[data-testid=metrics]").innerText`), "accuracy")
		// Iris has three classes: a 3×3 matrix whose cells add up to the
		// test set, most of it on the diagonal.
		cells := evalString(t, ctx, `[...document.querySelectorAll("[data-testid=confusion-matrix] g.cell")].map(c => c.textContent).join(",")`)
		var n, sum, diagonal int
		for i, c := range strings.Split(cells, ",") {
			var v int
			if _, err := fmt.Sscan(c, &v); err != nil {
				t.Fatalf("confusion matrix cells %q: %v", cells, err)
			}
			n, sum = n+1, sum+v
			if i%4 == 0 {
				diagonal += v
			}
		}
		if n != 9 || sum == 0 || diagonal*10 < sum*8 {
			t.Errorf("confusion matrix cells %q: want 9 cells, at least 80%% on the diagonal", cells)
		}
		// A count on a dark cell is written in white, readable.
		if fill := evalString(t, ctx, `getComputedStyle(document.querySelector('[data-testid=confusion-matrix] g.cell[data-row="0"][data-col="0"] text')).fill`); fill != "rgb(255, 255, 255)" {
			t.Errorf("the count on the darkest cell is drawn in %s, want white", fill)
		}
		screenshot(t, ctx, "sklearn-run.png")
	})

	t.Run("waiting run", func(t *testing.T) {
		// A task that asks for more than any node has: the run stays
		// Running, and its page says why, from the run's TaskPodsStarted
		// condition.
		p := &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "huge"}, Spec: v1alpha1.PipelineSpec{
			DAG: "name: huge\ntasks:\n- name: train\n  image: busybox\n  command: [\"true\"]\n  resources: {cpu: \"500\"}\n"}}
		if err := admin.Create(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		run := &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "huge-1"}, Spec: v1alpha1.PipelineRunSpec{Pipeline: "huge", Executor: v1alpha1.ExecutorPod}}
		if err := admin.Create(context.Background(), run); err != nil {
			t.Fatal(err)
		}
		open(t, ctx, "#/ns/"+ns+"/runs/huge-1", "run")
		deadline := time.Now().Add(time.Minute)
		for {
			if err := admin.Get(context.Background(), client.ObjectKeyFromObject(run), run); err != nil {
				t.Fatal(err)
			}
			if c := apimeta.FindStatusCondition(run.Status.Conditions, v1alpha1.ConditionTaskPodsStarted); c != nil && c.Status == metav1.ConditionFalse {
				t.Logf("TaskPodsStarted=False %s after the run was made", time.Since(run.CreationTimestamp.Time).Round(100*time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("run huge-1 has no TaskPodsStarted=False: %s %+v", run.Status.Phase, run.Status.Conditions)
			}
			time.Sleep(200 * time.Millisecond)
		}
		waitJS(t, ctx, `document.querySelector("[data-testid=condition-TaskPodsStarted]")?.textContent.includes("Insufficient cpu")`)
		contains(t, "waiting card", evalString(t, ctx, `document.querySelector("[data-testid=condition-TaskPodsStarted]").textContent`),
			"TaskPodsWaiting", "task train: pod huge-1-", "not scheduled: Unschedulable")
		screenshot(t, ctx, "waiting-run.png")
		if err := admin.Patch(context.Background(), run, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"cancel":true}}`))); err != nil {
			t.Error(err)
		}
	})

	t.Run("graph expands", func(t *testing.T) {
		open(t, ctx, "#/ns/"+ns+"/runs/lr-1", "run")
		contains(t, "collapsed", evalString(t, ctx, `document.querySelector('[data-testid=graph] g.node[data-name="for-loop-1"]').textContent`), "3 iterations", "3✓")
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=graph] g.node[data-name="for-loop-1"] g.toggle`))); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, `document.querySelectorAll('[data-testid=graph] g.node[data-kind=iteration]').length === 3`)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=graph] g.node[data-name="[1]"] g.toggle`))); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, `document.querySelector('[data-testid=graph] g.node[data-name="featurize"]') !== null`)
		contains(t, "condition", evalString(t, ctx, `document.querySelector('[data-testid=graph] g.node[data-name="condition-2"]').textContent`), "if inputs.parameter_values")
		screenshot(t, ctx, "graph-expanded.png")
	})

	t.Run("task log", func(t *testing.T) {
		open(t, ctx, fmt.Sprintf("#/ns/%s/runs/lr-1?task=%d&tab=log", ns, train), "run")
		waitJS(t, ctx, `(document.querySelector("[data-testid=log]") || {}).textContent?.includes("epoch 29: loss")`)
		contains(t, "log", evalString(t, ctx, `document.querySelector("[data-testid=log]").textContent`), "training on 20 rows with learning rate 0.1", "epoch 0: loss 1.0000")
		contains(t, "task", evalString(t, ctx, `document.querySelector("[data-testid=task-name]").textContent`), "train", "Succeeded")
		screenshot(t, ctx, "task-log.png")
	})

	t.Run("artifact previews", func(t *testing.T) {
		open(t, ctx, fmt.Sprintf("#/ns/%s/runs/lr-1?task=%d&tab=outputs", ns, train), "run")
		waitJS(t, ctx, `document.querySelector("[data-testid=metrics]") !== null && document.querySelector("[data-testid=confusion-matrix] svg") !== null`)
		contains(t, "metrics table", evalString(t, ctx, `document.querySelector("[data-testid=metrics]").innerText`), "accuracy", "0.85", "loss", "0.25")
		cells := evalString(t, ctx, `[...document.querySelectorAll("[data-testid=confusion-matrix] g.cell")].map(c => c.textContent).join(",")`)
		if cells != "40,10,5,45" {
			t.Errorf("confusion matrix cells %q", cells)
		}
		contains(t, "ROC curve", evalString(t, ctx, `document.querySelector("[data-testid=roc-curve]").textContent`), "AUC 0.8", "false positive rate")
		if d := evalString(t, ctx, `document.querySelector("[data-testid=roc-curve] path.series").getAttribute("d")`); strings.Count(d, "L") != 3 {
			t.Errorf("ROC path %q, want 4 points", d)
		}
		// Markdown, rendered; its <script> line stays text.
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=preview-report]`))); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, `document.querySelector(".md strong") !== null`)
		contains(t, "markdown", evalString(t, ctx, `document.querySelector(".md").innerText`), "Training report", "accuracy of 0.8500", "<script>alert(1)</script>")
		if n := evalString(t, ctx, `document.querySelectorAll(".md script, .md table").length`); n != "1" {
			t.Errorf("the rendered Markdown has %s script or table elements, want only the table", n)
		}
		// HTML, in a frame that may run scripts but not as the UI.
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=preview-page]`))); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, `document.querySelector("[data-testid=html-preview]") !== null`)
		if sb := evalString(t, ctx, `document.querySelector("[data-testid=html-preview]").getAttribute("sandbox")`); sb != "allow-scripts" {
			t.Errorf("the HTML frame's sandbox is %q", sb)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=preview-model]`))); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, `[...document.querySelectorAll("[data-testid=text-preview]")].some(p => p.textContent.includes("weights for lr=0.1"))`)
		screenshot(t, ctx, "artifact-previews.png")
	})

	t.Run("experiment comparison", func(t *testing.T) {
		open(t, ctx, "#/ns/"+ns+"/experiments/tuning?metric=accuracy", "experiment")
		table := evalString(t, ctx, `document.querySelector("[data-testid=comparison]").innerText`)
		contains(t, "comparison", table, "lr-1", "lr-3", "learning_rate", "accuracy", "0.85", "0.65")
		bars := evalString(t, ctx, `[...document.querySelectorAll("[data-testid=metric-chart] g.bar")].map(b => b.dataset.run + "=" + b.querySelector("title").textContent).join(";")`)
		contains(t, "chart", bars, "lr-1=lr-1: 0.85", "lr-3=lr-3: 0.65")
		screenshot(t, ctx, "experiment.png")
	})

	t.Run("lineage", func(t *testing.T) {
		open(t, ctx, fmt.Sprintf("#/ns/%s/lineage/lr-1/%d/model/0", ns, train), "lineage")
		nodes := evalString(t, ctx, `[...document.querySelectorAll("[data-testid=lineage] g.node")].map(n => n.dataset.kind + ":" + n.dataset.name).sort().join(",")`)
		contains(t, "lineage", nodes, "artifact:dataset", "artifact:model", "task:prepare", "task:train", "task:condition-2/deploy")
		screenshot(t, ctx, "lineage.png")
	})

	t.Run("pipeline versions", func(t *testing.T) {
		open(t, ctx, "#/ns/"+ns+"/pipelines/train", "pipeline")
		contains(t, "versions", evalString(t, ctx, `document.querySelector("[data-testid=versions]").innerText`), "1", "kfp", "learning_rate: NUMBER_DOUBLE")
		names := evalString(t, ctx, `[...document.querySelectorAll("[data-testid=pipeline-graph] g.node")].map(n => n.dataset.name).join(",")`)
		contains(t, "pipeline graph", names, "prepare", "for-loop-1", "train", "condition-2")
		contains(t, "start form", evalString(t, ctx, `document.querySelector("[data-testid=start-form]").innerText`), "learning_rate", "NUMBER_DOUBLE")
	})
}
