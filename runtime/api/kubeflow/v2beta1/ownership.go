package v2beta1

import (
	"fmt"
	"sort"
	"strings"
)

// InstalledByKfstackAnnotation marks the objects kubeflow_runtime created
// (bootstrap.InventoryAnnotation). A MPIJob CRD without it was installed
// by someone else, mpi-operator most likely, whose controller then owns
// MPIJobs: kubeflow_runtime adopts such a CRD without marking it.
const InstalledByKfstackAnnotation = "kfstack.dev/inventory"

// ControllerModes are the values of kfstack-runtime controller's
// --mpi-jobs (and kubeflow_runtime's mpi_jobs).
var ControllerModes = []string{"auto", "true", "false"}

// OwnedElsewhere reports whether the MPIJob CRD, with these annotations
// and labels, belongs to another installation: in mode auto, the runtime's
// MPIJob controller then stays off. why says what was found, for the log
// and kubeflow_runtime's state.
func OwnedElsewhere(annotations, labels map[string]string) (bool, string) {
	if annotations[InstalledByKfstackAnnotation] != "" {
		return false, fmt.Sprintf("the CRD %s was installed by kfstack (%s)", CRDName, annotations[InstalledByKfstackAnnotation])
	}
	var hints []string
	for k, v := range labels {
		if strings.Contains(v, "mpi-operator") || strings.Contains(k, "mpi-operator") {
			hints = append(hints, k+"="+v)
		}
	}
	sort.Strings(hints)
	why := fmt.Sprintf("the CRD %s was installed by another tool (it has no %s annotation)", CRDName, InstalledByKfstackAnnotation)
	if len(hints) > 0 {
		why += ", labelled " + strings.Join(hints, ", ")
	}
	return true, why + ": another controller, such as kubeflow/mpi-operator, owns MPIJobs"
}
