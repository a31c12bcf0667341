//go:build race

package parity

// trainThreads is 1 under the race detector: Hogwild training updates the
// shared matrices without locks by design, which the detector reports.
const trainThreads = 1
