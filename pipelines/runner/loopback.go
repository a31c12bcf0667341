package runner

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// loopbackPrefix names the files Beam's universal runner (which prism uses)
// creates in the temporary directory on every loopback run, to stand for a
// worker binary that loopback does not need. It never removes them, so a
// scheduled job would leave one empty file behind per run.
const loopbackPrefix = "beamloopbackworker-"

// loopbackGrace is how old such a file must be before it is removed: a
// younger one may belong to a run being submitted now, in this process or
// another, which reads it once while staging, milliseconds after creating it.
const loopbackGrace = time.Minute

// removeLoopbackLitter removes the empty loopback files in dir last
// modified before now minus loopbackGrace, and returns how many it removed.
// Files it may not remove (another user's) and files that are not empty are
// left alone.
func removeLoopbackLitter(dir string, now time.Time) int {
	d, err := os.Open(dir)
	if err != nil {
		return 0
	}
	entries, err := d.ReadDir(-1) // unsorted: a shared temporary directory can be large
	d.Close()
	if err != nil {
		return 0
	}
	removed := 0
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), loopbackPrefix) {
			continue
		}
		info, err := e.Info()
		if err != nil || info.Size() != 0 || now.Sub(info.ModTime()) < loopbackGrace {
			continue
		}
		if os.Remove(filepath.Join(dir, e.Name())) == nil {
			removed++
		}
	}
	return removed
}
