//go:build !linux

package fasttext

// adviseHugePages is a no-op outside Linux.
func adviseHugePages([]float32) {}
