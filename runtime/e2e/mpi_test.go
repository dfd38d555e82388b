package e2e_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/kfstack/terraform-provider-kubeflow/internal/image"
	"github.com/kfstack/terraform-provider-kubeflow/internal/imagerewrite"
	"github.com/kfstack/terraform-provider-kubeflow/internal/mpitest"
	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/crds"
	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/controller"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/mpijob"
)

// TestMPIPiOnRealNode runs kubeflow/mpi-operator's pi example, its
// manifest unchanged, through the runtime's MPIJob controller on the real
// node: a launcher and two workers in real containers of images built from
// Debian's Open MPI (and MPICH) packages, running as the non-root
// mpiuser, the launcher reaching the workers by their DNS names (the real
// node's CoreDNS) over SSH with the job's keys. The only additions are the
// runtime's image rule (mpioperator/mpi-pi:<flavor> is
// kfstack.local/mpi-pi:<flavor> here) and task-pod defaults: the node,
// never pulling, and small requests so that three pods of 1-CPU limits fit
// the 2-core machine.
func TestMPIPiOnRealNode(t *testing.T) {
	node := cluster.SkipUnlessRealNode(t)
	dir := mpitest.Dir(t)
	for _, tc := range []struct{ flavor, manifest string }{
		{image.FlavorOpenMPI, "pi/pi.yaml"},
		{image.FlavorMPICH, "pi/pi-mpich.yaml"},
	} {
		t.Run(tc.flavor, func(t *testing.T) {
			if err := image.MPISupported(tc.flavor); err != nil {
				t.Skipf("cannot build the %s image here: %v", tc.flavor, err)
			}
			c := startMPIController(t, node, filepath.Join(dir, "pi", "pi.cc"))
			built, err := image.BuildMPI(context.Background(), image.MPIOptions{
				PiSource: filepath.Join(dir, "pi", "pi.cc"), OutDir: filepath.Join(cluster.Dir, "mpi-images"),
				CacheDir: mpiCacheDir(t), Flavors: []string{tc.flavor}, Progress: testWriter{t},
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := node.Import(context.Background(), built[0].Tarball); err != nil {
				t.Fatal(err)
			}
			ns := namespace(t, c)
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(mpitest.Read(t, tc.manifest), &obj.Object); err != nil {
				t.Fatal(err)
			}
			obj.SetNamespace(ns)
			if err := c.Create(context.Background(), obj); err != nil {
				t.Fatal(err)
			}
			job := &kubeflow.MPIJob{}
			deadline := time.Now().Add(5 * time.Minute)
			for {
				if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: obj.GetName()}, job); err != nil {
					t.Fatal(err)
				}
				if job.Status.Finished() || time.Now().After(deadline) {
					break
				}
				time.Sleep(time.Second)
			}
			log := launcherLog(t, ns, obj.GetName())
			if !job.Status.IsTrue(kubeflow.JobSucceeded) {
				t.Fatalf("the pi job did not succeed: %+v\nlauncher log:\n%s\nworker logs:\n%s", job.Status.Conditions, log, podLogs(ns, obj.GetName(), "worker"))
			}
			msg := job.Status.Condition(kubeflow.JobSucceeded).Message
			t.Logf("Succeeded: %s", msg)
			for what, text := range map[string]string{"the launcher's log": log, "the Succeeded condition": msg} {
				if !regexp.MustCompile(`pi is approximately 3\.14`).MatchString(text) {
					t.Errorf("%s lacks the result:\n%s", what, text)
				}
			}
			ranks := regexp.MustCompile(`Rank (\d) on host`).FindAllStringSubmatch(log, -1)
			if len(ranks) != 2 || !strings.Contains(log, "Workers: 2") {
				t.Errorf("want two ranks in the launcher's log:\n%s", log)
			}
			// The ranks ran on the two workers, as mpiuser.
			for _, r := range ranks {
				t.Logf("rank %s", r[0])
			}
		})
	}
}

var mpiController struct {
	once   sync.Once
	client client.Client
	err    error
}

// startMPIController runs the MPIJob controller in the test process with
// the real node's image rule and task-pod defaults.
func startMPIController(t *testing.T, node *testcluster.RealNode, _ string) client.Client {
	t.Helper()
	mpiController.once.Do(func() {
		scheme := runtime.NewScheme()
		for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, kubeflow.AddToScheme, apiextensionsv1.AddToScheme} {
			if err := add(scheme); err != nil {
				mpiController.err = err
				return
			}
		}
		c, err := client.New(cluster.Config, client.Options{Scheme: scheme})
		if err != nil {
			mpiController.err = err
			return
		}
		if err := crds.Install(context.Background(), c, time.Minute); err != nil {
			mpiController.err = err
			return
		}
		var pin corev1.PodSpec
		node.Pin(&pin)
		rules := imagerewrite.Rules{Exact: map[string]string{}}
		for _, f := range []string{image.FlavorOpenMPI, image.FlavorMPICH} {
			rules.Exact["mpioperator/mpi-pi:"+f] = image.Registry + "/" + image.MPIImage + ":" + f
		}
		mgr, err := ctrl.NewManager(cluster.Config, ctrl.Options{
			Scheme: scheme, Cache: mpijob.CacheOptions(controller.CacheOptions(nil)),
			Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		})
		if err != nil {
			mpiController.err = err
			return
		}
		err = mpijob.Setup(mgr, mpijob.Options{
			ImageRules: rules,
			PodDefaults: controller.TaskPodDefaults{
				NodeSelector: pin.NodeSelector, Tolerations: pin.Tolerations,
				ImagePullPolicy: corev1.PullNever,
				Requests:        corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
			},
		})
		if err != nil {
			mpiController.err = err
			return
		}
		go func() {
			if err := mgr.Start(context.Background()); err != nil {
				fmt.Fprintf(os.Stderr, "the MPIJob controller stopped: %v\n", err)
			}
		}()
		mpiController.client = c
	})
	if mpiController.err != nil {
		t.Fatal(mpiController.err)
	}
	return mpiController.client
}

// mpiCacheDir keeps the downloaded Debian packages between runs.
func mpiCacheDir(t *testing.T) string {
	t.Helper()
	cache, err := testcluster.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(cache, "mpi-images")
}

// launcherLog is the log of the job's last launcher pod.
func launcherLog(t *testing.T, ns, job string) string {
	t.Helper()
	return podLogs(ns, job, "launcher")
}

// podLogs are the logs of the job's pods of a role (launcher or worker),
// each worker's headed by its name and phase.
func podLogs(ns, job, role string) string {
	pods, err := cluster.Client.CoreV1().Pods(ns).List(context.Background(), metav1ListOptions(kubeflow.JobNameLabel+"="+job+","+kubeflow.JobRoleLabel+"="+role))
	if err != nil || len(pods.Items) == 0 {
		return fmt.Sprintf("(no %s pod: %v)", role, err)
	}
	var out strings.Builder
	for _, p := range pods.Items {
		if role != "launcher" {
			fmt.Fprintf(&out, "--- %s (%s)\n", p.Name, p.Status.Phase)
		}
		rc, err := cluster.Client.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{}).Stream(context.Background())
		if err != nil {
			fmt.Fprintf(&out, "(%s: %v)\n", p.Name, err)
			continue
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		out.Write(data)
	}
	return out.String()
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func metav1ListOptions(selector string) metav1.ListOptions {
	return metav1.ListOptions{LabelSelector: selector}
}
