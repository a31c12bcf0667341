//go:build xla && cgo

package gomlxbackend

import (
	"fmt"
	"os"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/go-xla/compute/xla"
)

// XLACompiled reports whether this build contains the XLA backend.
const XLACompiled = true

func openXLA(config string) (compute.Backend, error) {
	xla.EnableAutoInstall(false)
	plugin, _, _ := strings.Cut(config, ",")
	if strings.HasPrefix(plugin, "/") {
		if _, err := os.Stat(plugin); err != nil {
			return nil, fmt.Errorf("PJRT plugin: %w", err)
		}
	} else if !xlaPluginFound(plugin) {
		return nil, fmt.Errorf("no PJRT plugin %q found (available: %q); put pjrt_c_api_%s_plugin.so in a directory of $PJRT_PLUGIN_LIBRARY_PATH or give its absolute path, xla:/abs/path/plugin.so",
			plugin, xla.GetAvailablePlugins(), plugin)
	}
	return xla.New(config)
}

func xlaPluginFound(name string) bool {
	for _, p := range xla.GetAvailablePlugins() {
		if p == name || strings.HasPrefix(p, name+"_") {
			return true
		}
	}
	return false
}
