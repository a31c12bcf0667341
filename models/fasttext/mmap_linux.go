//go:build linux && (amd64 || arm64)

package fasttext

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapFloats maps n float32 values of f at byte offset off, privately (the
// process's writes go to copies of the pages; the file is never written)
// and populated (in the page tables before it returns, so that predictions
// do not fault pages in one at a time). The values are then the page
// cache's pages: loading allocates and copies nothing, and processes that
// load the same model share one copy in memory and in the CPU caches.
//
// The rows of a large matrix are read at random, so the mapping must use
// 2 MB pages (with 4 KB pages prediction ran four times slower, from TLB
// misses). File pages are mapped that way only when the page cache holds
// them in 2 MB folios, which it builds when a huge-page mapping faults them
// in but not when the file was read or written in small pieces. When less
// than 90% of the mapping is in 2 MB pages and the file is on a local disk
// filesystem that can hold large folios (ext4, XFS, Btrfs), the file's
// cached pages are dropped (POSIX_FADV_DONTNEED, which spares pages other
// processes map) and faulted in again through the mapping, from the disk;
// later loads then find them ready. If that does not help, mapFloats gives
// up: ok is false and the caller reads the matrix into memory of its own.
//
// The mapping is released once owner is unreachable. A mapped model file
// must not be truncated or rewritten in place while a process uses it
// (Save replaces files by renaming, which is safe).
func mapFloats(f *os.File, off, n int64, owner *denseMatrix) (data []float32, ok bool) {
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() || info.Size() < off+4*n || 4*n < mapMatrixMinBytes {
		return nil, false
	}
	page := int64(os.Getpagesize())
	start := off &^ (page - 1)
	length := off - start + 4*n
	mem, huge, err := mapPopulated(f, start, length)
	if err != nil {
		return nil, false
	}
	if huge < 0.9 && largeFolioFS(f) {
		unix.Munmap(mem)
		_ = unix.Fadvise(int(f.Fd()), start, length, unix.FADV_DONTNEED)
		if mem, huge, err = mapPopulated(f, start, length); err != nil {
			return nil, false
		}
	}
	if huge < 0.9 || unix.Mprotect(mem, unix.PROT_READ|unix.PROT_WRITE) != nil {
		unix.Munmap(mem)
		return nil, false
	}
	runtime.AddCleanup(owner, func(mem []byte) { unix.Munmap(mem) }, mem)
	return unsafe.Slice((*float32)(unsafe.Pointer(&mem[off-start])), n), true
}

// largeFolioFS reports whether f is on a local disk filesystem whose page
// cache holds large folios on current kernels.
func largeFolioFS(f *os.File) bool {
	var st unix.Statfs_t
	if unix.Fstatfs(int(f.Fd()), &st) != nil {
		return false
	}
	switch uint32(st.Type) {
	case unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC, unix.BTRFS_SUPER_MAGIC:
		return true
	}
	return false
}

// mapPopulated maps length bytes of f from start (a page boundary) read
// only, advised onto huge pages and faulted in, and returns the share of
// it mapped with 2 MB pages.
func mapPopulated(f *os.File, start, length int64) ([]byte, float64, error) {
	mem, err := unix.Mmap(int(f.Fd()), start, int(length), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		return nil, 0, err
	}
	_ = unix.Madvise(mem, unix.MADV_HUGEPAGE)
	if err := unix.Madvise(mem, unix.MADV_POPULATE_READ); err != nil {
		unix.Munmap(mem) // before Linux 5.14
		return nil, 0, err
	}
	huge, err := hugeShare(uintptr(unsafe.Pointer(&mem[0])))
	if err != nil {
		unix.Munmap(mem)
		return nil, 0, err
	}
	return mem, huge, nil
}

// hugeShare returns the share of the mapping starting at addr that is
// mapped with 2 MB pages, from /proc/self/smaps.
func hugeShare(addr uintptr) (float64, error) {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	prefix := []byte(strconv.FormatUint(uint64(addr), 16) + "-")
	sc := bufio.NewScanner(bytes.NewReader(b))
	var size, pmd int64
	in := false
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.HasPrefix(line, prefix) {
			in = true
			continue
		}
		if !in {
			continue
		}
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok || bytes.IndexByte(key, ' ') >= 0 {
			break // the next mapping's header
		}
		switch string(key) {
		case "Size":
			size = kB(val)
		case "FilePmdMapped":
			pmd = kB(val)
		}
	}
	if size == 0 {
		return 0, fmt.Errorf("mapping at %#x not found in /proc/self/smaps", addr)
	}
	return float64(pmd) / float64(size), nil
}

// kB parses the value of an smaps field ("  1234 kB").
func kB(v []byte) int64 {
	n, _ := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))), 10, 64)
	return n
}
