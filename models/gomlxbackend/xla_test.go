//go:build xla && cgo

package gomlxbackend

import (
	"strings"
	"testing"
)

// TestOpenXLAUnavailable runs in a process of its own backend choice: it
// must not share the process with TestOpenSharesOneBackend's go backend, so
// it calls the unshared opener.
func TestOpenXLAUnavailable(t *testing.T) {
	for spec, want := range map[string]string{
		"/no/such/pjrt_plugin.so": "no such file",
		"nosuchplugin":            `no PJRT plugin "nosuchplugin" found`,
	} {
		_, err := open("xla", spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("open(xla, %q) = %v, want an error containing %q", spec, err, want)
		}
	}
}
