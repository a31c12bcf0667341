//go:build !linux || !(amd64 || arm64)

package fasttext

import "os"

// mapFloats does not map files here (see mmap_linux.go): matrices are read.
func mapFloats(*os.File, int64, int64, *denseMatrix) ([]float32, bool) { return nil, false }
