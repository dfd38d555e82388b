// Package provider implements the kubeflow Terraform provider.
package provider
