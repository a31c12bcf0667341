package runner

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestLimitHeapAboveCountsTheLiveHeapAndRestores(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	t.Setenv("GOMEMLIMIT", "")
	const held, extra = 64 << 20, 32 << 20
	model := make([]byte, held)
	for i := range model {
		model[i] = byte(i)
	}
	limit, restore := LimitHeapAbove(extra)
	runtime.KeepAlive(model)
	if limit < held+extra || limit > held+extra+64<<20 {
		t.Errorf("limit %d MiB with %d MiB held and %d MiB extra", limit>>20, held>>20, extra>>20)
	}
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("limit in force %d, returned %d", got, limit)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("after restore the limit is %d, want the one before", got)
	}
}

func TestLimitHeapAboveLeavesGOMEMLIMITAlone(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(1 << 40))
	t.Setenv("GOMEMLIMIT", "1TiB")
	limit, restore := LimitHeapAbove(32 << 20)
	restore()
	if limit != 1<<40 || debug.SetMemoryLimit(-1) != 1<<40 {
		t.Errorf("with GOMEMLIMIT set, the limit became %d", limit)
	}
}
