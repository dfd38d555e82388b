package bench

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/crds"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/schedule"
)

// skipDAG is a pipeline whose one task is skipped: a run of it succeeds
// without a pod or a process, so the benchmark measures the schedules,
// not the runs.
const skipDAG = `name: skip
tasks:
- name: never
  image: busybox
  command: ["true"]
  when: "false"
`

// BenchmarkSchedules1000 runs 1,000 schedules that each fire every minute
// for 5 minutes against a `kfstack-runtime controller` process, and
// reports the lateness of fires (scheduled time to the run seen created),
// the runs per fire, the API writes per fire and the controller's CPU and
// RSS. KFSTACK_BENCH_SCHEDULES, KFSTACK_BENCH_MINUTES and
// KFSTACK_BENCH_SPREAD=1 (fires spread over the minute's seconds instead of
// all at second 0) change it.
//
//	go test ./bench -run XXX -bench Schedules1000 -benchtime 1x -timeout 30m
func BenchmarkSchedules1000(b *testing.B) {
	n, minutes := envInt("KFSTACK_BENCH_SCHEDULES", 1000), envInt("KFSTACK_BENCH_MINUTES", 5)
	spread := os.Getenv("KFSTACK_BENCH_SPREAD") == "1"
	ctx := context.Background()
	ctrl.SetLogger(logr.Discard())
	c := benchClient(b)
	if err := crds.Install(ctx, c, time.Minute); err != nil {
		b.Fatal(err)
	}
	ns := fmt.Sprintf("sched-bench-%d", time.Now().Unix()%100000)
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		b.Fatal(err)
	}
	if err := c.Create(ctx, &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "skip"}, Spec: v1alpha1.PipelineSpec{DAG: skipDAG}}); err != nil {
		b.Fatal(err)
	}
	proc, metricsURL := startControllerProcess(b)

	// The runs as they appear, from a watch: lateness as a client sees it.
	seen := newRunWatch(b, ns)
	for i := range n {
		s := &v1alpha1.Schedule{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("s%04d", i)},
			Spec: v1alpha1.ScheduleSpec{
				Cron:                       []string{"* * * * *"},
				SuccessfulRunsHistoryLimit: ptr.To[int32](2),
				Run:                        v1alpha1.ScheduleRunTemplate{Pipeline: "skip", Parameters: nil},
			},
		}
		if spread {
			s.Spec.Cron, s.Spec.CronSeconds = []string{fmt.Sprintf("%d * * * * *", i%60)}, true
		}
		if err := c.Create(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	// Start counting at a whole minute once every schedule waits for it.
	waitAllScheduled(b, c, ns, n)
	start := time.Now().Truncate(time.Minute).Add(time.Minute)
	if time.Until(start) < 5*time.Second {
		start = start.Add(time.Minute)
	}
	time.Sleep(time.Until(start) - 2*time.Second)
	writes0, cpu0, client0 := apiWrites(b), processCPU(b, proc.Process.Pid), scrape(b, metricsURL)
	end := start.Add(time.Duration(minutes) * time.Minute)
	time.Sleep(time.Until(end) - 2*time.Second) // the window's fires: [start, end)
	// Counted before the fire at end, which is outside the window.
	cpu1, writes1, client1 := processCPU(b, proc.Process.Pid), apiWrites(b), scrape(b, metricsURL)
	time.Sleep(5 * time.Second) // the watch sees the runs of the window's last fires
	rss, hwm := processMemory(b, proc.Process.Pid)

	phases := runPhases(b, c, ns)
	lateness, perFire, missing := seen.lateness(start, end, n, spread)
	fires := n * minutes
	w := writes1.minus(writes0)
	schedWrites := w.pick("pipelineruns POST", "schedules/status PUT", "pipelineruns DELETE", "pipelineruns PATCH", "schedules PATCH")
	runWrites := w.pick("pipelineruns/status PUT")
	cpu := (cpu1 - cpu0) / (end.Sub(start) - 4*time.Second).Seconds()
	mode := "all at second 0 of each minute (`* * * * *`)"
	if spread {
		mode = "spread over the minute (six fields, schedule i at second i mod 60)"
	}
	var report strings.Builder
	fmt.Fprintf(&report, "## Schedules: %d schedules firing every minute for %d minutes (BenchmarkSchedules1000)\n\n", n, minutes)
	fmt.Fprintf(&report, "%s, %s. `kfstack-runtime controller` as a process with its defaults (no client-side rate limit, 16 schedules reconciled at once), a kubeconfig of the cluster's admin (so the API server's priority and fairness exempts it), runs of a pipeline whose one task is skipped (each run succeeds without a pod), `successfulRunsHistoryLimit: 2`; nothing else ran on the 2 cores.\n\n", time.Now().UTC().Format("2006-01-02"), mode)
	fmt.Fprintf(&report, "| measure | value |\n| --- | --- |\n")
	fmt.Fprintf(&report, "| fires in the window | %d (%d schedules × %d minutes) |\n", fires, n, minutes)
	fmt.Fprintf(&report, "| runs per fire | %s; fires without a run: %d |\n", perFire, missing)
	fmt.Fprintf(&report, "| lateness, scheduled time → run seen by a watch: p50 / p90 / p99 / max | %s |\n", lateness)
	fmt.Fprintf(&report, "| lateness, the controller's histogram (`on_time`): p50 / p99 (bucket bounds) | %s |\n", histogramQuantiles(client0, client1))
	fmt.Fprintf(&report, "| fires by result (`kfstack_schedule_fires_total`) | %s |\n", fireResults(client0, client1))
	fmt.Fprintf(&report, "| runs in the namespace at the end, by phase (history limits applied) | %s |\n", phases)
	fmt.Fprintf(&report, "| API writes per fire for schedules | %.2f (%s) |\n", schedWrites.total()/float64(fires), schedWrites.perFire(fires))
	fmt.Fprintf(&report, "| API writes per fire for the runs themselves (run controller) | %.2f (%s) |\n", runWrites.total()/float64(fires), runWrites.perFire(fires))
	fmt.Fprintf(&report, "| controller requests per fire, all verbs (its `rest_client_requests_total`) | %s |\n", clientRequests(client0, client1, fires))
	fmt.Fprintf(&report, "| controller CPU | %.1f%% of a core (%.1f ms per fire) |\n", cpu*100, (cpu1-cpu0)*1000/float64(fires))
	fmt.Fprintf(&report, "| controller RSS at the end / peak | %s / %s |\n", rss, hwm)
	fmt.Println(report.String())
	b.ReportMetric(float64(missing), "missing-fires")
	if os.Getenv("KFSTACK_BENCH_WRITE") != "" {
		heading := fmt.Sprintf("## Schedules: %d schedules firing every minute", n)
		if spread {
			heading += " (spread)"
		}
		section := strings.Replace(report.String(), fmt.Sprintf("## Schedules: %d schedules firing every minute for %d minutes", n, minutes), heading+fmt.Sprintf(" for %d minutes", minutes), 1)
		if err := writeSection(heading, section); err != nil {
			b.Fatal(err)
		}
	}
}

