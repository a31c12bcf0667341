//go:build !amd64 || purego

package fasttext

// archKernelSets returns no vectorised kernels: the generic ones serve.
func archKernelSets() []kernelSet { return nil }
