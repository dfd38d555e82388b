// Package bootstraptest serves charts from a Helm chart repository on
// loopback, so tests install charts through exactly the code path used
// against real repositories.
package bootstraptest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/provenance"
	"helm.sh/helm/v3/pkg/repo"
)

// Chart is a chart directory to package, with the version and app version
// to stamp on it (upstream charts such as Istio's and cert-manager's carry
// placeholder versions that their release tooling rewrites).
type Chart struct {
	Dir        string
	Version    string
	AppVersion string
	// SignedBy, when set, signs the packaged chart (a .prov file beside
	// the archive, as `helm package --sign` writes it).
	SignedBy *provenance.Signatory
	// Tamper changes the archive after it was signed (its values differ),
	// as an attacker who can write the repository but not sign would.
	Tamper bool
}

// SigningKey makes an OpenPGP key for signing test charts, and writes its
// public half as a binary keyring (what `gpg --export` writes) in a
// temporary directory. It returns the signer and the keyring's path.
func SigningKey(t testing.TB, name string) (*provenance.Signatory, string) {
	t.Helper()
	entity, err := openpgp.NewEntity(name, "test chart signer", name+"@example.com", nil)
	if err != nil {
		t.Fatalf("generating a signing key: %v", err)
	}
	var ring bytes.Buffer
	if err := entity.Serialize(&ring); err != nil {
		t.Fatalf("writing the public keyring: %v", err)
	}
	path := filepath.Join(t.TempDir(), "pubring.gpg")
	if err := os.WriteFile(path, ring.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return &provenance.Signatory{Entity: entity, KeyRing: openpgp.EntityList{entity}}, path
}

// Package writes the chart as an archive into dir, signed and tampered
// with as c says, and returns the archive's path.
func Package(t testing.TB, c Chart, dir string) string {
	t.Helper()
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
	path, err := chartutil.Save(ch, dir)
	if err != nil {
		t.Fatalf("packaging chart %s: %v", c.Dir, err)
	}
	if c.SignedBy != nil {
		sig, err := c.SignedBy.ClearSign(path)
		if err != nil {
			t.Fatalf("signing chart %s: %v", path, err)
		}
		if err := os.WriteFile(path+".prov", []byte(sig), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if c.Tamper {
		for _, f := range ch.Raw {
			if f.Name == "values.yaml" {
				f.Data = append(f.Data, []byte("\ntampered: true\n")...)
			}
		}
		if _, err := chartutil.Save(ch, dir); err != nil {
			t.Fatalf("tampering with chart %s: %v", path, err)
		}
	}
	return path
}

// ServeCharts packages the charts (signed, when they say so) into a
// repository served over HTTP on loopback until the test ends, and returns
// its URL.
func ServeCharts(t testing.TB, charts ...Chart) string {
	t.Helper()
	dir := t.TempDir()
	for _, c := range charts {
		Package(t, c, dir)
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
