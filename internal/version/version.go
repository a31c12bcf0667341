// Package version reports the code version recorded in manifests and printed by
// `winnow version`.
package version

import (
	"runtime/debug"
)

// Version is set at build time with
// -ldflags "-X github.com/winnowlabs/winnow/internal/version.Version=v1.2.3".
var Version = ""

// String returns the build's version: the linker-set Version, else the VCS
// revision recorded by the Go toolchain, else the module version, else "devel".
func String() string {
	if Version != "" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "-dirty"
		}
		return rev
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	return "devel"
}
