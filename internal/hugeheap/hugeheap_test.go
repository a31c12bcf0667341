package hugeheap

import "testing"

func TestParseModeTakesTheBracketedChoice(t *testing.T) {
	for setting, want := range map[string]string{
		"always [madvise] never\n": "madvise",
		"[always] madvise never":   "always",
		"always madvise [never]":   "never",
		"always madvise never":     "",
		"[always":                  "",
	} {
		if got := parseMode(setting); got != want {
			t.Errorf("parseMode(%q) = %q, want %q", setting, got, want)
		}
	}
}

func TestDisablethpInGODEBUGTurnsItOff(t *testing.T) {
	for godebug, want := range map[string]bool{
		"":                          false,
		"disablethp=1":              true,
		"gctrace=1,disablethp=1":    true,
		"disablethp=0":              false,
		"disablethp=1,disablethp=0": false,
		"xdisablethp=1":             false,
	} {
		if got := disabledByGODEBUG(godebug); got != want {
			t.Errorf("disabledByGODEBUG(%q) = %v, want %v", godebug, got, want)
		}
	}
}

func TestAlignedWithinKeepsTheWholeAlignedBlocks(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		base           uintptr
		n              int64
		offset, length int64
	}{
		{base: 4 * mib, n: 8 * mib, offset: 0, length: 8 * mib},
		{base: 4*mib + 4096, n: 8 * mib, offset: 2*mib - 4096, length: 6 * mib},
		{base: 4*mib + 4096, n: 3 * mib, offset: 0, length: 0},
		{base: 4 * mib, n: 2*mib - 1, offset: 0, length: 0},
	} {
		offset, length := alignedWithin(c.base, c.n, 2*mib)
		if offset != c.offset || length != c.length {
			t.Errorf("alignedWithin(%#x, %d) = %d, %d; want %d, %d", c.base, c.n, offset, length, c.offset, c.length)
		}
	}
}