// runPhases counts the runs of the namespace by phase; a failed run fails
// the benchmark (the runs must succeed for it to measure what it says).
func runPhases(b *testing.B, c client.Client, ns string) string {
	list := &v1alpha1.PipelineRunList{}
	if err := c.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		b.Fatal(err)
	}
	counts := map[string]int{}
	for _, r := range list.Items {
		phase := string(r.Status.Phase)
		if phase == "" {
			phase = "none yet"
		}
		counts[phase]++
		if r.Status.Phase == v1alpha1.RunFailed && counts[phase] == 1 {
			b.Errorf("run %s failed: %s", r.Name, r.Status.Message)
		}
	}
	parts := make([]string, 0, len(counts))
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func benchClient(b *testing.B) client.Client {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(s); err != nil {
			b.Fatal(err)
		}
	}
	c, err := client.New(cluster.Config, client.Options{Scheme: s})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// startControllerProcess builds and starts `kfstack-runtime controller`
// with its metrics on a free port.
func startControllerProcess(b *testing.B) (*exec.Cmd, string) {
	root, err := testcluster.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "kfstack-runtime")
	build := exec.Command("go", "build", "-o", bin, "./runtime/cmd/kfstack-runtime")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building kfstack-runtime: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	// Plain HTTP metrics: the benchmark scrapes them without a token.
	args := []string{"controller", "--metrics-bind-address", addr, "--metrics-secure=false", "--health-probe-bind-address", "0", "--workdir", filepath.Join(dir, "work"),
		"--pipeline-root", "file://" + filepath.Join(dir, "artifacts")}
	if w := os.Getenv("KFSTACK_BENCH_SCHEDULE_WORKERS"); w != "" {
		args = append(args, "--max-concurrent-schedules="+w)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.KubeconfigPath)
	log, err := os.Create(filepath.Join(dir, "controller.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, "http://" + addr + "/metrics"
}

// waitAllScheduled waits until every schedule has its next fire times.
func waitAllScheduled(b *testing.B, c client.Client, ns string, n int) {
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(time.Second) {
		list := &v1alpha1.ScheduleList{}
		if err := c.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		ready := 0
		for _, s := range list.Items {
			if len(s.Status.NextScheduleTimes) > 0 {
				ready++
			}
		}
		if ready == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d schedules are scheduled", ready, n)
		}
	}
}

