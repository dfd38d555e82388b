package ui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/internal/kfptest"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// The UI's benchmarks print their figures and write them to
// bench/RESULTS.md (section "## Web UI"); they assert nothing about time.
//
//	go test ./runtime/ui -run XXX -bench . -benchtime 1x -timeout 60m

// fanOutDAG is a native pipeline of n independent tasks and a join.
func fanOutDAG(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: fan-out-%d\ntasks:\n", n)
	deps := make([]string, 0, n)
	for i := range n {
		name := fmt.Sprintf("t%04d", i)
		fmt.Fprintf(&b, "- {name: %s, image: busybox, command: [sh, -c, 'echo %s']}\n", name, name)
		deps = append(deps, name)
	}
	fmt.Fprintf(&b, "- {name: join, image: busybox, command: [sh, -c, 'echo done'], dependsOn: [%s]}\n", strings.Join(deps, ", "))
	return b.String()
}

var uiResults = map[string]string{}

// BenchmarkRunPage1000 opens the page of a finished run of 1,001 tasks (one
// DAG level of 1,000 and a join, all drawn) in Chromium: the time to the
// first byte of the page, of the graph's API answer, and to the page
// showing the whole graph.
func BenchmarkRunPage1000(b *testing.B) {
	user := "bench@example.com"
	ns := profile(b, "bench", map[string]string{user: "edit"})
	if err := admin.Create(context.Background(), &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fan-out"}, Spec: v1alpha1.PipelineSpec{DAG: fanOutDAG(1000)}}); err != nil {
		b.Fatal(err)
	}
	run := &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "big"},
		Spec: v1alpha1.PipelineRunSpec{Pipeline: "fan-out", Executor: v1alpha1.ExecutorLocal, Parallelism: 50}}
	if err := admin.Create(context.Background(), run); err != nil {
		b.Fatal(err)
	}
	started := time.Now()
	done := kfptest.WaitRun(b, admin, ns, "big", 20*time.Minute)
	b.Logf("the 1,001-task run took %s; status %d bytes", time.Since(started).Round(time.Second), len(done.Status.State.Raw))
	ctx := browser(b, user)
	var ttfb, graphTTFB, graphAPI, full []time.Duration
	for range 5 {
		if err := chromedp.Do(ctx, chromedp.Navigate(uiURL+"/#/ns/"+ns+"/runs/big")); err != nil {
			b.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
			b.Fatal(err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.body.dataset.ready === "run" && document.querySelectorAll("[data-testid=graph] g.node").length === 1001`, chromedp.WithPollingTimeout(2*time.Minute), chromedp.WithPollingInterval(5*time.Millisecond))); err != nil {
			b.Fatal(err)
		}
		var timing struct {
			TTFB  float64 `json:"ttfb"`
			Ready float64 `json:"ready"`
			Graph float64 `json:"graph"`
			API   float64 `json:"api"`
		}
		js, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify((() => {
			const nav = performance.getEntriesByType("navigation")[0];
			const g = performance.getEntriesByType("resource").filter(e => e.name.includes("/graph?scope=0")).pop();
			return {ttfb: nav.responseStart - nav.startTime, ready: performance.now(), graph: g ? g.responseStart - g.startTime : -1, api: g ? g.responseEnd - g.startTime : -1};
		})())`))
		if err != nil {
			b.Fatal(err)
		}
		if err := json.Unmarshal([]byte(js), &timing); err != nil {
			b.Fatal(err)
		}
		ttfb = append(ttfb, ms(timing.TTFB))
		graphTTFB = append(graphTTFB, ms(timing.Graph))
		graphAPI = append(graphAPI, ms(timing.API))
		full = append(full, ms(timing.Ready))
	}
	// The API alone, as a client that draws nothing sees it.
	var apiOnly []time.Duration
	for range 5 {
		start := time.Now()
		code, body := (as{user: user}).get(b, "/api/v1/namespaces/"+ns+"/runs/big/graph")
		if code != http.StatusOK || !strings.Contains(body, `"t0999"`) {
			b.Fatalf("graph: %d", code)
		}
		apiOnly = append(apiOnly, time.Since(start))
	}
	row := fmt.Sprintf("| page of a finished 1,001-task run (one level of 1,000 tasks and a join, all drawn), 5 loads | first byte of the page %s; whole page, graph drawn: %s | graph API: first byte %s, whole answer %s in the page, %s from a Go client |",
		spread(ttfb), spread(full), spread(graphTTFB), spread(graphAPI), spread(apiOnly))
	b.Log(row)
	uiResults["page"] = row
	writeUIResults(b)
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// spread is "min–max (median)" of durations.
func spread(d []time.Duration) string {
	s := slices.Clone(d)
	slices.Sort(s)
	r := func(x time.Duration) string {
		if x >= time.Second {
			return fmt.Sprintf("%.2f s", x.Seconds())
		}
		return fmt.Sprintf("%.0f ms", float64(x)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%s–%s (median %s)", r(s[0]), r(s[len(s)-1]), r(s[len(s)/2]))
}

// BenchmarkMemory10000Runs runs `kfstack-runtime ui` as its own process
// against a cluster holding 10,000 finished runs (each with the status of
// a real three-task run) and reads its resident memory once its cache has
// synced and after it served the run list.
func BenchmarkMemory10000Runs(b *testing.B) {
	const n = 10000
	user := "mem@example.com"
	ns := profile(b, "mem", map[string]string{user: "edit"})
	createPipeline(b, ns, "train", trainFile())
	createRun(b, ns, "model", "train", "sweep", map[string]string{"log_lines": "3"})
	model := waitRun(b, ns, "model")
	start := time.Now()
	for i := range n {
		r := &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("r%05d", i)},
			Spec: v1alpha1.PipelineRunSpec{Pipeline: "train", Experiment: "sweep", PipelineVersion: 1, Executor: v1alpha1.ExecutorLocal, Cancel: true, Parameters: map[string]string{"learning_rate": strconv.FormatFloat(float64(i%100)/100, 'f', 2, 64)}}}
		if err := admin.Create(context.Background(), r); err != nil {
			b.Fatal(err)
		}
		// The controller may write the cancelled run's status first:
		// then read it again and write the finished run's status over it.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := admin.Get(context.Background(), client.ObjectKeyFromObject(r), r); err != nil {
				return err
			}
			r.Status = *model.Status.DeepCopy()
			return admin.Status().Update(context.Background(), r)
		})
		if err != nil {
			b.Fatalf("run %d: %v", i, err)
		}
	}
	b.Logf("%d runs made in %s", n, time.Since(start).Round(time.Second))
	bin := filepath.Join(b.TempDir(), "kfstack-runtime")
	build := exec.Command("go", "build", "-o", bin, "../cmd/kfstack-runtime")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building kfstack-runtime: %v\n%s", err, out)
	}
	port := freePort(b)
	cmd := exec.Command(bin, "ui", "--auth=none", "--user="+user, fmt.Sprintf("--bind-address=127.0.0.1:%d", port), "--health-probe-bind-address=0", "--pipeline-root="+root)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.KubeconfigPath)
	logf, _ := os.Create(filepath.Join(b.TempDir(), "ui.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	started := time.Now()
	var list string
	for {
		res, err := http.Get(base + "/api/v1/namespaces/" + ns + "/runs?limit=50")
		if err == nil {
			bb := new(strings.Builder)
			_, _ = bufio.NewReader(res.Body).WriteTo(bb)
			res.Body.Close()
			if res.StatusCode == http.StatusOK && strings.Contains(bb.String(), fmt.Sprintf(`"total":%d`, n+1)) {
				list = bb.String()
				break
			}
		}
		if time.Since(started) > 5*time.Minute {
			b.Fatalf("the UI did not list the runs")
		}
		time.Sleep(200 * time.Millisecond)
	}
	synced := time.Since(started)
	rssSynced, hwm := procMemory(b, cmd.Process.Pid)
	// Serve the heavy pages: the whole list sorted by duration, an
	// experiment comparison of the 500 newest runs.
	var listTimes []time.Duration
	for range 3 {
		t0 := time.Now()
		res, err := http.Get(base + "/api/v1/namespaces/" + ns + "/runs?sort=-duration&phase=Succeeded&limit=500")
		if err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
		listTimes = append(listTimes, time.Since(t0))
	}
	t0 := time.Now()
	res, err := http.Get(base + "/api/v1/namespaces/" + ns + "/experiments/sweep/compare")
	if err != nil || res.StatusCode != http.StatusOK {
		b.Fatalf("compare: %v", err)
	}
	res.Body.Close()
	compare := time.Since(t0)
	rss, hwm2 := procMemory(b, cmd.Process.Pid)
	_ = list
	row := fmt.Sprintf("| memory of `kfstack-runtime ui` with %d finished runs in the cluster (each with a 9-node state) | RSS %d MiB after the sync (peak %d MiB), %d MiB after serving (peak %d MiB); listing all runs %s after start | run list of 500 filtered and sorted: %s; comparison of 500 runs with metrics: %s |",
		n+1, rssSynced>>20, hwm>>20, rss>>20, hwm2>>20, synced.Round(100*time.Millisecond), spread(listTimes), compare.Round(time.Millisecond))
	b.Log(row)
	uiResults["memory"] = row
	writeUIResults(b)
	// Leave the namespace's runs for nobody: delete them.
	_ = admin.DeleteAllOf(context.Background(), &v1alpha1.PipelineRun{}, client.InNamespace(ns))
}

// procMemory reads a process's resident memory and its peak, in bytes.
func procMemory(b *testing.B, pid int) (rss, hwm int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	return rss, hwm
}

// BenchmarkLogFollow measures how long a line a running task prints takes
// to reach a page following its log: the launcher brings the store up to
// date every second, the UI looks every 250 ms.
func BenchmarkLogFollow(b *testing.B) {
	var lat []time.Duration
	for i := range 10 {
		lat = append(lat, followOnce(b, i))
	}
	row := fmt.Sprintf("| log follow: the last line a task prints (local executor), from its printing to the followed log's event, 10 times | %s | the launcher writes it as the process exits; a line printed mid-run also waits for the launcher's next flush (every %s), so up to about %s more; the UI looks every %s |",
		spread(lat), "1 s", "1 s", "250 ms")
	b.Log(row)
	uiResults["follow"] = row
	writeUIResults(b)
}

func writeUIResults(b *testing.B) {
	var rows []string
	for _, k := range []string{"page", "memory", "follow"} {
		if r, ok := uiResults[k]; ok {
			rows = append(rows, r)
		}
	}
	section := "## Web UI (runtime/ui)\n\n" +
		"`go test ./runtime/ui -run XXX -bench . -benchtime 1x -timeout 60m` on the 2-core machine, with other helpers' builds and tests " +
		"sharing it (expect noise). The UI runs as its own service account; the controller runs tasks with the local executor. " +
		"Browser figures are Chromium's own Navigation and Resource Timing (headless, same machine).\n\n" +
		"| what | measured | also |\n| --- | --- | --- |\n" + strings.Join(rows, "\n") + "\n"
	if err := writeSection(filepath.Join("..", "..", "bench", "RESULTS.md"), "## Web UI", section); err != nil {
		b.Fatal(err)
	}
}

// writeSection replaces the section starting with heading in the results
// file, or appends it.
func writeSection(path, heading, section string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	text := string(data)
	if start := strings.Index(text, heading); start >= 0 {
		end := strings.Index(text[start+len(heading):], "\n## ")
		if end < 0 {
			text = text[:start]
		} else {
			text = text[:start] + text[start+len(heading)+end+1:]
		}
	}
	return os.WriteFile(path, []byte(strings.TrimRight(text, "\n")+"\n\n"+section), 0o644)
}

func freePort(tb testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
