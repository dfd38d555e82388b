// Package docs pins tfplugindocs, which generates docs/ from the provider's
// schema and examples/ (make generate).
package docs
