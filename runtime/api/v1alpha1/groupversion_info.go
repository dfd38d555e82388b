// Package v1alpha1 is the pipelines.kfstack.dev/v1alpha1 API: Pipeline
// (versioned pipeline content), PipelineRun (one execution, driven by
// the runtime controller), Experiment (a group of runs to compare) and
// Schedule (runs made on a cron schedule or an interval).
//
// +kubebuilder:object:generate=true
// +groupName=pipelines.kfstack.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

//go:generate go tool -modfile=../../../tools/controller-gen/go.mod controller-gen object paths=./...
//go:generate go tool -modfile=../../../tools/controller-gen/go.mod controller-gen crd paths=./... output:crd:artifacts:config=../crds

// GroupVersion is the API group and version of these types.
var GroupVersion = schema.GroupVersion{Group: "pipelines.kfstack.dev", Version: "v1alpha1"}

var (
	// SchemeBuilder registers the types with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the types of this group version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Pipeline{}, &PipelineList{}, &PipelineRun{}, &PipelineRunList{}, &Experiment{}, &ExperimentList{}, &Schedule{}, &ScheduleList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
