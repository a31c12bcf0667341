//go:build unix

// Command faultcost prints what the first touch of a fresh 4 KiB page of
// anonymous memory costs on this machine, the price of every page a
// process's heap grows by. In some virtual machines it is ten times a bare
// machine's, and then a run's page faults weigh as much as its work.
package main

import (
	"fmt"
	"log"
	"os"
	"sort"
	"syscall"
	"time"
)

func main() {
	const size = 64 << 20
	page := os.Getpagesize()
	var perFault []float64
	for range 5 {
		b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			log.Fatalf("mmap: %v", err)
		}
		start := time.Now()
		for i := 0; i < size; i += page {
			b[i] = 1
		}
		perFault = append(perFault, float64(time.Since(start).Nanoseconds())/float64(size/page)/1e3)
		if err := syscall.Munmap(b); err != nil {
			log.Fatalf("munmap: %v", err)
		}
	}
	sort.Float64s(perFault)
	fmt.Printf("first touch of a fresh %d-byte page: %.1f µs (median of 5 × %d pages)\n", page, perFault[len(perFault)/2], size/page)
}