// runWatch records when each run was first seen.
type runWatch struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func newRunWatch(b *testing.B, ns string) *runWatch {
	// An informer, not one watch: the API server ends watches after a
	// while, and an informer resumes from where it was.
	ca, err := crcache.New(cluster.Config, crcache.Options{Scheme: benchClient(b).Scheme(), DefaultNamespaces: map[string]crcache.Config{ns: {}}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	go func() { _ = ca.Start(ctx) }()
	inf, err := ca.GetInformer(ctx, &v1alpha1.PipelineRun{})
	if err != nil {
		b.Fatal(err)
	}
	rw := &runWatch{seen: map[string]time.Time{}}
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		at := time.Now()
		if run, ok := obj.(*v1alpha1.PipelineRun); ok {
			rw.mu.Lock()
			if _, dup := rw.seen[run.Name]; !dup {
				rw.seen[run.Name] = at
			}
			rw.mu.Unlock()
		}
	}})
	if err != nil {
		b.Fatal(err)
	}
	return rw
}

// lateness summarises the runs of fires in [start, end): lateness
// percentiles, runs per fire (a run whose time is not one of its
// schedule's fire times would be a second one), fires without a run.
func (rw *runWatch) lateness(start, end time.Time, schedules int, spread bool) (string, string, int) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	var late []time.Duration
	byMinute := map[int64][]time.Duration{} // by the minute's unix seconds: time.Time keys differ by location
	stray := 0
	for name, at := range rw.seen {
		sched, _, _ := strings.Cut(name, "-")
		fire, ok := schedule.ScheduledTimeOf(sched, name)
		if !ok || fire.Before(start) || !fire.Before(end) {
			continue
		}
		i, _ := strconv.Atoi(strings.TrimPrefix(sched, "s"))
		want := 0
		if spread {
			want = i % 60
		}
		if fire.Second() != want {
			stray++
			continue
		}
		late = append(late, at.Sub(fire))
		minute := fire.Truncate(time.Minute).Unix()
		byMinute[minute] = append(byMinute[minute], at.Sub(fire))
	}
	missing := schedules*int(end.Sub(start)/time.Minute) - len(late)
	slices.Sort(late)
	q := func(p float64) time.Duration {
		if len(late) == 0 {
			return 0
		}
		return late[min(len(late)-1, int(p*float64(len(late))))]
	}
	var last time.Duration
	if len(late) > 0 {
		last = late[len(late)-1]
	}
	per := fmt.Sprintf("exactly 1 for %d fires (runs are named by their fire time); runs at times that are no fire time: %d", len(late), stray)
	var minutes []string
	for m := start; m.Before(end); m = m.Add(time.Minute) {
		l := byMinute[m.Unix()]
		slices.Sort(l)
		if len(l) == 0 {
			minutes = append(minutes, "none")
			continue
		}
		minutes = append(minutes, fmt.Sprintf("%s (%d)", round(l[len(l)-1]), len(l)))
	}
	return fmt.Sprintf("%s / %s / %s / %s; max by minute (runs): %s", round(q(0.5)), round(q(0.9)), round(q(0.99)), round(last), strings.Join(minutes, ", ")), per, missing
}

func round(d time.Duration) string { return d.Round(time.Millisecond).String() }

// writeCounts are the API server's write requests by "<resource>[/
// <subresource>] <verb>", from its apiserver_request_total metric.
type writeCounts map[string]float64

func apiWrites(b *testing.B) writeCounts {
	raw, err := cluster.Client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		b.Fatalf("reading the API server's metrics: %v", err)
	}
	out := writeCounts{}
	for _, line := range strings.Split(string(raw), "\n") {
		labels, value, ok := strings.Cut(strings.TrimPrefix(line, "apiserver_request_total{"), "} ")
		if !ok || !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		get := func(k string) string {
			_, rest, _ := strings.Cut(labels, k+`="`)
			v, _, _ := strings.Cut(rest, `"`)
			return v
		}
		verb := get("verb")
		if verb != "POST" && verb != "PUT" && verb != "PATCH" && verb != "DELETE" {
			continue
		}
		key := get("resource")
		if sub := get("subresource"); sub != "" {
			key += "/" + sub
		}
		if n, err := strconv.ParseFloat(value, 64); err == nil {
			out[key+" "+verb] += n
		}
	}
	return out
}

