package provider

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// fieldManager is the server-side apply field manager of everything the
// provider writes.
const fieldManager = "kfstack"

// connection is what resources get from the provider: the cluster's
// settings, resolved lazily into clients on first use, so that the
// provider can be configured from values that are unknown during plan
// (a cluster created in the same apply) and from a kubeconfig that does
// not exist yet.
type connection struct {
	// unknown is set when a connection value was unknown at configure
	// time: resources then plan without contacting the cluster.
	unknown bool
	config  providerModel
	// google holds the Google credentials and the GKE API client of the
	// kubeflow_gke_* resources and of the gke block, built on first use.
	google *googleConnection
	// googleUnknown is set when a value of the google block is unknown.
	googleUnknown bool

	once    sync.Once
	clients *clients
	err     error
}

// clients are the Kubernetes clients of a known connection.
type clients struct {
	host      string
	rest      *rest.Config
	core      kubernetes.Interface
	dynamic   dynamic.Interface
	discovery discovery.CachedDiscoveryInterface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	// profiles is the snapshot that the Reads of profiles share.
	profiles profileCache
}

// newConnection records the configuration. It never contacts the cluster.
func newConnection(ctx context.Context, config providerModel) *connection {
	g := &googleConnection{config: withGoogleEnvironment(config.Google)}
	googleUnknown := config.Google != nil && anyUnknown(config.Google.Project, config.Google.Credentials, config.Google.AccessToken,
		config.Google.ContainerEndpoint, config.Google.ContainerEndpointCACert, config.Google.ContainerInsecure)
	if hasUnknown(config) || googleUnknown {
		tflog.Info(ctx, "a connection value is unknown until apply; resources plan without contacting the cluster")
		return &connection{unknown: true, config: config, google: g, googleUnknown: googleUnknown}
	}
	return &connection{config: withEnvironment(config), google: g}
}

func anyUnknown(values ...interface{ IsUnknown() bool }) bool {
	for _, v := range values {
		if v.IsUnknown() {
			return true
		}
	}
	return false
}

func hasUnknown(c providerModel) bool {
	values := []interface{ IsUnknown() bool }{
		c.Host, c.ClusterCACertificate, c.Token, c.ClientCertificate, c.ClientKey,
		c.Insecure, c.ConfigPath, c.ConfigContext,
	}
	if c.Exec != nil {
		values = append(values, c.Exec.APIVersion, c.Exec.Command, c.Exec.Args, c.Exec.Env)
	}
	if c.GKE != nil {
		values = append(values, c.GKE.Project, c.GKE.Location, c.GKE.Cluster)
	}
	for _, v := range values {
		if v.IsUnknown() {
			return true
		}
	}
	return false
}

// withEnvironment fills unset attributes from the KUBE_* variables that
// terraform-provider-kubernetes reads too.
func withEnvironment(c providerModel) providerModel {
	if c.GKE != nil {
		// The gke block is the whole connection: KUBE_* do not mix in.
		return c
	}
	fromEnv := func(v types.String, name string) types.String {
		if v.IsNull() {
			if env, ok := os.LookupEnv(name); ok && env != "" {
				return types.StringValue(env)
			}
		}
		return v
	}
	c.Host = fromEnv(c.Host, "KUBE_HOST")
	c.ClusterCACertificate = fromEnv(c.ClusterCACertificate, "KUBE_CLUSTER_CA_CERT_DATA")
	c.Token = fromEnv(c.Token, "KUBE_TOKEN")
	c.ClientCertificate = fromEnv(c.ClientCertificate, "KUBE_CLIENT_CERT_DATA")
	c.ClientKey = fromEnv(c.ClientKey, "KUBE_CLIENT_KEY_DATA")
	c.ConfigPath = fromEnv(c.ConfigPath, "KUBE_CONFIG_PATH")
	c.ConfigContext = fromEnv(c.ConfigContext, "KUBE_CTX")
	if c.Insecure.IsNull() {
		if b, err := strconv.ParseBool(os.Getenv("KUBE_INSECURE")); err == nil {
			c.Insecure = types.BoolValue(b)
		}
	}
	return c
}

// get returns the clients, building them on first use.
func (c *connection) get(ctx context.Context) (*clients, error) {
	if c.unknown {
		return nil, errors.New("the provider's connection settings are not known yet; they are known only once the resources they come from are applied")
	}
	c.once.Do(func() {
		c.clients, c.err = c.build(ctx)
	})
	return c.clients, c.err
}

