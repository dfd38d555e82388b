package mpijob_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2/textlogger"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kfstack/terraform-provider-kubeflow/internal/imagerewrite"
	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/crds"
	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	runtimecontroller "github.com/kfstack/terraform-provider-kubeflow/runtime/controller"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/mpijob"
)

var (
	k8s     client.Client
	cluster *testcluster.Cluster
	// programs plays what the pods' programs would do on KWOK, which runs
	// none: their output (for log tails) and whether an sshd answers.
	programs = &simulated{logs: map[string]string{}, sshUp: map[string]bool{}}
	// testRules are the image rules of the in-process controller: the pi
	// example's image, as an operator with a mirror would map it.
	testRules = map[string]string{"mpioperator/mpi-pi:openmpi": "mirror.example.com/mpi-pi:openmpi"}
)

func imageRules() imagerewrite.Rules { return imagerewrite.Rules{Exact: testRules} }

// simulated holds the pods' simulated programs.
type simulated struct {
	mu     sync.Mutex
	logs   map[string]string // namespace/pod -> log
	sshUp  map[string]bool   // pod IP -> sshd answering (none until a test says so)
	probes atomic.Int32
}

func (s *simulated) setLog(ns, pod, log string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs[ns+"/"+pod] = log
}

func (s *simulated) logTail(_ context.Context, ns, pod string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	log, ok := s.logs[ns+"/"+pod]
	if !ok {
		log, ok = s.logs[ns+"/*"]
	}
	if !ok {
		return "", errors.New("no log")
	}
	return log, nil
}

func (s *simulated) setSSHUp(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sshUp[ip] = true
}

func (s *simulated) probe(_ context.Context, host string, ports []int32) error {
	s.probes.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.sshUp[host] {
		return fmt.Errorf("connection refused at %s:%v", host, ports)
	}
	return nil
}

func TestMain(m *testing.M) {
	testcluster.RunMain(m, func(c *testcluster.Cluster) {
		cluster = c
		if err := setup(c); err != nil {
			panic(err)
		}
	})
}

func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, kubeflow.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

func setup(c *testcluster.Cluster) error {
	ctx := context.Background()
	var err error
	if k8s, err = client.New(c.Config, client.Options{Scheme: scheme()}); err != nil {
		return err
	}
	if v, err := strconv.Atoi(os.Getenv("KFSTACK_TEST_LOG")); err == nil {
		ctrl.SetLogger(textlogger.NewLogger(textlogger.NewConfig(textlogger.Verbosity(v))))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	if err := crds.Install(ctx, k8s, time.Minute); err != nil {
		return err
	}
	// The controller's defaults: no client-side rate limit
	// (kfstack-runtime controller --kube-api-qps=-1), the API server's
	// priority and fairness queues instead.
	mcfg := rest.CopyConfig(c.Config)
	mcfg.QPS, mcfg.Burst = -1, 0
	mgr, err := ctrl.NewManager(mcfg, ctrl.Options{
		Scheme:                 scheme(),
		Cache:                  mpijob.CacheOptions(runtimecontroller.CacheOptions(nil)),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		return err
	}
	if err := mpijob.Setup(mgr, mpijob.Options{
		ProbeSSH:    programs.probe,
		LogTail:     programs.logTail,
		ImageRules:  imageRules(),
		PodDefaults: runtimecontroller.TaskPodDefaults{Labels: map[string]string{"team": "vision"}},
	}); err != nil {
		return err
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
			os.Exit(1)
		}
	}()
	return nil
}

var nsCounter atomic.Int32

// namespace creates a namespace for one test.
func namespace(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("mpi-%d-%d", time.Now().Unix()%100000, nsCounter.Add(1))
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	return name
}
