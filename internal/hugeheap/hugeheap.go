// Package hugeheap asks the kernel to back the Go heap with transparent huge
// pages.
//
// Where Linux hands out transparent huge pages only to memory that asks for
// them ("madvise" mode, the default of several distributions), the Go heap
// gets 4 KiB pages: the runtime no longer asks. A shard job's heap is a few
// hundred megabytes rewritten several times a second, so every page of it is
// faulted in once, and on a virtual machine a first-touch fault costs 10 to
// 15 µs: tens of thousands of them are a tenth of a run. With 2 MiB pages a
// run takes a hundred faults instead, and fewer TLB misses.
//
// Reserve maps a stretch of heap address space at process start without
// touching it, advises it onto huge pages and frees it again; the runtime
// then places the heap's first gigabytes there, in address order. Setting
// GODEBUG=disablethp=1, Go's own switch for huge pages on the heap, turns it
// off.
package hugeheap

import (
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

// Result says what Reserve did.
type Result struct {
	// Mode is the kernel's setting for anonymous memory ("always",
	// "madvise", "never"), empty where it is unknown.
	Mode string
	// Advised is how many bytes of heap address space were advised.
	Advised int64
	// Skipped says why nothing was advised, when nothing was.
	Skipped string
}

func (r Result) String() string {
	if r.Skipped != "" {
		return "heap on huge pages: no (" + r.Skipped + ")"
	}
	return fmt.Sprintf("heap on huge pages: the first %d MiB of it", r.Advised>>20)
}

var (
	mu       sync.Mutex
	reserved *Result
)

// Reserve advises the first size bytes of heap the process will use onto
// huge pages. It is meant for the start of main: the runtime places heap
// memory lowest address first, so the stretch, reserved while the heap is a
// few megabytes, is where the heap then grows. It writes none of the
// stretch; pages of it the heap had already written keep their 4 KiB
// pages. Later calls return the first call's result.
func Reserve(size int64) Result {
	mu.Lock()
	defer mu.Unlock()
	if reserved == nil {
		r := reserve(size)
		reserved = &r
	}
	return *reserved
}

// Status returns what Reserve did, without reserving.
func Status() Result {
	mu.Lock()
	defer mu.Unlock()
	if reserved == nil {
		return Result{Skipped: "not asked for"}
	}
	return *reserved
}

// disabledByGODEBUG reports whether godebug (a GODEBUG value) sets
// disablethp=1; the last setting of a key wins, as in the runtime.
func disabledByGODEBUG(godebug string) bool {
	off := false
	for _, kv := range strings.Split(godebug, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok && k == "disablethp" {
			off = v == "1"
		}
	}
	return off
}

// parseMode returns the bracketed choice of a transparent_hugepage setting
// file ("always [madvise] never" → "madvise").
func parseMode(setting string) string {
	_, rest, ok := strings.Cut(setting, "[")
	if !ok {
		return ""
	}
	mode, _, ok := strings.Cut(rest, "]")
	if !ok {
		return ""
	}
	return mode
}

// alignedWithin returns the part of [base, base+n) that starts and ends on
// multiples of align (a power of two), as an offset from base and a length;
// the length is 0 when no whole aligned block fits.
func alignedWithin(base uintptr, n int64, align int64) (offset, length int64) {
	a := uintptr(align)
	start := (base + a - 1) &^ (a - 1)
	end := (base + uintptr(n)) &^ (a - 1)
	if end <= start {
		return 0, 0
	}
	return int64(start - base), int64(end - start)
}

// reservation returns size bytes of heap memory without writing to them
// (strings.Builder grows its buffer without zeroing it, for it will
// overwrite it; TestReservedHeapComesOnHugePages fails should that change),
// as a slice over the whole buffer, and the builder that keeps it alive.
func reservation(size int64) (*strings.Builder, []byte) {
	var sb strings.Builder
	sb.Grow(int(size))
	sb.WriteByte(0) // the buffer's first page, to reach it through String
	mem := unsafe.Slice(unsafe.StringData(sb.String()), size)
	return &sb, mem
}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
