// Package normalize holds the throughput benchmarks of the text normalizers
// (transforms/normalize) on real web text; see RESULTS.md for figures and
// how to reproduce them.
package normalize
