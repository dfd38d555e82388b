package controller_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

const oneStepDAG = `name: one-step
tasks:
- name: step
  image: registry.example/step:1
  command: [step]
`

// BenchmarkRuns1000 submits 1,000 one-step runs at once (pod executor, a
// pod each on the KWOK nodes, ended by KWOK's stage as soon as it runs)
// and reports the throughput in runs per minute and the API server's
// writes per run, from apiserver_request_total before and after: all of
// them by resource and verb, and the controller's own (pod creations, run
// status updates, its events).
func BenchmarkRuns1000(b *testing.B) { benchRuns(b, 1000) }

func benchRuns(b *testing.B, n int) {
	for i := 0; i < b.N; i++ {
		ctx := context.Background()
		ns := namespace(b)
		startPrograms(b, ns, succeed)
		createPipeline(b, ns, "one-step", "", oneStepDAG)
		// Submitting must not be throttled on the test's side.
		cfg := rest.CopyConfig(cluster.Config)
		cfg.QPS, cfg.Burst = 5000, 10000
		submit, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
		if err != nil {
			b.Fatal(err)
		}
		// Wait until the pipeline's version exists, so that runs do not
		// wait for it.
		waitVersion(b, ns, "one-step")
		tl := watchTimeline(b, ns)
		before := apiWrites(b)
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for j := w; j < n; j += 16 {
					r := &v1alpha1.PipelineRun{
						ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("r%04d", j)},
						Spec:       v1alpha1.PipelineRunSpec{Pipeline: "one-step", Executor: v1alpha1.ExecutorPod},
					}
					if err := submit.Create(ctx, r); err != nil {
						errs <- err
						return
					}
				}
			}(w)
		}
		wg.Wait()
		submitted := time.Since(start)
		close(errs)
		for err := range errs {
			b.Fatalf("submitting runs: %v", err)
		}
		// Completions as a poll of the list sees them (every 100 ms).
		var doneAt []time.Duration
		seen := map[string]bool{}
		deadline := time.Now().Add(20 * time.Minute)
		for len(seen) < n {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d runs finished after 20 minutes", len(seen), n)
			}
			time.Sleep(100 * time.Millisecond)
			list := &v1alpha1.PipelineRunList{}
			if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
				b.Fatal(err)
			}
			at := time.Since(start)
			for _, r := range list.Items {
				if !r.Status.Phase.Terminal() || seen[r.Name] {
					continue
				}
				if r.Status.Phase != v1alpha1.RunSucceeded {
					b.Fatalf("run %s: %s", r.Name, describe(&r))
				}
				seen[r.Name] = true
				doneAt = append(doneAt, at)
			}
		}
		total := time.Since(start)
		writes := apiWrites(b).minus(before)
		tl.stop()
		events := &eventsv1.EventList{}
		if err := k8s.List(ctx, events, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		byController := map[string]int{}
		for _, e := range events.Items {
			c := e.ReportingController
			if c == "" {
				c = e.DeprecatedSource.Component
			}
			byController[c]++
		}
		ctrlWrites := writes.controller().total()
		ctrlEvents := float64(byController["kfstack-run"])
		sort.Slice(doneAt, func(i, j int) bool { return doneAt[i] < doneAt[j] })
		perMin := float64(n) / total.Minutes()
		b.ReportMetric(perMin, "runs/min")
		b.ReportMetric(ctrlWrites/float64(n), "ctrl-writes/run")
		b.ReportMetric((ctrlWrites+ctrlEvents)/float64(n), "ctrl-writes+events/run")
		b.ReportMetric(writes.total()/float64(n), "all-writes/run")
		fmt.Fprintf(os.Stderr, "%d one-step runs; %s\n", n, controllerSettings)
		fmt.Fprintf(os.Stderr, "%d one-step runs: submitted in %s; all finished after %s = %.0f runs/min (first %s, median %s, 99th %s)\n",
			n, submitted.Round(time.Millisecond), total.Round(time.Millisecond), perMin,
			doneAt[0].Round(time.Millisecond), doneAt[len(doneAt)/2].Round(time.Millisecond), doneAt[len(doneAt)*99/100].Round(time.Millisecond))
		// Where a run's time goes, as one watch of pods and one of runs see
		// it: the controller (run created -> pod created; pod ended -> run
		// finished), the scheduler and KWOK (pod created -> Running), the
		// simulated program and KWOK's stage (Running -> ended).
		var toPod, toRunning, toEnd, toDone []time.Duration
		missed := 0
		for pod, created := range tl.created {
			run := tl.run[pod]
			rc, running, ended, rd := tl.runCreated[run], tl.running[pod], tl.ended[pod], tl.runDone[run]
			if rc.IsZero() || running.IsZero() || ended.IsZero() || rd.IsZero() {
				missed++ // a state the informer did not see (it moved on in between)
				continue
			}
			toPod = append(toPod, created.Sub(rc))
			toRunning = append(toRunning, running.Sub(created))
			toEnd = append(toEnd, ended.Sub(running))
			toDone = append(toDone, rd.Sub(ended))
		}
		if missed > 0 {
			fmt.Fprintf(os.Stderr, "%d one-step runs: %d pods left out of the breakdown (a state unseen)\n", n, missed)
		}
		fmt.Fprintf(os.Stderr, "%d one-step runs, p50/p99: run created -> pod created %s; pod created -> Running %s; Running -> ended %s; pod ended -> run finished %s\n",
			n, quantiles(toPod), quantiles(toRunning), quantiles(toEnd), quantiles(toDone))
		fmt.Fprintf(os.Stderr, "%d one-step runs: controller writes %.2f a run (%s) + %.2f events a run = %.2f\n",
			n, ctrlWrites/float64(n), perRun(writes.controller(), n), ctrlEvents/float64(n), (ctrlWrites+ctrlEvents)/float64(n))
		fmt.Fprintf(os.Stderr, "%d one-step runs: all API writes %.2f a run: %s; event objects by reporter %v\n",
			n, writes.total()/float64(n), perRun(writes, n), byController)
	}
}

// perRun formats write counts divided by n, largest first.
func perRun(w writeCounts, n int) string {
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return w[keys[i]] > w[keys[j]] })
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, w[k]/float64(n)))
	}
	return strings.Join(parts, ", ")
}

// waitVersion waits until the pipeline has its first version.
func waitVersion(b *testing.B, ns, name string) {
	deadline := time.Now().Add(time.Minute)
	for {
		p := &v1alpha1.Pipeline{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
			b.Fatal(err)
		}
		if p.Status.LatestVersion > 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("pipeline %s has no version after a minute", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// quantiles formats the median and the 99th percentile.
func quantiles(d []time.Duration) string {
	if len(d) == 0 {
		return "-"
	}
	sortDurations(d)
	return fmt.Sprintf("%s/%s", d[len(d)/2].Round(time.Millisecond), d[len(d)*99/100].Round(time.Millisecond))
}
