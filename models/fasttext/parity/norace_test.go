//go:build !race

package parity

const trainThreads = 2
