// Package bench holds the benchmarks that need a whole local cluster.
// They print their figures and write them to bench/RESULTS.md; they never
// assert timings. Run: go test ./bench -run XXX -bench . -benchtime 1x
package bench

import (
	"bufio"
	"context"
	"fmt"
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
// dependency graph in parallel and forced serial, and reports wall time
// and API requests of each.
func BenchmarkInstallPrerequisites(b *testing.B) {
	ctx := context.Background()
	components := prerequisites(b)
	in, err := bootstrap.NewInstaller(cluster.Config, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	results := map[bool][2]float64{}
	for i := 0; i < b.N; i++ {
		for _, parallel := range []bool{true, false} {
			before, err := apiRequests(cluster.Config)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if _, err := in.InstallAll(ctx, components, parallel); err != nil {
				b.Fatal(err)
			}
			elapsed := time.Since(start)
			after, err := apiRequests(cluster.Config)
			if err != nil {
				b.Fatal(err)
			}
			results[parallel] = [2]float64{elapsed.Seconds(), after - before}
			if err := in.UninstallAll(ctx, components); err != nil {
				b.Fatal(err)
			}
		}
	}
	par, ser := results[true], results[false]
	b.ReportMetric(par[0], "parallel-s")
	b.ReportMetric(ser[0], "serial-s")
	b.ReportMetric(par[0]/ser[0]*100, "parallel-%-of-serial")
	b.ReportMetric(par[1], "parallel-api-requests")
	b.ReportMetric(ser[1], "serial-api-requests")
	report := fmt.Sprintf(`## Bootstrap: all prerequisites (BenchmarkInstallPrerequisites)

cert-manager v1.21.1, Istio 1.29.6 (base, istiod), Dex chart 0.24.0 and Knative Serving 1.21.1 with
net-istio, from the real upstream charts and release YAML served on loopback, onto the local KWOK
cluster (2 cores), waiting until every object is ready.

| mode | wall time | API requests |
| --- | --- | --- |
| dependency graph, parallel | %.1f s | %.0f |
| forced serial | %.1f s | %.0f |

Parallel takes %.0f%% of serial. Measured %s.
`, par[0], par[1], ser[0], ser[1], par[0]/ser[0]*100, time.Now().UTC().Format("2006-01-02"))
	fmt.Print(report)
	if err := writeSection("RESULTS.md", "## Bootstrap:", report); err != nil {
		b.Fatal(err)
	}
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

// writeSection replaces the section starting with heading in the results
// file, or appends it.
func writeSection(path, heading, section string) error {
	data, err := os.ReadFile(path)
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
	return os.WriteFile(path, []byte(strings.TrimRight(text, "\n")+"\n\n"+section), 0o644)
}
