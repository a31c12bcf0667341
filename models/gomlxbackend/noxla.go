//go:build !(xla && cgo)

package gomlxbackend

import (
	"github.com/gomlx/compute"
)

// XLACompiled reports whether this build contains the XLA backend.
const XLACompiled = false

func openXLA(string) (compute.Backend, error) { return nil, ErrNotCompiled }
