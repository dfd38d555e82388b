package controller

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// checkExperiment refuses a new run in an archived experiment and warns
// about an experiment that has no Experiment object (the run is grouped
// under the name all the same). The namespace's default experiment needs
// no object.
func (v PipelineRunValidator) checkExperiment(ctx context.Context, run *v1alpha1.PipelineRun) (admission.Warnings, field.ErrorList) {
	name := v1alpha1.ExperimentOf(run)
	at := field.NewPath("spec", "experiment")
	exp := &v1alpha1.Experiment{}
	if err := v.Reader.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: name}, exp); err != nil {
		switch {
		case apierrors.IsNotFound(err) && name == v1alpha1.DefaultExperiment:
			return nil, nil
		case apierrors.IsNotFound(err):
			return admission.Warnings{fmt.Sprintf("%s: experiment %q has no Experiment object in namespace %s; the run is grouped under that name", at, name, run.Namespace)}, nil
		default:
			return admission.Warnings{fmt.Sprintf("%s: experiment %q was not checked: %v", at, name, err)}, nil
		}
	}
	if exp.Spec.Archived {
		return nil, field.ErrorList{field.Forbidden(at, fmt.Sprintf("experiment %q is archived: unarchive it (spec.archived: false) or start the run in another experiment", name))}
	}
	return nil, nil
}
