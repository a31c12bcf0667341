// Package gomlxbackend opens the GoMLX compute backend that winnow's
// GoMLX models (heads, encoders) train and run on. A process uses one
// backend, shared by every model and goroutine: the first Open chooses it,
// later calls with the same spec return it, and a different spec is an
// error.
//
// Specs:
//
//   - "go" (the default, also ""): GoMLX's pure-Go backend
//     (github.com/gomlx/compute/gobackend). It needs no cgo and no native
//     library, runs on every core (GOMAXPROCS), and is what a plain
//     `go build` of winnow contains.
//   - "xla:cuda" (or "xla:rocm", "xla:cpu", any PJRT plugin name): the XLA
//     backend with the PJRT plugin of that name, searched in
//     $PJRT_PLUGIN_LIBRARY_PATH (a ":"-separated list of directories), then
//     ~/.local/lib/go-xla, /usr/local/lib/go-xla, $LD_LIBRARY_PATH and the
//     directories of /etc/ld.so.conf. The file is named
//     pjrt_c_api_<name>_plugin.so.
//   - "xla:/abs/path/plugin.so": the XLA backend with the PJRT plugin at
//     that absolute path.
//
// XLA options may follow the plugin, comma-separated, as go-xla defines
// them: "xla:cuda,preallocate=false,memory_fraction=0.5".
//
// Nothing is ever downloaded: go-xla's auto-installer is not linked, and an
// unavailable backend (XLA not compiled in, a plugin that is not found or
// does not load, no GPU for the CUDA plugin) is an error, never a panic.
//
// # Building with XLA
//
// The XLA backend loads PJRT plugins with dlopen, so it needs cgo (and a C
// compiler at build time, but no PJRT library). It is compiled in only with
// the build tag "xla":
//
//	CGO_ENABLED=1 go build -tags xla -o winnow ./cmd/winnow
//
// A build without the tag (the default, and any CGO_ENABLED=0 build, such
// as the worker binary Beam cross-compiles for Dataflow) has only the Go
// backend and says so when asked for XLA.
//
// # GPU workers
//
// The CUDA PJRT plugin is the file xla_cuda_plugin.so shipped in the
// jax-cuda12-pjrt (or jax-cuda13-pjrt) wheel on PyPI; it needs the NVIDIA
// driver and the CUDA runtime libraries of the jax-cuda12-plugin wheel
// (nvidia-* wheels) on the library path. On a GPU worker image:
//
//   - unpack the wheel and put the plugin at a fixed path, e.g.
//     /usr/local/lib/go-xla/pjrt_c_api_cuda_plugin.so (then --backend
//     xla:cuda finds it), or keep its own name and pass the path:
//     --backend xla:/opt/pjrt/xla_cuda_plugin.so;
//   - export LD_LIBRARY_PATH with the CUDA libraries' directories;
//   - optionally set XLA_FLAGS and TF_CPP_MIN_LOG_LEVEL (go-xla sets the
//     latter to 3, errors only, when unset);
//   - the environment variable GOMLX_BACKEND is not read by winnow: pass
//     the spec explicitly (the CLI's --backend flag).
package gomlxbackend

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
)

// Default is the spec of the pure-Go backend, used when none is given.
const Default = "go"

// ErrNotCompiled is wrapped by the error of Open for an XLA spec in a build
// without the XLA backend.
var ErrNotCompiled = errors.New("the XLA backend is not compiled into this binary (build with cgo and `-tags xla`)")

var (
	mu         sync.Mutex
	shared     compute.Backend
	sharedSpec string
)

// Open returns the process's GoMLX backend for spec (see the package
// documentation), opening it at the first call. A later call with another
// spec fails: a process has one backend.
func Open(spec string) (compute.Backend, error) {
	kind, config, err := parse(spec)
	if err != nil {
		return nil, err
	}
	if kind == "xla" && !XLACompiled {
		return nil, fmt.Errorf("gomlx backend %q: %w", spec, ErrNotCompiled)
	}
	norm := kind
	if config != "" {
		norm += ":" + config
	}
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		if norm != sharedSpec {
			return nil, fmt.Errorf("gomlx backend %q: this process already uses backend %q (one backend per process)", spec, sharedSpec)
		}
		return shared, nil
	}
	b, err := open(kind, config)
	if err != nil {
		return nil, fmt.Errorf("gomlx backend %q: %w", spec, err)
	}
	shared, sharedSpec = b, norm
	return b, nil
}

// parse splits a spec into the backend kind ("go" or "xla") and its
// configuration, checking its form.
func parse(spec string) (kind, config string, err error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return Default, "", nil
	}
	kind, config, _ = strings.Cut(spec, ":")
	switch kind {
	case "go":
		if config != "" {
			return "", "", fmt.Errorf("gomlx backend %q: the go backend takes no configuration", spec)
		}
		return kind, "", nil
	case "xla":
		plugin, _, _ := strings.Cut(config, ",")
		switch {
		case plugin == "":
			return "", "", fmt.Errorf("gomlx backend %q: name a PJRT plugin, e.g. xla:cuda or xla:/abs/path/plugin.so", spec)
		case strings.ContainsRune(plugin, '/') && !filepath.IsAbs(plugin):
			return "", "", fmt.Errorf("gomlx backend %q: a plugin path must be absolute", spec)
		}
		return kind, config, nil
	}
	return "", "", fmt.Errorf("gomlx backend %q: unknown backend %q (want go, xla:<plugin> or xla:/abs/path/plugin.so)", spec, kind)
}

// open creates a backend, turning a panic of GoMLX or go-xla into an error.
func open(kind, config string) (b compute.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("backend failed to start: %v", r)
		}
	}()
	if kind == "go" {
		return gobackend.New("")
	}
	return openXLA(config)
}

// Recover turns a panic of GoMLX code run by fn into an error, for callers
// at the boundary between winnow and GoMLX (graph building panics on
// errors).
func Recover(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = fmt.Errorf("gomlx: %w", e)
			} else {
				err = fmt.Errorf("gomlx: %v", r)
			}
		}
	}()
	return fn()
}
