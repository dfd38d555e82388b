package provider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
)

// googleModel is the provider's google block: the Google credentials and
// project of the kubeflow_gke_* resources and of the gke connection.
type googleModel struct {
	Project                 types.String `tfsdk:"project"`
	Credentials             types.String `tfsdk:"credentials"`
	AccessToken             types.String `tfsdk:"access_token"`
	ContainerEndpoint       types.String `tfsdk:"container_custom_endpoint"`
	ContainerEndpointCACert types.String `tfsdk:"container_custom_endpoint_ca_certificate"`
	ContainerInsecure       types.Bool   `tfsdk:"container_custom_endpoint_insecure"`
}

// gkeModel is the provider's gke block: the Kubernetes connection goes to
// this GKE cluster, with the provider's Google credentials.
type gkeModel struct {
	Project  types.String `tfsdk:"project"`
	Location types.String `tfsdk:"location"`
	Cluster  types.String `tfsdk:"cluster"`
}

// googleScopes are what the provider's tokens are for: the GKE API, and
// the cluster's API server, which takes a Google token of a user whose
// e-mail it knows.
var googleScopes = []string{"https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/userinfo.email"}

// googleConnection builds, on first use, the token source and the GKE API
// client from the google block, the environment (GOOGLE_*) or
// Application Default Credentials. Tokens are refreshed before they
// expire, never logged and never stored in state.
type googleConnection struct {
	config googleModel

	once   sync.Once
	tokens oauth2.TokenSource
	client *container.ClusterManagerClient
	err    error

	kubeMu sync.Mutex
	kube   map[string]metadata.Interface
}

func withGoogleEnvironment(m *googleModel) googleModel {
	var c googleModel
	if m != nil {
		c = *m
	}
	fromEnv := func(v types.String, names ...string) types.String {
		if !v.IsNull() {
			return v
		}
		for _, name := range names {
			if env := os.Getenv(name); env != "" {
				return types.StringValue(env)
			}
		}
		return v
	}
	c.Project = fromEnv(c.Project, "GOOGLE_PROJECT", "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT")
	c.Credentials = fromEnv(c.Credentials, "GOOGLE_CREDENTIALS")
	c.AccessToken = fromEnv(c.AccessToken, "GOOGLE_OAUTH_ACCESS_TOKEN")
	c.ContainerEndpoint = fromEnv(c.ContainerEndpoint, "GOOGLE_CONTAINER_CUSTOM_ENDPOINT")
	if c.ContainerInsecure.IsNull() {
		if b, err := strconv.ParseBool(os.Getenv("GOOGLE_CONTAINER_CUSTOM_ENDPOINT_INSECURE")); err == nil {
			c.ContainerInsecure = types.BoolValue(b)
		}
	}
	return c
}

// project is the default project of GKE resources, "" when none is set.
func (g *googleConnection) project() string { return g.config.Project.ValueString() }

func (g *googleConnection) get(ctx context.Context) (oauth2.TokenSource, *container.ClusterManagerClient, error) {
	g.once.Do(func() {
		g.tokens, g.err = g.tokenSource(ctx)
		if g.err == nil {
			g.client, g.err = g.newClient(ctx)
		}
	})
	return g.tokens, g.client, g.err
}

// tokenSource picks the credentials: access_token, then credentials (a
// key file's content or path), then Application Default Credentials.
func (g *googleConnection) tokenSource(ctx context.Context) (oauth2.TokenSource, error) {
	// The token source outlives the request that built it.
	ctx = context.WithoutCancel(ctx)
	if token := g.config.AccessToken.ValueString(); token != "" {
		tflog.Info(ctx, "Google credentials: access_token (not refreshed: it is used until it expires)")
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"}), nil
	}
	if creds := g.config.Credentials.ValueString(); creds != "" {
		data := []byte(creds)
		if !strings.HasPrefix(strings.TrimSpace(creds), "{") {
			read, err := os.ReadFile(creds)
			if err != nil {
				return nil, fmt.Errorf("google.credentials is neither a JSON key nor a readable file: %w", err)
			}
			data = read
		}
		var kind struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(data, &kind); err != nil {
			return nil, errors.New("google.credentials is not valid JSON (the value is not shown: it is secret)")
		}
		c, err := google.CredentialsFromJSONWithType(ctx, data, google.CredentialsType(kind.Type), googleScopes...)
		if err != nil {
			return nil, fmt.Errorf("reading google.credentials (type %q): %w", kind.Type, err)
		}
		tflog.Info(ctx, "Google credentials: google.credentials", map[string]any{"type": kind.Type})
		return oauth2.ReuseTokenSource(nil, c.TokenSource), nil
	}
	c, err := google.FindDefaultCredentials(ctx, googleScopes...)
	if err != nil {
		return nil, fmt.Errorf("no Google credentials: set google.credentials or google.access_token in the provider block, "+
			"GOOGLE_CREDENTIALS or GOOGLE_OAUTH_ACCESS_TOKEN, or log in for Application Default Credentials (gcloud auth application-default login): %w", err)
	}
	if g.config.Project.IsNull() && c.ProjectID != "" {
		g.config.Project = types.StringValue(c.ProjectID)
	}
	tflog.Info(ctx, "Google credentials: Application Default Credentials")
	return oauth2.ReuseTokenSource(nil, c.TokenSource), nil
}

