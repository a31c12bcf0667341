//go:build race

package fasttext

// raceEnabled is set when the race detector is on: multi-threaded training
// updates the matrices without synchronisation on purpose (Hogwild), which
// the detector reports, so those tests skip.
const raceEnabled = true
