package fasttext

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// threadTime returns the CPU time of the calling OS thread, which other
// processes competing for the cores do not inflate as they do wall time.
func threadTime() (time.Duration, bool) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// allocatedBytes returns the disk space a file takes.
func allocatedBytes(info os.FileInfo) (int64, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Blocks * 512, true
}
