//go:build unix

// Command faultcost prints what the first touch of a fresh 4 KiB page of
// anonymous memory costs on this machine, the price of every page a
// process's heap grows by. In some virtual machines it is ten times a bare
// machine's, and then a run's page faults weigh as much as its work. Where
// the kernel hands out transparent huge pages on request, it also prints
// the cost of a fresh huge page (see internal/hugeheap).
package main

import (
	"fmt"
	"log"
	"os"
	"sort"
	"syscall"
	"time"

	"github.com/winnowlabs/winnow/internal/hugeheap"
)

const size = 64 << 20

func main() {
	page := os.Getpagesize()
	fmt.Printf("first touch of a fresh %d-byte page: %.1f µs (median of 5 × %d pages)\n",
		page, medianTouch(false)/float64(size/page), size/page)
	if huge := hugeheap.HugePageSize(); huge > 0 {
		perHuge := medianTouch(true) / float64(size/huge)
		fmt.Printf("first touch of a fresh %d KiB huge page, asked for with madvise: %.1f µs (%.2f µs per %d bytes; median of 5 × %d pages)\n",
			huge>>10, perHuge, perHuge*float64(page)/float64(huge), page, size/huge)
	}
}

// medianTouch returns the median, over five fresh mappings of size bytes,
// of the µs it takes to write one byte in each of their pages.
func medianTouch(huge bool) float64 {
	page := os.Getpagesize()
	var took []float64
	for range 5 {
		b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			log.Fatalf("mmap: %v", err)
		}
		if huge {
			hugeheap.Advise(b)
		}
		start := time.Now()
		for i := 0; i < size; i += page {
			b[i] = 1
		}
		took = append(took, float64(time.Since(start).Nanoseconds())/1e3)
		if err := syscall.Munmap(b); err != nil {
			log.Fatalf("munmap: %v", err)
		}
	}
	sort.Float64s(took)
	return took[len(took)/2]
}