// newClient dials the GKE API, or the endpoint that overrides it (a fake
// GKE API for tests and the demo).
func (g *googleConnection) newClient(ctx context.Context) (*container.ClusterManagerClient, error) {
	ctx = context.WithoutCancel(ctx)
	endpoint := g.config.ContainerEndpoint.ValueString()
	if endpoint == "" {
		return container.NewClusterManagerClient(ctx, option.WithTokenSource(g.tokens), option.WithUserAgent("terraform-provider-kubeflow"))
	}
	endpoint = strings.TrimPrefix(strings.TrimPrefix(endpoint, "https://"), "http://")
	plaintext := g.config.ContainerInsecure.ValueBool()
	var transport credentials.TransportCredentials
	if plaintext {
		transport = insecure.NewCredentials()
	} else {
		tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
		if ca := g.config.ContainerEndpointCACert.ValueString(); ca != "" {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM([]byte(ca)) {
				return nil, errors.New("google.container_custom_endpoint_ca_certificate holds no PEM certificate")
			}
			tlsConfig.RootCAs = pool
		}
		transport = credentials.NewTLS(tlsConfig)
	}
	tflog.Warn(ctx, "the GKE API is overridden by google.container_custom_endpoint (for tests and the demo)", map[string]any{"endpoint": endpoint, "plaintext": plaintext})
	conn, err := grpc.NewClient(endpoint,
		grpc.WithTransportCredentials(transport),
		grpc.WithPerRPCCredentials(tokenCredentials{tokens: g.tokens, requireTLS: !plaintext}),
		grpc.WithUserAgent("terraform-provider-kubeflow"))
	if err != nil {
		return nil, fmt.Errorf("dialling the GKE API at %s: %w", endpoint, err)
	}
	return container.NewClusterManagerClient(ctx, option.WithGRPCConn(conn))
}

// tokenCredentials sends the provider's Google token with every call.
// Plaintext is allowed only for the test endpoint override.
type tokenCredentials struct {
	tokens     oauth2.TokenSource
	requireTLS bool
}

func (t tokenCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	token, err := t.tokens.Token()
	if err != nil {
		return nil, fmt.Errorf("getting a Google access token: %w", err)
	}
	return map[string]string{"authorization": "Bearer " + token.AccessToken}, nil
}

func (t tokenCredentials) RequireTransportSecurity() bool { return t.requireTLS }

// gkeRESTConfig connects to the cluster of the gke block: its endpoint and
// CA from the GKE API, and the provider's Google token, refreshed as it
// expires, as the Kubernetes credential.
func (c *connection) gkeRESTConfig(ctx context.Context) (*rest.Config, error) {
	tokens, client, err := c.google.get(ctx)
	if err != nil {
		return nil, err
	}
	g := c.config.GKE
	project := g.Project.ValueString()
	if project == "" {
		project = c.google.project()
	}
	id, err := parseClusterRef(g.Cluster.ValueString(), project, g.Location.ValueString())
	if err != nil {
		return nil, fmt.Errorf("gke block: %w", err)
	}
	cfg, err := clusterRESTConfig(ctx, client, tokens, id)
	if err != nil {
		return nil, fmt.Errorf("the provider's gke block: %w", err)
	}
	return cfg, nil
}

// clusterRESTConfig is a REST config of a GKE cluster: its endpoint and CA
// from the GKE API, and the Google token, refreshed as it expires, as the
// credential.
func clusterRESTConfig(ctx context.Context, client *container.ClusterManagerClient, tokens oauth2.TokenSource, id gkeClusterID) (*rest.Config, error) {
	cl, err := client.GetCluster(ctx, &containerpb.GetClusterRequest{Name: id.String()})
	if isNotFound(err) {
		return nil, fmt.Errorf("the cluster %s does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the cluster %s: %s", id, explainGoogle(err))
	}
	if cl.GetEndpoint() == "" {
		return nil, fmt.Errorf("the cluster %s has no endpoint yet (status %s)", id, cl.GetStatus())
	}
	ca, err := base64.StdEncoding.DecodeString(cl.GetMasterAuth().GetClusterCaCertificate())
	if err != nil {
		return nil, fmt.Errorf("the cluster %s has an invalid CA certificate: %w", id, err)
	}
	tflog.Info(ctx, "connecting to GKE cluster", map[string]any{"cluster": id.String(), "endpoint": cl.GetEndpoint()})
	return &rest.Config{
		Host:            "https://" + cl.GetEndpoint(),
		TLSClientConfig: rest.TLSClientConfig{CAData: ca},
		WrapTransport:   transport.TokenSourceWrapTransport(tokens),
	}, nil
}

// kubeClient is a metadata client of a GKE cluster's API server, with the
// provider's Google token; built once per cluster.
func (g *googleConnection) kubeClient(ctx context.Context, id gkeClusterID) (metadata.Interface, error) {
	g.kubeMu.Lock()
	defer g.kubeMu.Unlock()
	if c, ok := g.kube[id.String()]; ok {
		return c, nil
	}
	tokens, client, err := g.get(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := clusterRESTConfig(ctx, client, tokens, id)
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "terraform-provider-kubeflow"
	cfg.Timeout = 30 * time.Second
	c, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	if g.kube == nil {
		g.kube = map[string]metadata.Interface{}
	}
	g.kube[id.String()] = c
	return c, nil
}

// listNodeMetadata lists the metadata of the nodes a selector matches.
func listNodeMetadata(ctx context.Context, c metadata.Interface, selector string) (*metav1.PartialObjectMetadataList, error) {
	return c.Resource(corev1.SchemeGroupVersion.WithResource("nodes")).List(ctx, metav1.ListOptions{LabelSelector: selector})
}
