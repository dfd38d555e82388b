package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/controller"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/mpijob"
)

// mpiFlags are the controller's flags for MPIJobs.
type mpiFlags struct {
	mode          string
	gangScheduler string
	workers       int
}

func (f *mpiFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.mode, "mpi-jobs", "auto", "run the MPIJob (kubeflow.org/v2beta1) controller: true, false, or auto (on unless another controller, such as mpi-operator, installed the MPIJob CRD)")
	fs.StringVar(&f.gangScheduler, "mpi-gang-scheduler", "", "gang scheduler of MPI jobs: volcano, or the name of a scheduler-plugins coscheduling scheduler; each job gets a PodGroup (empty: none)")
	fs.IntVar(&f.workers, "max-concurrent-mpi-jobs", 8, "MPIJobs reconciled at once")
}

func (f *mpiFlags) validate() error {
	if !slices.Contains(kubeflow.ControllerModes, f.mode) {
		return fmt.Errorf("--mpi-jobs %q is not true, false or auto", f.mode)
	}
	if f.workers < 1 {
		return fmt.Errorf("--max-concurrent-mpi-jobs must be at least 1")
	}
	return nil
}

// decide says whether this controller runs MPIJobs, and why, as the log
// says it: with auto, only when the cluster serves MPIJobs and their CRD
// is kfstack's; with true, once the CRD is served (waiting for it).
func (f *mpiFlags) decide(ctx context.Context, cfg *rest.Config, stderr io.Writer) (bool, error) {
	if f.mode == "false" {
		fmt.Fprintln(stderr, "MPIJob controller: off (--mpi-jobs=false)")
		return false, nil
	}
	scheme := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return false, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return false, fmt.Errorf("creating a client: %w", err)
	}
	var last time.Time
	for {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		err := c.Get(ctx, client.ObjectKey{Name: kubeflow.CRDName}, crd)
		switch {
		case err == nil && established(crd):
			if f.mode == "auto" {
				if other, why := kubeflow.OwnedElsewhere(crd.Annotations, crd.Labels); other {
					fmt.Fprintf(stderr, "MPIJob controller: off (--mpi-jobs=auto): %s\n", why)
					return false, nil
				}
			}
			fmt.Fprintf(stderr, "MPIJob controller: on (--mpi-jobs=%s)\n", f.mode)
			return true, nil
		case err != nil && !apierrors.IsNotFound(err):
			return false, fmt.Errorf("reading the CRD %s: %w", kubeflow.CRDName, err)
		case f.mode == "auto":
			fmt.Fprintf(stderr, "MPIJob controller: off (--mpi-jobs=auto): the cluster does not serve %s MPIJobs (no CRD %s)\n", kubeflow.GroupVersion, kubeflow.CRDName)
			return false, nil
		}
		if time.Since(last) > 30*time.Second {
			fmt.Fprintf(stderr, "MPIJob controller: waiting for the CRD %s (--mpi-jobs=true)\n", kubeflow.CRDName)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("stopped while waiting for the CRD %s", kubeflow.CRDName)
		case <-time.After(time.Second):
		}
	}
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// setup registers the MPIJob controller, with the task pods' image rules
// and defaults.
func (f *mpiFlags) setup(mgr ctrl.Manager, opts controller.Options) error {
	if err := mpijob.Setup(mgr, mpijob.Options{
		MaxConcurrentReconciles: f.workers,
		GangScheduler:           f.gangScheduler,
		ImageRules:              opts.ImageRules,
		PodDefaults:             opts.TaskPodDefaults,
	}); err != nil {
		return fmt.Errorf("setting up the MPIJob controller: %w", err)
	}
	return nil
}