func (w writeCounts) minus(o writeCounts) writeCounts {
	out := writeCounts{}
	for k, v := range w {
		if d := v - o[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func (w writeCounts) total() float64 {
	var t float64
	for _, v := range w {
		t += v
	}
	return t
}

// pick keeps the given kinds.
func (w writeCounts) pick(kinds ...string) writeCounts {
	out := writeCounts{}
	for _, k := range kinds {
		if v, ok := w[k]; ok {
			out[k] = v
		}
	}
	return out
}

func (w writeCounts) perFire(fires int) string {
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, w[k]/float64(fires)))
	}
	return strings.Join(parts, ", ")
}

// processCPU is the process's user and system CPU seconds.
func processCPU(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command (in parentheses): utime and stime are the
	// 14th and 15th fields of the line.
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// processMemory is the process's resident set and its peak.
func processMemory(b *testing.B, pid int) (string, string) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	var rss, hwm string
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			hwm = strings.TrimSpace(v)
		}
	}
	return rss, hwm
}

// metricSamples are the Prometheus samples of the controller, by their
// name and labels as written.
type metricSamples map[string]float64

func scrape(b *testing.B, url string) metricSamples {
	var resp *http.Response
	var err error
	for range 50 {
		if resp, err = http.Get(url); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		b.Fatalf("scraping the controller: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("scraping the controller: %s", resp.Status)
	}
	var body strings.Builder
	buf := make([]byte, 64<<10)
	for {
		k, err := resp.Body.Read(buf)
		body.Write(buf[:k])
		if err != nil {
			break
		}
	}
	out := metricSamples{}
	for _, line := range strings.Split(body.String(), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] += v
		}
	}
	return out
}

// histogramQuantiles estimates p50 and p99 of the on_time lateness from
// the histogram's buckets (the bucket bound that holds the quantile).
func histogramQuantiles(before, after metricSamples) string {
	type bucket struct {
		le    float64
		count float64
	}
	var buckets []bucket
	for k, v := range after {
		if !strings.HasPrefix(k, "kfstack_schedule_fire_lateness_seconds_bucket{") || !strings.Contains(k, `fire="on_time"`) {
			continue
		}
		_, rest, _ := strings.Cut(k, `le="`)
		le, _, _ := strings.Cut(rest, `"`)
		bound, err := strconv.ParseFloat(le, 64)
		if le == "+Inf" {
			bound, err = 1e9, nil
		}
		if err == nil {
			buckets = append(buckets, bucket{bound, v - before[k]})
		}
	}
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].le < buckets[j].le })
	if len(buckets) == 0 || buckets[len(buckets)-1].count == 0 {
		return "no samples"
	}
	total := buckets[len(buckets)-1].count
	q := func(p float64) string {
		for _, b := range buckets {
			if b.count >= p*total {
				return fmt.Sprintf("≤ %gs", b.le)
			}
		}
		return "?"
	}
	return fmt.Sprintf("%s / %s (%.0f fires)", q(0.5), q(0.99), total)
}

