// Package k8s pins the Kubernetes control-plane binaries (kube-apiserver,
// kube-controller-manager, kube-scheduler, kubelet) that the local test
// cluster runs. It is a separate module so that the provider's go.mod never
// depends on k8s.io/kubernetes.
package k8s
