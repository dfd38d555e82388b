package launcher

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// PVCRequest is what a kfp-kubernetes CreatePVC or DeletePVC task asks
// for, read from its resolved inputs.
type PVCRequest struct {
	// Name is the claim's name.
	Name string
	// Size is the requested storage (CreatePVC).
	Size string
	// AccessModes of the claim (CreatePVC).
	AccessModes []string
	// StorageClassName is the class; nil leaves it to the cluster.
	StorageClassName *string
	// VolumeName binds a pre-existing volume.
	VolumeName string
	// Annotations go on the claim.
	Annotations map[string]string
	// DataSource clones a claim or restores a snapshot (apiGroup, kind, name).
	DataSource map[string]string
}

var invalidNameChars = regexp.MustCompile(`[^a-z0-9.-]+`)

// PVCName is the name of a claim that CreatePVC names by a suffix: the
// run's name and the suffix, as KFP makes it from the workflow's name, cut
// to a valid object name.
func PVCName(runID, suffix string) string {
	name := invalidNameChars.ReplaceAllString(strings.ToLower(runID+suffix), "-")
	name = strings.Trim(name, "-.")
	if len(name) > 253 {
		sum := sha256.Sum256([]byte(name))
		name = strings.Trim(name[:240], "-.") + "-" + hex.EncodeToString(sum[:])[:10]
	}
	return name
}

// NewPVCRequest reads a CreatePVC or DeletePVC task's inputs.
func NewPVCRequest(run *engine.TaskRun) (*PVCRequest, error) {
	p := run.Params
	str := func(name string) string {
		if v, ok := p[name]; ok && v != nil {
			return pipeline.FormatParameter(v)
		}
		return ""
	}
	switch run.Component.Executor.Kind {
	case pipeline.ExecDeletePVC:
		name := str("pvc_name")
		if name == "" {
			return nil, fmt.Errorf("DeletePVC task %q: pvc_name has no value", run.Path)
		}
		return &PVCRequest{Name: name}, nil
	case pipeline.ExecCreatePVC:
	default:
		return nil, fmt.Errorf("task %q is not a PVC task", run.Path)
	}
	r := &PVCRequest{Size: str("size"), VolumeName: str("volume_name")}
	name, suffix := str("pvc_name"), str("pvc_name_suffix")
	switch {
	case name != "" && suffix != "":
		return nil, fmt.Errorf("CreatePVC task %q: give pvc_name or pvc_name_suffix, not both", run.Path)
	case name != "":
		r.Name = name
	case suffix != "":
		r.Name = PVCName(run.RunID, suffix)
	default:
		r.Name = PVCName(run.RunID, "-"+run.Name)
	}
	if r.Size == "" {
		return nil, fmt.Errorf("CreatePVC task %q: size has no value", run.Path)
	}
	if modes, ok := p["access_modes"].([]any); ok {
		for _, m := range modes {
			r.AccessModes = append(r.AccessModes, pipeline.FormatParameter(m))
		}
	}
	if len(r.AccessModes) == 0 {
		return nil, fmt.Errorf("CreatePVC task %q: access_modes is empty", run.Path)
	}
	// An empty class (the component's default) leaves the class to the
	// cluster, unless a pre-existing volume is named: then "" binds it
	// statically.
	if sc := str("storage_class_name"); sc != "" {
		r.StorageClassName = &sc
	} else if r.VolumeName != "" {
		r.StorageClassName = &sc
	}
	if m, ok := p["annotations"].(map[string]any); ok {
		r.Annotations = map[string]string{}
		for k, v := range m {
			r.Annotations[k] = pipeline.FormatParameter(v)
		}
	}
	if m, ok := p["data_source"].(map[string]any); ok {
		r.DataSource = map[string]string{}
		for k, v := range m {
			r.DataSource[k] = pipeline.FormatParameter(v)
		}
	}
	return r, nil
}
