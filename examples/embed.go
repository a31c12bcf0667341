// Package examples holds winnow's example flow files; bundled.yaml is the
// flow `winnow run` runs without an argument.
package examples

import "embed"

// Files are the example flows.
//
//go:embed *.yaml
var Files embed.FS

// Bundled is the name of the bundled flow in Files.
const Bundled = "bundled.yaml"
