//go:build !race

package model2vec

const raceEnabled = false
