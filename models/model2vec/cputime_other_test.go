//go:build !unix

package model2vec

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
