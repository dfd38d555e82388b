// Package bench holds the benchmarks that need a whole local cluster.
// They print their figures and write them to bench/RESULTS.md; they never
// assert timings. Run: go test ./bench -run XXX -bench . -benchtime 1x
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap"
	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/bootstraptest"
	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/certmanager"
	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/dex"
	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/istio"
	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/knative"
	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
)

var cluster *testcluster.Cluster

func TestMain(m *testing.M) {
	testcluster.RunMain(m, func(c *testcluster.Cluster) { cluster = c })
}

func prerequisites(b *testing.B) []*bootstrap.Component {
	charts := bootstraptest.ServeCharts(b,
		bootstraptest.Chart{Dir: bootstraptest.Upstream(b, "cert-manager", "v1.21.1"), Version: "v1.21.1", AppVersion: "v1.21.1"},
		bootstraptest.Chart{Dir: bootstraptest.Upstream(b, "istio", "1.29.6", "base"), Version: "1.29.6"},
		bootstraptest.Chart{Dir: bootstraptest.Upstream(b, "istio", "1.29.6", "istio-discovery"), Version: "1.29.6"},
		bootstraptest.Chart{Dir: bootstraptest.Upstream(b, "dex", "dex-0.24.0")},
	)
	files := httptest.NewServer(http.FileServer(http.Dir(bootstraptest.Upstream(b, "knative"))))
	b.Cleanup(files.Close)
	source := bootstrap.Source{Repository: charts}
	dexComponent, err := dex.Component(dex.Options{Version: dex.DefaultVersion, Namespace: dex.DefaultNamespace, Source: source, Issuer: "https://kubeflow.example.com/dex"})
	if err != nil {
		b.Fatal(err)
	}
	knativeComponent, err := knative.Component(knative.Options{
		Version: "1.21.1", ServingURL: files.URL + "/serving-1.21.1/2-serving-core.yaml", NetIstioURL: files.URL + "/net-istio-1.21/net-istio.yaml",
	})
	if err != nil {
		b.Fatal(err)
	}
	return []*bootstrap.Component{
		certmanager.Component(certmanager.Options{
			Version: "v1.21.1", Namespace: certmanager.DefaultNamespace, Source: source,
			Values: map[string]any{"startupapicheck": map[string]any{"enabled": false}},
		}),
		istio.Component(istio.Options{Version: "1.29.6", Namespace: istio.DefaultNamespace, Source: source}),
		dexComponent,
		knativeComponent,
	}
}

// BenchmarkInstallPrerequisites installs cert-manager, Istio, Dex and
// Knative Serving (real upstream charts and release YAML) with the
// dependency graph in parallel and forced serial, and reports wall time and
// API requests of each. It measures two clusters: the shared one, whose
// simulated pods are Ready at once (so installing is all CPU: rendering
// charts, encoding the large CRDs), and one whose pods become Ready
// podStartDelay after they are bound, as on a real cluster where images
// are pulled and containers start. Each cluster gets a warm-up install
// first (chart caches, the API server's first CRDs), then rounds in
// alternating order (serial first, then parallel first), so that neither
// mode always runs on a warmer machine.
func BenchmarkInstallPrerequisites(b *testing.B) {
	const podStartDelay = 10 * time.Second
	components := prerequisites(b)
	delayed, err := testcluster.Start(context.Background(), testcluster.Options{PodStartDelay: podStartDelay, Progress: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(delayed.Stop)
	rows := []installRow{
		measureInstalls(b, cluster.Config, components, "instant", "pods Ready at once (CPU-bound)"),
		measureInstalls(b, delayed.Config, components, "delayed", fmt.Sprintf("pods Ready %s after binding", podStartDelay)),
	}
	var table strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&table, "| %s | %s | %s | %.0f%% | %.0f / %.0f |\n", r.cluster, seconds(r.parallel), seconds(r.serial), mean(r.parallel)/mean(r.serial)*100, r.parallelRequests, r.serialRequests)
		b.ReportMetric(mean(r.parallel), "parallel-s-"+r.key)
		b.ReportMetric(mean(r.serial), "serial-s-"+r.key)
	}
	report := fmt.Sprintf(`## Bootstrap: all prerequisites (BenchmarkInstallPrerequisites)

cert-manager v1.21.1, Istio 1.29.6 (base, istiod), Dex chart 0.24.0 and Knative Serving 1.21.1 with
net-istio, from the real upstream charts and release YAML served on loopback, onto local KWOK
clusters (2 cores), waiting until every object is ready; each install is followed by an uninstall.
After a warm-up install, %d rounds per cluster in alternating order (serial first, then parallel
first); wall times are the mean (and each round's value).

| cluster | dependency graph, parallel | forced serial | parallel / serial | API requests (parallel / serial) |
| --- | --- | --- | --- | --- |
%s
On KWOK with pods Ready at once nothing waits: the installs are CPU-bound and two cores gain little
from running them side by side. With a realistic pod start-up the installs wait on rollouts, and the
graph (cert-manager beside Istio; Dex beside Knative after Istio) saves whole waves of waiting.
Measured %s.
`, installRounds, table.String(), time.Now().UTC().Format("2006-01-02"))
	fmt.Print(report)
	if err := writeSection("## Bootstrap:", report); err != nil {
		b.Fatal(err)
	}
}

