package mpijob_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
)

// BenchmarkMPIJobs20x8 submits 20 MPIJobs of a launcher and 8 workers at
// once (cleanPodPolicy Running, as upstream's examples) to the in-process
// controller at its defaults (no client-side rate limit, 8 jobs reconciled
// at once) on KWOK, whose pods run at once and whose launcher pods end as
// soon as they run, and reports the drain time (first submission → last
// job Succeeded), each job's creation → Succeeded (median, 99th
// percentile) and the API server's writes per job, from
// apiserver_request_total before and after.
func BenchmarkMPIJobs20x8(b *testing.B) {
	const jobs, workers = 20, 8
	for range b.N {
		ctx := context.Background()
		ns := namespace(b)
		cfg := rest.CopyConfig(cluster.Config)
		cfg.QPS, cfg.Burst = 5000, 10000
		submit, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
		if err != nil {
			b.Fatal(err)
		}
		before := apiWrites(b)
		created := make([]time.Time, jobs)
		start := time.Now()
		var wg sync.WaitGroup
		for i := range jobs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				job := newJob(ns, fmt.Sprintf("bench-%02d", i), workers, func(j *kubeflow.MPIJob) {
					p := kubeflow.CleanPodPolicyRunning
					j.Spec.RunPolicy.CleanPodPolicy = &p
				})
				created[i] = time.Now()
				if err := submit.Create(ctx, job); err != nil {
					b.Error(err)
				}
			}(i)
		}
		wg.Wait()
		done := map[string]time.Time{}
		deadline := time.Now().Add(10 * time.Minute)
		for len(done) < jobs {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d jobs succeeded after 10 minutes", len(done), jobs)
			}
			list := &kubeflow.MPIJobList{}
			if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			for _, j := range list.Items {
				if j.Status.IsTrue(kubeflow.JobFailed) {
					b.Fatalf("job %s failed: %s", j.Name, describe(&j))
				}
				if _, seen := done[j.Name]; !seen && j.Status.IsTrue(kubeflow.JobSucceeded) {
					done[j.Name] = now
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		drain := time.Since(start)
		// Workers go with cleanPodPolicy: wait for that too before counting
		// the writes, so that their deletions are in.
		waitFor(b, 2*time.Minute, "workers cleaned up", func() (bool, string) {
			pods := &corev1.PodList{}
			if err := k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{kubeflow.JobRoleLabel: "worker"}); err != nil {
				return false, err.Error()
			}
			live := 0
			for _, p := range pods.Items {
				if p.DeletionTimestamp == nil {
					live++
				}
			}
			return live == 0, fmt.Sprintf("%d workers left", live)
		})
		writes := apiWrites(b).minus(before)
		var lat []time.Duration
		for i := range jobs {
			lat = append(lat, done[fmt.Sprintf("bench-%02d", i)].Sub(created[i]))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		// The controller's own writes: the objects only it makes or
		// changes, its events, and one deletion per worker (cleanPodPolicy
		// Running; it deletes a pod once). Pod deletions in the counters
		// also hold KWOK's final ones; pod creations the Job controller's
		// launcher pods.
		events := &eventsv1.EventList{}
		if err := k8s.List(ctx, events, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		ours := 0.0
		for _, e := range events.Items {
			if e.ReportingController == "mpi-job-controller" {
				ours++
			}
		}
		mine := writeCounts{"events (controller's)": ours, "pods DELETE (workers)": float64(jobs * workers), "pods POST (workers)": float64(jobs * workers)}
		for _, k := range []string{"mpijobs/status PUT", "services POST", "configmaps POST", "configmaps PUT", "secrets POST", "jobs POST", "podgroups POST"} {
			if v, ok := writes[k]; ok {
				mine[k] = v
			}
		}
		b.ReportMetric(drain.Seconds(), "drain-s")
		b.ReportMetric(lat[len(lat)/2].Seconds(), "p50-s")
		b.ReportMetric(lat[len(lat)*99/100].Seconds(), "p99-s")
		b.ReportMetric(mine.total()/jobs, "ctrl-writes/job")
		b.ReportMetric(writes.total()/jobs, "all-writes/job")
		fmt.Fprintf(os.Stderr, "%d MPIJobs x (1 launcher + %d workers): drained in %s; created -> Succeeded p50 %s, p99 %s (first %s, last %s)\n",
			jobs, workers, drain.Round(time.Millisecond), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*99/100].Round(time.Millisecond), lat[0].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
		fmt.Fprintf(os.Stderr, "controller writes a job %.1f: %s\n", mine.total()/jobs, mine.per(jobs))
		fmt.Fprintf(os.Stderr, "all API writes a job %.1f: %s\n", writes.total()/jobs, writes.per(jobs))
	}
}

// writeCounts are API writes by "resource[/subresource] VERB".
type writeCounts map[string]float64

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
	t := 0.0
	for _, v := range w {
		t += v
	}
	return t
}

func (w writeCounts) per(n int) string {
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return w[keys[i]] > w[keys[j]] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, w[k]/float64(n)))
	}
	return strings.Join(parts, ", ")
}

// apiWrites scrapes the API server's write counters.
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
			_, rest, ok := strings.Cut(labels, k+`="`)
			if !ok {
				return ""
			}
			v, _, _ := strings.Cut(rest, `"`)
			return v
		}
		verb, res, sub := get("verb"), get("resource"), get("subresource")
		if verb != "POST" && verb != "PUT" && verb != "PATCH" && verb != "DELETE" {
			continue
		}
		key := res
		if sub != "" {
			key += "/" + sub
		}
		var n float64
		if _, err := fmt.Sscan(value, &n); err == nil {
			out[key+" "+verb] += n
		}
	}
	return out
}
