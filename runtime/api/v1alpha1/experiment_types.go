package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultExperiment is the experiment of a run that names none. It needs no
// Experiment object: the UI shows the namespace's runs under it either way.
const DefaultExperiment = "default"

// ExperimentSpec describes a group of runs that are compared with each
// other (the same question asked with other parameters, say).
type ExperimentSpec struct {
	// description is free text shown with the experiment.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Description string `json:"description,omitempty"`
	// archived hides the experiment and its runs from the UI's default
	// views; the admission webhook refuses new runs in it. Runs already
	// in it are kept and finish.
	// +optional
	Archived bool `json:"archived,omitempty"`
}

// Experiment groups the runs of a namespace that name it in
// spec.experiment, so that they can be compared side by side.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=kfexp
// +kubebuilder:printcolumn:name="Archived",type=boolean,JSONPath=`.spec.archived`
// +kubebuilder:printcolumn:name="Description",type=string,JSONPath=`.spec.description`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Experiment struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the experiment.
	// +optional
	Spec ExperimentSpec `json:"spec,omitempty"`
}

// ExperimentList is a list of Experiments.
//
// +kubebuilder:object:root=true
type ExperimentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the experiments.
	Items []Experiment `json:"items"`
}

// ExperimentOf returns the experiment a run belongs to: its
// spec.experiment, or DefaultExperiment when that is empty (a run stored
// before the field existed).
func ExperimentOf(run *PipelineRun) string {
	return ExperimentOrDefault(run.Spec.Experiment)
}

// ExperimentOrDefault is the experiment an experiment field names: itself,
// or DefaultExperiment when empty (a run's, or a schedule's run template).
func ExperimentOrDefault(name string) string {
	if name == "" {
		return DefaultExperiment
	}
	return name
}
