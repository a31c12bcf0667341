package hugeheap

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

const thpDir = "/sys/kernel/mm/transparent_hugepage/"

// DefaultSize returns the stretch the commands reserve: 2 GiB, or less on a
// small machine (a quarter of its memory) or under a memory limit (half of
// it). Address space costs nothing until used, but the runtime writes a
// megabyte of bookkeeping per gigabyte of heap it maps.
func DefaultSize() int64 {
	size := int64(2 << 30)
	var info unix.Sysinfo_t
	if unix.Sysinfo(&info) == nil {
		if ram := int64(info.Totalram) * int64(info.Unit); ram > 0 {
			size = min(size, ram/4)
		}
	}
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
		size = min(size, limit/2)
	}
	return size
}

func reserve(size int64) Result {
	if disabledByGODEBUG(os.Getenv("GODEBUG")) {
		return Result{Skipped: "GODEBUG=disablethp=1"}
	}
	setting := readSetting(thpDir + "enabled")
	if setting == "" {
		return Result{Skipped: "the kernel has no transparent huge pages"}
	}
	r := Result{Mode: parseMode(setting)}
	switch r.Mode {
	case "madvise":
	case "always":
		r.Skipped = "the kernel gives them to all memory"
		return r
	default:
		r.Skipped = "transparent huge pages are " + strconv.Quote(r.Mode)
		return r
	}
	if strings.TrimSpace(readSetting("/proc/sys/vm/overcommit_memory")) == "2" {
		// Strict accounting would charge the whole stretch, written or not,
		// for as long as the process lives.
		r.Skipped = "vm.overcommit_memory is 2"
		return r
	}
	if unsafe.Sizeof(uintptr(0)) < 8 {
		r.Skipped = "a 32-bit address space"
		return r
	}
	huge := HugePageSize()
	switch {
	case huge <= 0:
		r.Skipped = "the kernel does not say how large its huge pages are"
		return r
	case size < 2*huge:
		r.Skipped = "the stretch is smaller than two huge pages"
		return r
	}
	sb, mem := reservation(size)
	if advised, err := adviseWithin(mem, huge); err != nil {
		r.Skipped = "madvise: " + err.Error()
	} else {
		r.Advised = advised
	}
	sb.Reset() // the last reference to the stretch
	// The stretch was live during the collection its allocation started;
	// a full one now frees it before anything else is allocated, and sets
	// the heap's goal from what is really live.
	runtime.GC()
	return r
}

// readSetting returns the contents of a kernel setting file, "" when it
// cannot be read.
func readSetting(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

// HugePageSize returns the size of the kernel's transparent huge pages
// (2 MiB on x86-64), or 0 when it is unknown.
func HugePageSize() int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(readSetting(thpDir+"hpage_pmd_size")), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// Advise asks for huge pages under the whole huge pages inside b (memory
// about to be written for the first time, such as a large matrix). It
// does nothing where they cannot be had; failure is harmless.
func Advise(b []byte) {
	if huge := HugePageSize(); huge > 0 {
		_, _ = adviseWithin(b, huge)
	}
}

// adviseWithin asks for huge pages (of huge bytes) under the whole huge
// pages inside b, and returns how many bytes that covers.
func adviseWithin(b []byte, huge int64) (int64, error) {
	offset, length := alignedWithin(uintptrOf(b), int64(len(b)), huge)
	if length == 0 {
		return 0, nil
	}
	return length, unix.Madvise(b[offset:offset+length], unix.MADV_HUGEPAGE)
}
