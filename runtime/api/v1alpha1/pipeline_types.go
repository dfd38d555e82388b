package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultMaxVersions is how many versions a Pipeline keeps when
// spec.maxVersions is not set.
const DefaultMaxVersions = 10

// PipelineSpec is the current content of a pipeline. Changing the content
// adds a version; runs pin one.
//
// +kubebuilder:validation:XValidation:rule="has(self.spec) != has(self.dag)",message="exactly one of spec and dag must be set"
type PipelineSpec struct {
	// description is free text shown with the pipeline.
	// +optional
	Description string `json:"description,omitempty"`
	// spec is a KFP v2 pipeline spec (IR YAML or JSON, as the KFP SDK
	// compiles it, optionally followed by a platform spec document).
	// +optional
	// +kubebuilder:validation:MaxLength=1048576
	Spec string `json:"spec,omitempty"`
	// dag is a native DAG (YAML or JSON), the form an HCL
	// kubeflow_pipeline block holds.
	// +optional
	// +kubebuilder:validation:MaxLength=1048576
	DAG string `json:"dag,omitempty"`
	// maxVersions is how many versions are kept; the oldest go first.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=10
	MaxVersions int32 `json:"maxVersions,omitempty"`
}

// ContentHash is the hash that names the content (format and text): the
// controller adds a version when it changes, and the provider plans one.
func (s PipelineSpec) ContentHash() string {
	h := sha256.New()
	if s.Spec != "" {
		h.Write([]byte("spec\x00" + s.Spec))
	} else {
		h.Write([]byte("dag\x00" + s.DAG))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// PipelineVersion is one immutable version of a pipeline's content. The
// content itself is kept out of the status, in an immutable ConfigMap of
// the pipeline's namespace (gzipped), so that the status stays small
// however many versions of however large a pipeline are kept; readers
// check it against contentHash.
type PipelineVersion struct {
	// number counts versions from 1; numbers are never reused.
	Number int32 `json:"number"`
	// contentHash is the SHA-256 of the content (format and text).
	ContentHash string `json:"contentHash"`
	// created is when the version was added.
	Created metav1.Time `json:"created"`
	// configMap names the ConfigMap holding the version's content.
	ConfigMap string `json:"configMap"`
}

// PipelineStatus records the pipeline's versions.
type PipelineStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// latestVersion is the newest version's number (0: none is valid yet).
	// +optional
	LatestVersion int32 `json:"latestVersion,omitempty"`
	// contentHash is the newest version's content hash.
	// +optional
	ContentHash string `json:"contentHash,omitempty"`
	// versions are the kept versions, oldest first. A version dropped
	// (maxVersions) or of a deleted pipeline keeps its content until the
	// runs that use it have ended.
	// +optional
	// +listType=map
	// +listMapKey=number
	Versions []PipelineVersion `json:"versions,omitempty"`
	// conditions are Ready (the current content is valid and is the
	// latest version).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Version returns the version numbered n, or nil.
func (s *PipelineStatus) Version(n int32) *PipelineVersion {
	for i := range s.Versions {
		if s.Versions[i].Number == n {
			return &s.Versions[i]
		}
	}
	return nil
}

// Pipeline is a named pipeline with immutable, numbered versions.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=kfp
// +kubebuilder:printcolumn:name="Version",type=integer,JSONPath=`.status.latestVersion`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Pipeline struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the pipeline's current content.
	Spec PipelineSpec `json:"spec"`
	// status holds the versions.
	// +optional
	Status PipelineStatus `json:"status,omitempty"`
}

// PipelineList is a list of Pipelines.
//
// +kubebuilder:object:root=true
type PipelineList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the pipelines.
	Items []Pipeline `json:"items"`
}
