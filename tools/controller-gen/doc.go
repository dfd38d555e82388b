// Package controllergen pins controller-gen, which generates the runtime's
// CRDs and deepcopy functions (`go generate ./runtime/api/...`), in a module
// of its own so that its dependencies stay out of the provider's go.mod.
package controllergen