func fireResults(before, after metricSamples) string {
	var parts []string
	for k, v := range after {
		if strings.HasPrefix(k, "kfstack_schedule_fires_total{") {
			_, rest, _ := strings.Cut(k, `result="`)
			r, _, _ := strings.Cut(rest, `"`)
			parts = append(parts, fmt.Sprintf("%s %.0f", r, v-before[k]))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func clientRequests(before, after metricSamples, fires int) string {
	byMethod := map[string]float64{}
	for k, v := range after {
		if strings.HasPrefix(k, "rest_client_requests_total{") {
			_, rest, _ := strings.Cut(k, `method="`)
			m, _, _ := strings.Cut(rest, `"`)
			byMethod[m] += v - before[k]
		}
	}
	var parts []string
	var total float64
	for _, m := range []string{"GET", "LIST", "WATCH", "POST", "PUT", "PATCH", "DELETE"} {
		if v := byMethod[m]; v > 0 {
			parts = append(parts, fmt.Sprintf("%s %.2f", m, v/float64(fires)))
			total += v
		}
	}
	return fmt.Sprintf("%.2f (%s)", total/float64(fires), strings.Join(parts, ", "))
}

// BenchmarkRunCreates1000 is the floor under BenchmarkSchedules1000: how
// long the API server of the local cluster takes to create 1,000
// PipelineRuns of the shape a schedule makes, with no controller running,
// from 16 clients at once (KFSTACK_BENCH_SCHEDULES and
// KFSTACK_BENCH_SCHEDULE_WORKERS change that), as the runs are seen by a
// watch. The same second's fires of 1,000 schedules cannot be on time by
// less than this.
//
//	go test ./bench -run XXX -bench RunCreates1000 -benchtime 1x
func BenchmarkRunCreates1000(b *testing.B) {
	n, workers := envInt("KFSTACK_BENCH_SCHEDULES", 1000), envInt("KFSTACK_BENCH_SCHEDULE_WORKERS", 16)
	ctx := context.Background()
	c := benchClient(b)
	if err := crds.Install(ctx, c, time.Minute); err != nil {
		b.Fatal(err)
	}
	ns := fmt.Sprintf("creates-bench-%d", time.Now().UnixNano()%1000000)
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		b.Fatal(err)
	}
	seen := newRunWatch(b, ns)
	time.Sleep(2 * time.Second) // the watch is up
	fire := time.Now().Truncate(time.Second).Add(2 * time.Second)
	time.Sleep(time.Until(fire))
	// KFSTACK_BENCH_PROFILE=FILE (with KFSTACK_CLUSTER_PROFILING=1) keeps the API server's CPU profile of
	// the creations (go tool pprof -top FILE).
	profiled := make(chan struct{})
	if out := os.Getenv("KFSTACK_BENCH_PROFILE"); out != "" {
		go func() {
			defer close(profiled)
			raw, err := cluster.Client.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", "3").DoRaw(ctx)
			if err == nil {
				err = os.WriteFile(out, raw, 0o644)
			}
			if err != nil {
				b.Errorf("profiling the API server: %v", err)
			}
		}()
	} else {
		close(profiled)
	}
	names := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range names {
				name := fmt.Sprintf("s%04d", i)
				run := &v1alpha1.PipelineRun{
					ObjectMeta: metav1.ObjectMeta{
						Namespace: ns, Name: schedule.RunName(name, fire),
						Labels:      map[string]string{v1alpha1.LabelSchedule: name},
						Annotations: map[string]string{v1alpha1.AnnotationScheduledTime: fire.UTC().Format(time.RFC3339), v1alpha1.AnnotationRunIndex: "1"},
					},
					Spec: v1alpha1.PipelineRunSpec{Pipeline: "skip", PipelineVersion: 1},
				}
				if err := c.Create(ctx, run); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := range n {
		names <- i
	}
	close(names)
	wg.Wait()
	created := time.Since(fire)
	<-profiled
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		seen.mu.Lock()
		got := len(seen.seen)
		seen.mu.Unlock()
		if got == n {
			break
		}
	}
	seen.mu.Lock()
	var late []time.Duration
	for _, at := range seen.seen {
		late = append(late, at.Sub(fire))
	}
	seen.mu.Unlock()
	slices.Sort(late)
	q := func(p float64) time.Duration { return late[min(len(late)-1, int(p*float64(len(late))))] }
	line := fmt.Sprintf("%d PipelineRuns created by %d clients in %s (%.0f/s); seen by a watch after p50 %s, p99 %s, max %s",
		n, workers, round(created), float64(n)/created.Seconds(), round(q(0.5)), round(q(0.99)), round(late[len(late)-1]))
	fmt.Println(line)
	b.ReportMetric(float64(n)/created.Seconds(), "creates/s")
	if os.Getenv("KFSTACK_BENCH_WRITE") != "" {
		heading := "## The API server's floor: 1,000 run creations at once (BenchmarkRunCreates1000)"
		section := fmt.Sprintf("%s\n\n%s, no controller running, the admin's kubeconfig, the shape of run a schedule makes: %s.\n"+
			"Fires of 1,000 schedules at the same second cannot all be on time by less than this on this machine.\n\n"+
			"```\nKFSTACK_BENCH_WRITE=1 go test ./bench -run XXX -bench RunCreates1000 -benchtime 1x\n```\n",
			heading, time.Now().UTC().Format("2006-01-02"), line)
		if err := writeSection(heading, section); err != nil {
			b.Fatal(err)
		}
	}
}
