// Package kwok pins KWOK, which simulates the CPU, GPU and TPU nodes of the
// local test cluster. Its stage definitions are copied from this module's
// source next to the built binary.
package kwok
