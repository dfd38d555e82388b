// Package containerd pins containerd v2 and its runc shim, which the local
// cluster's real node runs under kubelet. Debian's containerd 1.6 speaks
// CRI v1 but kubelet 1.37 warns that its support ends with 1.38; v2 builds
// from the Go module proxy and works with Debian's runc.
package containerd
