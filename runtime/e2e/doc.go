// Package e2e holds the runtime's end-to-end tests on the local cluster's
// real node: KFP pipelines run by the controller with the pod executor in
// real containers (kubelet on containerd), outputs passed through
// termination messages and artifacts through a file:// pipeline root on a
// hostPath. Without root the cluster has no real node and the tests skip,
// saying why.
package e2e
