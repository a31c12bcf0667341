//go:build !(amd64 && goexperiment.simd)

package head

// SIMDKernels reports whether GoMLX's Go backend was built with its SIMD
// (AVX2/AVX-512) kernels, GOEXPERIMENT=simd. With them the Predictor
// outruns Forward on the CPU for batches of 16 rows and more; without
// them Forward is the faster at every batch size (BenchmarkForward).
const SIMDKernels = false
