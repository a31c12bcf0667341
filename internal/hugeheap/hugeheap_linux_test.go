package hugeheap

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// residentBytes returns the process's resident memory.
func residentBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(b))
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// vmstat returns a counter of /proc/vmstat, -1 where it has none.
func vmstat(t *testing.T, name string) int64 {
	b, err := os.ReadFile("/proc/vmstat")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == name {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	return -1
}

// hugeBytesIn returns the AnonHugePages of the mappings that overlap
// [lo, hi).
func hugeBytesIn(t *testing.T, lo, hi uintptr) int64 {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var total int64
	overlaps := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var start, end uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &start, &end); n == 2 {
			overlaps = start < hi && lo < end
			continue
		}
		if overlaps && strings.HasPrefix(line, "AnonHugePages:") {
			kb, err := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			total += kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}

// The heap a run allocates after Reserve comes on huge pages, and Reserve
// itself leaves the reserved stretch untouched.
func TestReservedHeapComesOnHugePages(t *testing.T) {
	setting, err := os.ReadFile(thpDir + "enabled")
	if err != nil || parseMode(string(setting)) != "madvise" {
		t.Skipf("transparent huge pages are not in madvise mode here (%q)", strings.TrimSpace(string(setting)))
	}
	if disabledByGODEBUG(os.Getenv("GODEBUG")) {
		t.Skip("GODEBUG=disablethp=1")
	}
	const size = 512 << 20
	before := residentBytes(t)
	r := Reserve(size)
	if r.Advised < size-2*HugePageSize() {
		t.Fatalf("Reserve advised %d bytes of %d: %v", r.Advised, size, r)
	}
	if grew := residentBytes(t) - before; grew > 32<<20 {
		t.Fatalf("reserving grew resident memory by %d MiB: the stretch was written", grew>>20)
	}
	if again := Reserve(size); again != r {
		t.Fatalf("a second Reserve did something else: %v, then %v", r, again)
	}

	fallbacks := vmstat(t, "thp_fault_fallback")
	buf := make([]byte, 64<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	lo := uintptr(unsafe.Pointer(&buf[0]))
	if huge := hugeBytesIn(t, lo, lo+uintptr(len(buf))); huge < 32<<20 {
		// The kernel counts the faults where it tried for a huge page and
		// had none free; memory never advised is not tried.
		switch after := vmstat(t, "thp_fault_fallback"); {
		case fallbacks < 0 || after < 0:
			t.Skipf("%d MiB of 64 on huge pages, and no thp_fault_fallback in /proc/vmstat to tell why", huge>>20)
		case after > fallbacks:
			t.Skipf("the kernel had no free huge page for %d faults", after-fallbacks)
		}
		t.Fatalf("a 64 MiB buffer allocated after Reserve has %d MiB on huge pages, want most of it", huge>>20)
	}
}
