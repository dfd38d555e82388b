package dex

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap"
	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/bootstraptest"
	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
)

var cluster *testcluster.Cluster

func TestMain(m *testing.M) {
	testcluster.RunMain(m, func(c *testcluster.Cluster) { cluster = c })
}

// A bcrypt hash of "password".
const hash = "$2y$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"

func options(version, repoURL string) Options {
	return Options{
		Version: version, Namespace: DefaultNamespace, Source: bootstrap.Source{Repository: repoURL},
		Issuer:          "https://kubeflow.example.com/dex",
		StaticClients:   []Client{{ID: "kubeflow-oidc-authservice", Name: "Kubeflow", Secret: "s3cr3t", RedirectURIs: []string{"https://kubeflow.example.com/oauth2/callback"}}},
		StaticPasswords: []Password{{Email: "user@example.com", Username: "user", UserID: "15841185641784", Hash: hash}},
		Connectors:      []Connector{{Type: "github", ID: "github", Name: "GitHub", Config: `{"clientID":"id","clientSecret":"secret","redirectURI":"https://kubeflow.example.com/dex/callback"}`}},
	}
}

// TestRealChart installs the upstream Dex chart with the rendered
// configuration, checks the configuration Dex will read, and upgrades.
func TestRealChart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deleteCRDTimeout)
	defer cancel()
	repoURL := bootstraptest.ServeCharts(t,
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "dex", "dex-0.23.1")},
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "dex", "dex-0.24.0")},
	)
	in, err := bootstrap.NewInstaller(cluster.Config, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Component(options("0.23.1", repoURL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Install(ctx, c); err != nil {
		t.Fatal(err)
	}
	secret, err := cluster.Client.CoreV1().Secrets(DefaultNamespace).Get(ctx, "dex", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var config map[string]any
	if err := yaml.Unmarshal(secret.Data["config.yaml"], &config); err != nil {
		t.Fatal(err)
	}
	if config["issuer"] != "https://kubeflow.example.com/dex" || config["enablePasswordDB"] != true {
		t.Errorf("dex config = %v", config)
	}
	if storage := config["storage"].(map[string]any); storage["type"] != "kubernetes" {
		t.Errorf("storage = %v", storage)
	}

	c, _ = Component(options("0.24.0", repoURL))
	status, err := in.Install(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if status.Releases[0].AppVersion != "2.44.0" {
		t.Errorf("after upgrade: %+v", status.Releases[0])
	}
	if err := in.Uninstall(ctx, c); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Options)
		want   string
	}{
		{"issuer not a URL", func(o *Options) { o.Issuer = "dex" }, `issuer "dex" is not an http(s) URL`},
		{"plain-text password", func(o *Options) { o.StaticPasswords[0].Hash = "password" }, "static_passwords[0].hash: not a bcrypt hash"},
		{"connector config not JSON", func(o *Options) { o.Connectors[0].Config = "clientID: x" }, "connectors[0].config: not a JSON object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := options(DefaultVersion, "http://unused")
			tc.mutate(&o)
			_, err := Component(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

// deleteCRDTimeout bounds a test that deletes CRDs: the API server's CRD
// finalizer meets "storage is (re)initializing" when a CRD is deleted
// seconds after it was created, backs off exponentially, and may delete
// it only about five minutes later.
const deleteCRDTimeout = 10 * time.Minute
