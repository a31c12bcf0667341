package fasttext

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// adviseHugePages asks the kernel to back data with transparent huge pages
// (where it is set to "madvise"). The input matrix is large and touched at
// random rows; 2 MB pages cut page faults and TLB misses. Failure is
// harmless and ignored.
func adviseHugePages(data []float32) {
	const huge = 2 << 20
	if len(data)*4 < 2*huge {
		return
	}
	start := uintptr(unsafe.Pointer(&data[0]))
	end := start + uintptr(len(data))*4
	alignedStart := (start + huge - 1) &^ (huge - 1)
	alignedEnd := end &^ (huge - 1)
	if alignedEnd <= alignedStart {
		return
	}
	first := (alignedStart - start) / 4
	b := unsafe.Slice((*byte)(unsafe.Pointer(&data[first])), alignedEnd-alignedStart)
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
}
