//go:build !linux

package hugeheap

// DefaultSize returns 0 outside Linux.
func DefaultSize() int64 { return 0 }

func reserve(int64) Result { return Result{Skipped: "not Linux"} }

// HugePageSize returns 0 outside Linux.
func HugePageSize() int64 { return 0 }

// Advise does nothing outside Linux.
func Advise([]byte) {}
