package main

import (
	"flag"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2/textlogger"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/controller"
)

// controllerCommand runs the controller manager: Pipeline and PipelineRun
// reconcilers, leader election, health probes and Prometheus metrics.
func controllerCommand(args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("controller", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts controller.Options
	metricsAddr := fs.String("metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint (0 disables it)")
	probeAddr := fs.String("health-probe-bind-address", ":8081", "address of the /healthz and /readyz probes")
	leaderElect := fs.Bool("leader-elect", false, "elect a leader, so that only one replica reconciles")
	namespace := fs.String("leader-election-namespace", "", "namespace of the leader election lease (default: the pod's)")
	fs.StringVar(&opts.RuntimeImage, "runtime-image", "", "image holding kfstack-runtime, copied into every task pod")
	fs.StringVar(&opts.RuntimeBinary, "runtime-binary", "/kfstack-runtime", "path of kfstack-runtime in the runtime image")
	fs.StringVar(&opts.PipelineRoot, "pipeline-root", "", "artifact store of runs that set none (gs://, s3://, file://)")
	fs.StringVar(&opts.WorkDir, "workdir", "", "work directory of local-executor runs")
	fs.IntVar(&opts.MaxConcurrentReconciles, "max-concurrent-runs", 4, "runs reconciled at once")
	fs.IntVar(&opts.MaxRunningTasks, "max-running-tasks", 0, "task pods unfinished at once across all runs (0: unlimited); ready tasks beyond it wait, oldest run first")
	qps := fs.Float64("kube-api-qps", 20, "queries per second to the API server (a run costs about 3 writes and 2 events)")
	burst := fs.Int("kube-api-burst", 30, "burst of queries to the API server")
	runSelector := fs.String("run-selector", "", "label selector of the PipelineRuns this controller drives (empty: all), to split runs between controllers")
	verbosity := fs.Int("v", 0, "log verbosity")
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
	cfg, err := ctrl.GetConfig()
	if err != nil {
		fmt.Fprintf(stderr, "loading the cluster configuration: %v\n", err)
		return 1
	}
	cfg.QPS, cfg.Burst = float32(*qps), *burst
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Cache:                   controller.CacheOptions(sel),
		Metrics:                 metricsserver.Options{BindAddress: *metricsAddr},
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
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		fmt.Fprintf(stderr, "running the manager: %v\n", err)
		return 1
	}
	return 0
}
