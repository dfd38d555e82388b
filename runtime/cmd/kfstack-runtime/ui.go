package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2/textlogger"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/ui"
)

// uiCommand serves the web UI: runs, task graphs, logs and artifacts,
// experiments, pipelines and lineage, for the signed-in user as far as
// Kubernetes lets that user see and act. It runs as its own Deployment
// (its own service account, which reads the runtime's kinds and creates
// SubjectAccessReviews), not inside the controller, whose service account
// may create pods in every namespace: the process that faces users holds
// no such right.
func uiCommand(args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("ui", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts ui.Options
	fs.StringVar(&opts.Addr, "bind-address", ":8082", "address the UI listens on")
	fs.StringVar(&opts.BasePath, "base-path", "/", "the path the UI is served under, as the gateway routes it (such as /pipelines-ui/; unchanged, not rewritten)")
	probeAddr := fs.String("health-probe-bind-address", ":8083", "address of the /healthz and /readyz probes (0 disables them)")
	fs.StringVar(&opts.PipelineRoot, "pipeline-root", "", "the controller's default pipeline root (its --pipeline-root): where runs that name none keep artifacts and logs")
	var allowed multiFlag
	fs.Var(&allowed, "allowed-pipeline-root", "another pipeline root (prefix) whose runs' artifacts and logs the UI may read (repeatable)")
	authMode := fs.String("auth", "", "how users are identified: header (the gateway's identity header), oidc (the UI signs users in against Dex) or none (the local quickstart only: every request acts as --user; needs a loopback --bind-address)")
	userHeader := fs.String("user-header", ui.DefaultUserHeader, "--auth=header: the header naming the user")
	userPrefix := fs.String("user-prefix", "", "--auth=header: a prefix to remove from the user header")
	groupsHeader := fs.String("groups-header", "", "--auth=header: a header with the user's groups, comma-separated")
	trusted := fs.String("trusted-proxies", "", "--auth=header: addresses or networks (comma-separated) the gateway's requests come from")
	secretFile := fs.String("proxy-secret-file", "", "--auth=header: a file with the shared secret the gateway sends in --proxy-secret-header")
	secretHeader := fs.String("proxy-secret-header", ui.DefaultSecretHeader, "--auth=header: the header of the shared secret")
	var oidcCfg ui.OIDCConfig
	fs.StringVar(&oidcCfg.Issuer, "oidc-issuer", "", "--auth=oidc: the issuer URL (Dex's)")
	fs.StringVar(&oidcCfg.ClientID, "oidc-client-id", "", "--auth=oidc: the UI's client ID")
	clientSecretFile := fs.String("oidc-client-secret-file", "", "--auth=oidc: a file with the UI's client secret")
	fs.StringVar(&oidcCfg.RedirectURL, "oidc-redirect-url", "", "--auth=oidc: the UI's callback URL, https://<host>/auth/callback")
	fs.StringVar(&oidcCfg.UsernameClaim, "oidc-username-claim", "email", "--auth=oidc: the ID token claim naming the user")
	fs.StringVar(&oidcCfg.GroupsClaim, "oidc-groups-claim", "groups", "--auth=oidc: the ID token claim with the user's groups")
	sessionKeyFile := fs.String("session-key-file", "", "--auth=oidc: a file with the key (32 bytes or more) that signs session cookies, shared by the replicas (default: derived from the client secret)")
	user := fs.String("user", "", "--auth=none: the user every request acts as")
	groups := fs.String("groups", "", "--auth=none: that user's groups, comma-separated")
	frame := fs.String("frame-ancestors", "", "origins that may show the UI in a frame (comma-separated; default: the UI itself)")
	qps := fs.Float64("kube-api-qps", 50, "queries per second to the API server")
	burst := fs.Int("kube-api-burst", 100, "burst of queries to the API server")
	verbosity := fs.Int("v", 0, "log verbosity")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := textlogger.NewLogger(textlogger.NewConfig(textlogger.Verbosity(*verbosity), textlogger.Output(stderr)))
	ctrl.SetLogger(log)
	opts.Log = log.WithName("ui")
	opts.AllowedRoots = allowed
	if *frame != "" {
		opts.FrameAncestors = splitList(*frame)
	}
	ctx := ctrl.SetupSignalHandler()
	var err error
	switch *authMode {
	case "header":
		var h ui.HeaderAuth
		h.UserHeader, h.UserPrefix, h.GroupsHeader, h.SecretHeader = *userHeader, *userPrefix, *groupsHeader, *secretHeader
		if h.TrustedProxies, err = ui.ParseCIDRs(splitList(*trusted)); err != nil {
			fmt.Fprintf(stderr, "--trusted-proxies: %v\n", err)
			return 2
		}
		if *secretFile != "" {
			if h.Secret, err = readSecret(*secretFile); err != nil {
				fmt.Fprintf(stderr, "--proxy-secret-file: %v\n", err)
				return 2
			}
		}
		if opts.Auth, err = ui.NewHeaderAuth(h); err != nil {
			fmt.Fprintf(stderr, "--auth=header: %v (--trusted-proxies, --proxy-secret-file)\n", err)
			return 2
		}
	case "oidc":
		if *clientSecretFile != "" {
			b, err := readSecret(*clientSecretFile)
			if err != nil {
				fmt.Fprintf(stderr, "--oidc-client-secret-file: %v\n", err)
				return 2
			}
			oidcCfg.ClientSecret = string(b)
		}
		switch {
		case *sessionKeyFile != "":
			if oidcCfg.SessionKey, err = readSecret(*sessionKeyFile); err != nil {
				fmt.Fprintf(stderr, "--session-key-file: %v\n", err)
				return 2
			}
		case oidcCfg.ClientSecret != "":
			oidcCfg.SessionKey = ui.SessionKeyFrom(oidcCfg.ClientSecret)
		default:
			fmt.Fprintln(stderr, "--auth=oidc needs --session-key-file (a key of 32 bytes or more, shared by the replicas) or --oidc-client-secret-file to derive it from")
			return 2
		}
		oidcCfg.BasePath = opts.BasePath
		if opts.Auth, err = ui.NewOIDCAuth(ctx, oidcCfg); err != nil {
			fmt.Fprintf(stderr, "--auth=oidc: %v\n", err)
			return 2
		}
	case "none":
		if !loopback(opts.Addr) {
			fmt.Fprintf(stderr, "--auth=none signs no one in: it serves only on this machine (--bind-address=127.0.0.1:PORT), not on %s\n", opts.Addr)
			return 2
		}
		if opts.Auth, err = ui.NewFixedAuth(*user, splitList(*groups)); err != nil {
			fmt.Fprintf(stderr, "--auth=none needs --user: %v\n", err)
			return 2
		}
		log.Info("WARNING: --auth=none: the UI authenticates no one and every request acts as this user; use it only on a local cluster (the quickstart)", "user", *user, "groups", *groups)
	case "":
		fmt.Fprintln(stderr, "--auth is required: header (behind the Istio gateway with Dex), oidc, or none (local quickstart only)")
		return 2
	default:
		fmt.Fprintf(stderr, "--auth %q: must be header, oidc or none\n", *authMode)
		return 2
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		fmt.Fprintf(stderr, "loading the cluster configuration: %v\n", err)
		return 1
	}
	cfg.QPS, cfg.Burst = float32(*qps), *burst
	if err := waitForAPI(ctx, cfg, stderr); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  ui.CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: *probeAddr,
	})
	if err != nil {
		fmt.Fprintf(stderr, "creating the manager: %v\n", err)
		return 1
	}
	srv, err := ui.New(mgr, opts)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := mgr.Add(srv); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// Ready once the cache has synced and the server listens.
	if err := mgr.AddReadyzCheck("readyz", func(*http.Request) error {
		if srv.Addr() == "" {
			return errors.New("the UI does not listen yet")
		}
		return nil
	}); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	log.Info("starting the UI", "auth", opts.Auth.Mode(), "pipelineRoot", opts.PipelineRoot, "allowedRoots", opts.AllowedRoots)
	if err := mgr.Start(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "running the UI: %v\n", err)
		return 1
	}
	return 0
}

// loopback reports whether a listen address serves this machine only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// readSecret reads a secret from a file (a mounted Secret), without the
// trailing newline an editor adds.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = []byte(strings.TrimRight(string(b), "\r\n"))
	if len(b) == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	return b, nil
}
