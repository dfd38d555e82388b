package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kfstack/terraform-provider-kubeflow/internal/runtimetest"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/crds"
	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/controller"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/mpijob"
)

var (
	runtimeOnce sync.Once
	runtimeErr  error
	// runtimeClient reads and writes the runtime's objects in tests.
	runtimeClient client.Client
	// runtimeRoot is the in-process controller's pipeline root (a file://
	// URL).
	runtimeRoot string
)

// startRuntime installs the runtime's CRDs in the test cluster and runs
// its controller in this process (once for the package), as
// kubeflow_runtime would in a real cluster. CRDs made here are not made
// by kubeflow_runtime, which adopts them and leaves them on destroy.
func startRuntime(t *testing.T) {
	t.Helper()
	runtimeOnce.Do(func() { runtimeErr = runRuntime() })
	if runtimeErr != nil {
		t.Fatalf("starting the runtime controller: %v", runtimeErr)
	}
}

func runRuntime() error {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, kubeflow.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	c, err := client.New(testCluster.Config, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	all, err := crds.All()
	if err != nil {
		return err
	}
	for _, crd := range all {
		// kubeflow_runtime's tests may have installed them already.
		if err := c.Create(ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating CRD %s: %w", crd.Name, err)
		}
		if err := waitEstablished(ctx, c, crd.Name); err != nil {
			return err
		}
	}
	ctrl.SetLogger(logr.Discard())
	// The controller runs as the ServiceAccount kubeflow_runtime installs,
	// with its RBAC, not as the test's administrator.
	asController, err := runtimetest.ControllerConfig(ctx, testCluster.Config, runtimetest.Namespace)
	if err != nil {
		return err
	}
	// It allows the local executor (below), as make demo's does.
	if err := runtimetest.AllowLocalExecutor(ctx, testCluster.Config, runtimetest.Namespace); err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(asController, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Cache: mpijob.CacheOptions(controller.CacheOptions(nil)),
	})
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "kfstack-provider-runtime-")
	if err != nil {
		return err
	}
	runtimeRoot = "file://" + filepath.Join(work, "artifacts")
	// The acceptance tests' runs use the local executor (KWOK runs no
	// containers), as make demo does: allowed here, never in a cluster.
	if err := controller.Setup(mgr, controller.Options{WorkDir: filepath.Join(work, "runs"), PipelineRoot: runtimeRoot, AllowLocalExecutor: true}); err != nil {
		return err
	}
	if err := mpijob.Setup(mgr, mpijob.Options{}); err != nil {
		return err
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "runtime controller:", err)
		}
	}()
	runtimeClient = c
	return nil
}

func waitEstablished(ctx context.Context, c client.Client, name string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		got := &apiextensionsv1.CustomResourceDefinition{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, got); err == nil {
			for _, cond := range got.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return nil
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("CRD %s not established", name)
}