func (c *connection) build(ctx context.Context) (*clients, error) {
	cfg := c.config
	if cfg.GKE != nil {
		restConfig, err := c.gkeRESTConfig(ctx)
		if err != nil {
			return nil, err
		}
		return newClients(restConfig)
	}
	rules := &clientcmd.ClientConfigLoadingRules{}
	if path := cfg.ConfigPath.ValueString(); path != "" {
		expanded, err := expandHome(path)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(expanded); err != nil {
			return nil, fmt.Errorf("reading config_path %s: %w", path, err)
		}
		rules.ExplicitPath = expanded
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: cfg.ConfigContext.ValueString()}
	if v := cfg.Host.ValueString(); v != "" {
		overrides.ClusterInfo.Server = v
	}
	if v := cfg.ClusterCACertificate.ValueString(); v != "" {
		overrides.ClusterInfo.CertificateAuthorityData = []byte(v)
	}
	if cfg.Insecure.ValueBool() {
		overrides.ClusterInfo.InsecureSkipTLSVerify = true
	}
	if v := cfg.Token.ValueString(); v != "" {
		overrides.AuthInfo.Token = v
	}
	if v := cfg.ClientCertificate.ValueString(); v != "" {
		overrides.AuthInfo.ClientCertificateData = []byte(v)
	}
	if v := cfg.ClientKey.ValueString(); v != "" {
		overrides.AuthInfo.ClientKeyData = []byte(v)
	}
	if e := cfg.Exec; e != nil {
		exec := &clientcmdapi.ExecConfig{
			APIVersion:      e.APIVersion.ValueString(),
			Command:         e.Command.ValueString(),
			InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
		}
		if diags := e.Args.ElementsAs(ctx, &exec.Args, false); diags.HasError() {
			return nil, errors.New("reading exec.args")
		}
		env := map[string]string{}
		if diags := e.Env.ElementsAs(ctx, &env, false); diags.HasError() {
			return nil, errors.New("reading exec.env")
		}
		for name, value := range env {
			exec.Env = append(exec.Env, clientcmdapi.ExecEnvVar{Name: name, Value: value})
		}
		overrides.AuthInfo.Exec = exec
	}

	var restConfig *rest.Config
	if rules.ExplicitPath == "" && overrides.ClusterInfo.Server == "" {
		// Nothing configured: inside a cluster, use its service account.
		inCluster, err := rest.InClusterConfig()
		if err != nil {
			return nil, errors.New("no cluster connection is configured: set host (with credentials) or config_path in the provider block, or KUBE_HOST / KUBE_CONFIG_PATH")
		}
		restConfig = inCluster
	} else {
		loaded, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("building the cluster connection: %w", err)
		}
		restConfig = loaded
	}
	return newClients(restConfig)
}

// newClients builds the clients of a REST config. Client-side rate
// limiting is off (QPS -1), as in controller-runtime: the API server's
// priority and fairness queues or refuses (429, retried by client-go)
// what it cannot take, instead of every refresh waiting at 50 requests a
// second whatever the server could serve.
func newClients(restConfig *rest.Config) (*clients, error) {
	restConfig.UserAgent = "terraform-provider-kubeflow"
	restConfig.QPS, restConfig.Burst = -1, 0

	core, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return nil, fmt.Errorf("building a client for %s: %w", restConfig.Host, err)
	}
	dyn, err := dynamic.NewForConfig(restConfig)
	if err != nil {
		return nil, fmt.Errorf("building a client for %s: %w", restConfig.Host, err)
	}
	disc := memory.NewMemCacheClient(core.Discovery())
	return &clients{
		host:      restConfig.Host,
		rest:      restConfig,
		core:      core,
		dynamic:   dyn,
		discovery: disc,
		mapper:    restmapper.NewDeferredDiscoveryRESTMapper(disc),
	}, nil
}

// sameHost reports whether a request URL went to the cluster's API server
// (and not, say, to a chart repository).
func sameHost(requestURL, host string) bool {
	a, err1 := url.Parse(requestURL)
	b, err2 := url.Parse(host)
	return err1 == nil && err2 == nil && a.Host == b.Host
}

func expandHome(path string) (string, error) {
	if path != "~" && !strings.HasPrefix(path, "~/") {
		return path, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expanding ~ in %s: %w", path, err)
	}
	return filepath.Join(home, strings.TrimPrefix(path, "~")), nil
}

// explain turns a client error into a message a user can act on: a cluster
// that cannot be reached or that rejects the credentials is said so plainly,
// not as a stack of client-go internals. It never includes credentials.
func (c *clients) explain(err error) error {
	if err == nil {
		return nil
	}
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var urlErr *url.Error
	switch {
	case errors.As(err, &unknownAuthority):
		return fmt.Errorf("cannot reach cluster at %s: its certificate is signed by an unknown authority (set cluster_ca_certificate, or insecure = true for a test cluster)", c.host)
	case errors.As(err, &hostname):
		return fmt.Errorf("cannot reach cluster at %s: its certificate does not match the host: %w", c.host, hostname)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the cluster at %s rejected the credentials (check token, client_certificate and client_key, or exec): %w", c.host, err)
	case errors.As(err, &urlErr) && sameHost(urlErr.URL, c.host):
		return fmt.Errorf("cannot reach cluster at %s: %w", c.host, urlErr.Err)
	}
	return err
}

// providerConnection is what Configure of a resource or data source keeps:
// the provider's connection, nil before the provider is configured.
func providerConnection(data any, diags *diag.Diagnostics) *connection {
	if data == nil {
		return nil
	}
	conn, ok := data.(*connection)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *connection, got %T", data))
	}
	return conn
}
