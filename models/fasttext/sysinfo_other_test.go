//go:build !linux

package fasttext

import (
	"os"
	"time"
)

func threadTime() (time.Duration, bool) { return 0, false }

func allocatedBytes(os.FileInfo) (int64, bool) { return 0, false }