// installRounds is how many parallel and serial installs are measured on
// each cluster after the warm-up.
const installRounds = 2

type installRow struct {
	key, cluster                     string
	parallel, serial                 []float64 // seconds, one per round
	parallelRequests, serialRequests float64   // of the last round
}

// measureInstalls installs and uninstalls the components on one cluster:
// a warm-up, then installRounds of each mode in alternating order.
func measureInstalls(b *testing.B, config *rest.Config, components []*bootstrap.Component, key, name string) installRow {
	ctx := context.Background()
	// What the installer waits for goes to the benchmark's log (shown
	// with -v or when it fails), so a stuck install says what it waits on.
	logf := func(_ context.Context, msg string, fields map[string]any) {
		b.Logf("%s %s: %s %v", time.Now().Format("15:04:05.000"), key, msg, fields)
	}
	in, err := bootstrap.NewInstaller(config, b.TempDir(), logf)
	if err != nil {
		b.Fatal(err)
	}
	once := func(parallel bool) (float64, float64) {
		before, err := apiRequests(config)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := in.InstallAll(ctx, components, parallel); err != nil {
			b.Fatalf("%s: installing (parallel %v): %v", name, parallel, err)
		}
		elapsed := time.Since(start).Seconds()
		after, err := apiRequests(config)
		if err != nil {
			b.Fatal(err)
		}
		if err := in.UninstallAll(ctx, components); err != nil {
			b.Fatalf("%s: uninstalling: %v", name, err)
		}
		return elapsed, after - before
	}
	once(true) // warm-up
	row := installRow{key: key, cluster: name}
	for round := 0; round < installRounds; round++ {
		order := []bool{false, true}
		if round%2 == 1 {
			order = []bool{true, false}
		}
		for _, parallel := range order {
			elapsed, requests := once(parallel)
			if parallel {
				row.parallel, row.parallelRequests = append(row.parallel, elapsed), requests
			} else {
				row.serial, row.serialRequests = append(row.serial, elapsed), requests
			}
		}
	}
	return row
}

func mean(xs []float64) float64 {
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// seconds formats a mean and its rounds: "21.3 s (20.1, 22.5)".
func seconds(xs []float64) string {
	each := make([]string, len(xs))
	for i, x := range xs {
		each[i] = fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.1f s (%s)", mean(xs), strings.Join(each, ", "))
}

// apiRequests sums apiserver_request_total from the API server's metrics.
func apiRequests(config *rest.Config) (float64, error) {
	client, err := rest.HTTPClientFor(config)
	if err != nil {
		return 0, err
	}
	resp, err := client.Get(config.Host + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	total := 0.0
	scanner := bufio.NewScanner(resp.Body)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		line := scanner.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
		if err != nil {
			return 0, err
		}
		total += v
	}
	return total, scanner.Err()
}

// resultsFile is where the benchmarks write their figures.
const resultsFile = "RESULTS.md"

// writeSection replaces the section starting with heading in the results
// file, or appends it.
func writeSection(heading, section string) error {
	data, err := os.ReadFile(resultsFile)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	text := string(data)
	if text == "" {
		text = "# Benchmark results\n\nWritten by the benchmarks in this folder; figures from one run on the machine named.\n\n"
	}
	if start := strings.Index(text, heading); start >= 0 {
		end := strings.Index(text[start+len(heading):], "\n## ")
		if end < 0 {
			text = text[:start]
		} else {
			text = text[:start] + text[start+len(heading)+end+1:]
		}
	}
	return os.WriteFile(resultsFile, []byte(strings.TrimRight(text, "\n")+"\n\n"+section), 0o644)
}
