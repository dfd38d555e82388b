// Package bootstraptest serves charts from a Helm chart repository on
// loopback, so tests install charts through exactly the code path used
// against real repositories.
package bootstraptest

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"
)

// Chart is a chart directory to package, with the version and app version
// to stamp on it (upstream charts such as Istio's and cert-manager's carry
// placeholder versions that their release tooling rewrites).
type Chart struct {
	Dir        string
	Version    string
	AppVersion string
}

// ServeCharts packages the charts into a repository served over HTTP on
// loopback until the test ends, and returns its URL.
func ServeCharts(t testing.TB, charts ...Chart) string {
	t.Helper()
	dir := t.TempDir()
	for _, c := range charts {
		ch, err := loader.LoadDir(c.Dir)
		if err != nil {
			t.Fatalf("loading chart %s: %v", c.Dir, err)
		}
		if c.Version != "" {
			ch.Metadata.Version = c.Version
		}
		if c.AppVersion != "" {
			ch.Metadata.AppVersion = c.AppVersion
		}
		if _, err := chartutil.Save(ch, dir); err != nil {
			t.Fatalf("packaging chart %s: %v", c.Dir, err)
		}
	}
	server := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(server.Close)
	index, err := repo.IndexDirectory(dir, server.URL)
	if err != nil {
		t.Fatalf("indexing charts: %v", err)
	}
	index.SortEntries()
	if err := index.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		t.Fatalf("writing the repository index: %v", err)
	}
	return server.URL
}
