package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2/textlogger"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/yaml"

	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/controller"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/mpijob"
)

// The client's default limits. The API server's priority and fairness
// (APF) already shares its capacity between clients and queues what is
// beyond a client's share, so the controller sets no limit of its own:
// a fixed one (client-go's 5 QPS, mpi-operator's default; 20 here
// before) throttles bursts such as 20 MPI jobs of 9 pods or 1,000 runs
// started at once, while the API server sits idle.
const (
	defaultQPS   = -1
	defaultBurst = 0
)

// controllerCommand runs the controller manager: Pipeline and PipelineRun
// reconcilers, leader election, health probes and Prometheus metrics, and
// with --webhook-port the validating admission webhooks of both kinds.
func controllerCommand(args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("controller", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts controller.Options
	var metrics controller.MetricsOptions
	fs.StringVar(&metrics.BindAddress, "metrics-bind-address", ":8443", "address of the Prometheus metrics endpoint (0 disables it)")
	fs.BoolVar(&metrics.Secure, "metrics-secure", true, "serve metrics over HTTPS to callers the API server authenticates (TokenReview) and authorises for GET /metrics (SubjectAccessReview); false serves plain HTTP to anyone")
	fs.StringVar(&metrics.CertDir, "metrics-cert-dir", "", "directory of the metrics server's tls.crt and tls.key (reloaded when they change); a self-signed certificate when empty")
	probeAddr := fs.String("health-probe-bind-address", ":8081", "address of the /healthz and /readyz probes")
	leaderElect := fs.Bool("leader-elect", false, "elect a leader, so that only one replica reconciles")
	namespace := fs.String("leader-election-namespace", "", "namespace of the leader election lease (default: the pod's)")
	fs.StringVar(&opts.RuntimeImage, "runtime-image", "", "image holding kfstack-runtime, copied into every task pod")
	fs.StringVar(&opts.RuntimeBinary, "runtime-binary", v1alpha1.RuntimeBinaryPath, "path of kfstack-runtime in the runtime image")
	fs.StringVar(&opts.PipelineRoot, "pipeline-root", "", "artifact store of runs that set none (gs://, s3://, file://)")
	fs.StringVar(&opts.WorkDir, "workdir", "", "work directory of local-executor runs")
	fs.BoolVar(&opts.AllowLocalExecutor, "allow-local-executor", false, "let runs use the local executor, which runs task commands inside this process with its identity: only for a controller on a developer's machine (make demo, tests), never in a shared cluster")
	fs.Var((*listFlag)(&opts.AllowedFileRoots), "allowed-file-root", "DIR: a directory under which runs may name a file:// pipeline root of their own (repeatable); the controller reads and writes it with its own identity")
	cacheKeySecret := fs.String("cache-key-secret", "", "NAMESPACE/NAME of the Secret holding the key that signs task cache entries (made when missing); empty: a key of this process only, so entries are not reused after a restart")
	fs.IntVar(&opts.MaxConcurrentReconciles, "max-concurrent-runs", 4, "runs reconciled at once")
	opts.ImageRules.Exact, opts.ImageRules.Mirrors = map[string]string{}, map[string]string{}
	fs.Var(pairFlag(opts.ImageRules.Exact), "image-map", "FROM=TO: run task images named FROM as TO (repeatable; \"alpine\" matches docker.io/library/alpine:latest)")
	fs.Var(pairFlag(opts.ImageRules.Mirrors), "image-mirror", "PREFIX=MIRROR: pull task images under the registry prefix PREFIX from MIRROR (repeatable)")
	podDefaults := fs.String("task-pod-defaults", "", "YAML or JSON file of what every task pod (and MPI launcher and worker) gets: nodeSelector, tolerations, volumes, volumeMounts, imagePullPolicy, labels, annotations, requests (of containers that set none)")
	fs.IntVar(&opts.MaxRunningTasks, "max-running-tasks", 0, "task pods unfinished at once across all runs (0: unlimited); ready tasks beyond it wait, oldest run first")
	qps := fs.Float64("kube-api-qps", defaultQPS, "queries per second to the API server; negative: no client-side limit, the API server's priority and fairness queues the controller's requests beside everyone else's")
	burst := fs.Int("kube-api-burst", defaultBurst, "burst of queries to the API server (with a positive --kube-api-qps)")
	runSelector := fs.String("run-selector", "", "label selector of the PipelineRuns this controller drives (empty: all), to split runs between controllers")
	webhookPort := fs.Int("webhook-port", 0, "port of the validating admission webhooks of Pipeline and PipelineRun (0: no webhook server)")
	webhookCertDir := fs.String("webhook-cert-dir", defaultWebhookCertDir, "directory of the webhook server's tls.crt and tls.key (as cert-manager writes a Certificate's Secret); reloaded when they change")
	verbosity := fs.Int("v", 0, "log verbosity")
	var mpi mpiFlags
	mpi.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctrl.SetLogger(textlogger.NewLogger(textlogger.NewConfig(textlogger.Verbosity(*verbosity), textlogger.Output(stderr))))
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := kubeflow.AddToScheme(scheme); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *podDefaults != "" {
		data, err := os.ReadFile(*podDefaults)
		if err != nil {
			fmt.Fprintf(stderr, "reading --task-pod-defaults: %v\n", err)
			return 2
		}
		if err := yaml.UnmarshalStrict(data, &opts.TaskPodDefaults); err != nil {
			fmt.Fprintf(stderr, "parsing --task-pod-defaults %s: %v\n", *podDefaults, err)
			return 2
		}
	}
	if err := opts.Validate(); err != nil {
		fmt.Fprintf(stderr, "invalid options: %v\n", err)
		return 2
	}
	var sel labels.Selector
	if *runSelector != "" {
		var err error
		if sel, err = labels.Parse(*runSelector); err != nil {
			fmt.Fprintf(stderr, "parsing --run-selector: %v\n", err)
			return 2
		}
	}
	opts.RunSelector = sel
	if opts.MaxRunningTasks < 0 {
		fmt.Fprintln(stderr, "--max-running-tasks must not be negative")
		return 2
	}
	if _, _, err := controller.ParseSecretName(*cacheKeySecret); *cacheKeySecret != "" && err != nil {
		fmt.Fprintf(stderr, "--cache-key-secret: %v\n", err)
		return 2
	}
	if err := checkWebhookFlags(*webhookPort, *webhookCertDir); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := mpi.validate(); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		fmt.Fprintf(stderr, "loading the cluster configuration: %v\n", err)
		return 1
	}
	cfg.QPS, cfg.Burst = float32(*qps), *burst
	ctx := ctrl.SetupSignalHandler()
	if err := waitForAPI(ctx, cfg, stderr); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *cacheKeySecret != "" {
		if opts.CacheSigningKey, err = controller.LoadCacheSigningKey(ctx, cfg, *cacheKeySecret); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	mpiOn, err := mpi.decide(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	cacheOpts := controller.CacheOptions(sel)
	if mpiOn {
		cacheOpts = mpijob.CacheOptions(cacheOpts)
	}
	var webhookServer webhook.Server
	if *webhookPort > 0 {
		webhookServer = webhook.NewServer(webhook.Options{Port: *webhookPort, CertDir: *webhookCertDir})
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		WebhookServer:           webhookServer,
		Cache:                   cacheOpts,
		Metrics:                 metrics.ServerOptions(),
		HealthProbeBindAddress:  *probeAddr,
		LeaderElection:          *leaderElect,
		LeaderElectionID:        "kfstack-runtime-controller",
		LeaderElectionNamespace: *namespace,
	})
	if err != nil {
		fmt.Fprintf(stderr, "creating the manager: %v\n", err)
		return 1
	}
	if err := controller.Setup(mgr, opts); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if mpiOn {
		if err := mpi.setup(mgr, opts); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	ready := healthz.Ping
	if webhookServer != nil {
		if err := controller.SetupWebhooks(mgr, opts); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		// Served even with the MPIJob controller off, admitting everything
		// then: the webhook configuration names MPIJobs either way.
		if err := mpijob.SetupWebhook(mgr, mpiOn); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		// Ready only once the webhook server serves: the webhook's Service
		// sends admission requests to ready pods only.
		ready = webhookServer.StartedChecker()
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := mgr.AddReadyzCheck("readyz", ready); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := mgr.Start(ctx); err != nil {
		fmt.Fprintf(stderr, "running the manager: %v\n", err)
		return 1
	}
	return 0
}

// defaultWebhookCertDir is controller-runtime's default certificate
// directory.
const defaultWebhookCertDir = "/tmp/k8s-webhook-server/serving-certs"

// checkWebhookFlags reports a webhook port out of range, or a certificate
// directory without the key pair, before the manager fails on it less
// clearly.
func checkWebhookFlags(port int, certDir string) error {
	if port < 0 || port > 65535 {
		return fmt.Errorf("--webhook-port %d is not a port (1-65535, or 0 for no webhooks)", port)
	}
	if port == 0 {
		return nil
	}
	for _, name := range []string{"tls.crt", "tls.key"} {
		if _, err := os.Stat(filepath.Join(certDir, name)); err != nil {
			return fmt.Errorf("--webhook-cert-dir %s: the webhook server needs %s there (a cert-manager Certificate's Secret mounted as a volume): %w", certDir, name, err)
		}
	}
	return nil
}

// listFlag is a repeatable flag collected into a list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	*l = append(*l, s)
	return nil
}

// pairFlag is a repeatable FROM=TO flag collected into a map.
type pairFlag map[string]string

func (p pairFlag) String() string {
	pairs := make([]string, 0, len(p))
	for k, v := range p {
		pairs = append(pairs, k+"="+v)
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

func (p pairFlag) Set(s string) error {
	from, to, ok := strings.Cut(s, "=")
	if !ok || from == "" || to == "" {
		return fmt.Errorf("%q is not FROM=TO", s)
	}
	if other, dup := p[from]; dup && other != to {
		return fmt.Errorf("%s is given twice (%s and %s)", from, other, to)
	}
	p[from] = to
	return nil
}

// waitForAPI waits until the cluster serves the runtime's API: a
// controller started before its CRDs are installed (by kubeflow_runtime in
// the same apply, say) waits for them instead of failing.
func waitForAPI(ctx context.Context, cfg *rest.Config, stderr io.Writer) error {
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating a discovery client: %w", err)
	}
	want := map[string]bool{"pipelines": false, "pipelineruns": false}
	var last time.Time
	for {
		list, err := disc.ServerResourcesForGroupVersion(v1alpha1.GroupVersion.String())
		if err == nil {
			for _, r := range list.APIResources {
				if _, ok := want[r.Name]; ok {
					want[r.Name] = true
				}
			}
			if want["pipelines"] && want["pipelineruns"] {
				return nil
			}
		} else if !apierrors.IsNotFound(err) {
			return fmt.Errorf("looking up %s: %w", v1alpha1.GroupVersion, err)
		}
		if time.Since(last) > 30*time.Second {
			fmt.Fprintf(stderr, "waiting for the cluster to serve %s (its CRDs are installed by kubeflow_runtime)\n", v1alpha1.GroupVersion)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped while waiting for %s", v1alpha1.GroupVersion)
		case <-time.After(time.Second):
		}
	}
}
