package runner

import (
	"os"
	"runtime"
	"runtime/debug"
)

// LimitHeapAbove sets the collector's soft memory limit to the live heap
// now plus extra bytes, unless GOMEMLIMIT is set. It returns the limit in
// force afterwards and a function that puts back the one in force before.
//
// A step calls it once it holds what dominates its heap until it ends, a
// model's pointer-free matrices: by default the collector lets garbage grow
// to the live heap's size again before it collects, so a large model would
// double the peak memory, and faulting in that fresh memory slows the run.
// Measuring the heap, rather than a model file, counts what loading made of
// it: float16 and bfloat16 checkpoints widened to float32, every shard of a
// sharded checkpoint, tables built at load.
func LimitHeapAbove(extra int64) (limit int64, restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1), func() {}
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	limit = int64(m.HeapAlloc) + extra
	before := debug.SetMemoryLimit(limit)
	return limit, func() { debug.SetMemoryLimit(before) }
}
