//go:build !race

package fasttext

const raceEnabled = false
