// Package lint pins golangci-lint (make lint).
package lint
