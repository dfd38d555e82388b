// Package v2beta1 is the kubeflow.org/v2beta1 API of kubeflow/mpi-operator,
// MPIJob, written here so that the runtime's MPI controller accepts every
// manifest made for mpi-operator: the generated CRD has every field of
// upstream's with the same type (runtime/api/crds), plus validation that
// refuses at admission what upstream's controller would only report later.
//
// +kubebuilder:object:generate=true
// +groupName=kubeflow.org
package v2beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

//go:generate go tool -modfile=../../../../tools/controller-gen/go.mod controller-gen object paths=./...
//go:generate go tool -modfile=../../../../tools/controller-gen/go.mod controller-gen crd:generateEmbeddedObjectMeta=true paths=./... output:crd:artifacts:config=../../crds

// GroupVersion is the API group and version of MPIJob.
var GroupVersion = schema.GroupVersion{Group: "kubeflow.org", Version: "v2beta1"}

// SchemeGroupVersionKind is MPIJob's group, version and kind.
var SchemeGroupVersionKind = GroupVersion.WithKind("MPIJob")

var (
	// SchemeBuilder registers the types with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the types of this group version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &MPIJob{}, &MPIJobList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// CRDName is the name of MPIJob's CustomResourceDefinition.
const CRDName = "mpijobs.kubeflow.org"
