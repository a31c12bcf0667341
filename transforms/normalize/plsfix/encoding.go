package plsfix

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// fixEncoding undoes mojibake step by step until the text stops changing
// (ftfy.fix_encoding).
func fixEncoding(text string) string {
	for {
		fixed := fixEncodingOneStep(text)
		if fixed == text {
			return text
		}
		text = fixed
	}
}

// isASCII reports whether s holds only ASCII bytes.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// fixEncodingOneStep is ftfy's _fix_encoding_one_step_and_explain.
func fixEncodingOneStep(text string) string {
	if text == "" || isASCII(text) || !isBad(text) {
		return text
	}
	var possible []*codec
	for _, c := range codecs {
		encoded, ok := c.encodeString(text)
		if !ok {
			continue
		}
		possible = append(possible, c)
		// Sequences that would be UTF-8 but for a byte 0xA0 that some
		// program turned into a space (not for MacRoman, where it would
		// match an en dash followed by a space).
		if c.name != "macroman" && hasAlteredUTF8(encoded) {
			encoded = restoreByteA0(encoded)
		}
		if c.sloppy {
			encoded = replaceLossySequences(encoded)
		}
		var (
			fixed string
			valid bool
		)
		if bytes.IndexByte(encoded, 0xed) >= 0 || bytes.IndexByte(encoded, 0xc0) >= 0 {
			fixed, valid = decodeUTF8Variants(encoded)
		} else if utf8.Valid(encoded) {
			fixed, valid = string(encoded), true
		}
		if valid {
			return fixed
		}
	}

	// Mojibake embedded in otherwise consistent text: fix it in isolation.
	if fixed := decodeInconsistentUTF8(text); fixed != text {
		return fixed
	}

	// Latin-1 text here holds C1 controls, which were meant to be
	// Windows-1252 (strict: its undefined bytes make this fail). ftfy's
	// test for text that is also Windows-1252 compares against the name
	// "windows-1252", which its list of possible encodings never holds
	// (only "sloppy-windows-1252"), so that shortcut never applies and
	// is not reproduced.
	if len(possible) > 0 && possible[0] == latin1 {
		if fixed, ok := latin1ToStrictWindows1252(text); ok && fixed != text {
			return fixed
		}
	}
	if hasC1(text) {
		return fixC1Controls(text)
	}
	return text
}

// latin1ToStrictWindows1252 is Python's text.encode("latin-1").decode("windows-1252").
func latin1ToStrictWindows1252(text string) (string, bool) {
	var b strings.Builder
	for _, r := range text {
		if r > 0xff {
			return "", false
		}
		if r >= 0x80 && r <= 0x9f {
			switch r {
			case 0x81, 0x8d, 0x8f, 0x90, 0x9d: // undefined in windows-1252
				return "", false
			}
			r = sloppyWin1252.decode[r]
		}
		b.WriteRune(r)
	}
	return b.String(), true
}

func hasC1(s string) bool {
	for _, r := range s {
		if r >= 0x80 && r <= 0x9f {
			return true
		}
	}
	return false
}

// fixC1Controls reads C1 control characters as the Windows-1252 characters
// they stand for, as Web browsers do (ftfy.fixes.fix_c1_controls).
func fixC1Controls(s string) string {
	if !hasC1(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r >= 0x80 && r <= 0x9f {
			r = sloppyWin1252.decode[r]
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isCont(b byte) bool { return b >= 0x80 && b <= 0xbf }

// contNoA0 is the continuation-byte class [\x80-\x84\x86-\x9f\xa1-\xbf].
func contNoA0(b byte) bool { return isCont(b) && b != 0x85 && b != 0xa0 }

// alteredUTF8At returns the length of a match of ftfy's ALTERED_UTF8_RE at
// b[i:], or 0: UTF-8 sequences whose byte 0xA0 became a space.
func alteredUTF8At(b []byte, i int) int {
	n := len(b) - i
	at := func(k int) byte { return b[i+k] }
	switch c := at(0); {
	case n >= 2 && (c == 0xc2 || c == 0xc3 || c == 0xc5 || c == 0xce || c == 0xd0 || c == 0xd9) && at(1) == ' ':
		return 2
	case n >= 3 && (c == 0xe2 || c == 0xe3) && at(1) == ' ' && contNoA0(at(2)):
		return 3
	case n >= 3 && c >= 0xe0 && c <= 0xe3 && contNoA0(at(1)) && at(2) == ' ':
		return 3
	case n >= 4 && c == 0xf0 && at(1) == ' ' && isCont(at(2)) && isCont(at(3)):
		return 4
	case n >= 4 && c == 0xf0 && isCont(at(1)) && at(2) == ' ' && isCont(at(3)):
		return 4
	case n >= 4 && c == 0xf0 && isCont(at(1)) && isCont(at(2)) && at(3) == ' ':
		return 4
	}
	return 0
}

func hasAlteredUTF8(b []byte) bool {
	for i := range b {
		if alteredUTF8At(b, i) > 0 {
			return true
		}
	}
	return false
}

// restoreByteA0 puts back the bytes 0xA0 that became spaces
// (ftfy.fixes.restore_byte_a0), keeping a space after a lone "à"
// (A_GRAVE_WORD_RE) except in Portuguese contractions.
func restoreByteA0(b []byte) []byte {
	var aGrave []byte
	for i := 0; i < len(b); i++ {
		if b[i] == 0xc3 && i+1 < len(b) && b[i+1] == ' ' && !aGraveException(b[i+2:]) {
			aGrave = append(aGrave, 0xc3, 0xa0, ' ')
			i++
			continue
		}
		aGrave = append(aGrave, b[i])
	}
	out := make([]byte, 0, len(aGrave))
	for i := 0; i < len(aGrave); {
		if n := alteredUTF8At(aGrave, i); n > 0 {
			for _, c := range aGrave[i : i+n] {
				if c == ' ' {
					c = 0xa0
				}
				out = append(out, c)
			}
			i += n
			continue
		}
		out = append(out, aGrave[i])
		i++
	}
	return out
}

// aGraveException is the negative lookahead of A_GRAVE_WORD_RE:
// (?! |quele|quela|quilo|s ).
func aGraveException(rest []byte) bool {
	for _, p := range []string{" ", "quele", "quela", "quilo", "s "} {
		if bytes.HasPrefix(rest, []byte(p)) {
			return true
		}
	}
	return false
}

// lossyAt returns the length of a match of ftfy's LOSSY_UTF8_RE at b[i:]:
// UTF-8 sequences some of whose bytes were lost to U+FFFD (encoded as 0x1A
// by the sloppy codecs) or, once per sequence, to "?".
func lossyAt(b []byte, i int) int {
	n := len(b) - i
	at := func(k int) byte { return b[i+k] }
	sub := func(c byte) bool { return c == 0x1a }
	subQ := func(c byte) bool { return c == 0x1a || c == '?' }
	subC := func(c byte) bool { return c == 0x1a || isCont(c) }
	subQC := func(c byte) bool { return c == 0x1a || c == '?' || isCont(c) }
	c := at(0)
	switch {
	case n >= 2 && c >= 0xc2 && c <= 0xdf && sub(at(1)):
		return 2
	case n >= 2 && (c == 0xc2 || c == 0xc3) && at(1) == '?':
		return 2
	case n >= 6 && c == 0xed && at(1) >= 0xa0 && at(1) <= 0xaf && subQ(at(2)) && at(3) == 0xed && at(4) >= 0xb0 && at(4) <= 0xbf && subQC(at(5)):
		return 6
	case n >= 6 && c == 0xed && at(1) >= 0xa0 && at(1) <= 0xaf && subQC(at(2)) && at(3) == 0xed && at(4) >= 0xb0 && at(4) <= 0xbf && subQ(at(5)):
		return 6
	case n >= 3 && c >= 0xe0 && c <= 0xef && subQ(at(1)) && subC(at(2)):
		return 3
	case n >= 3 && c >= 0xe0 && c <= 0xef && subC(at(1)) && subQ(at(2)):
		return 3
	case n >= 4 && c >= 0xf0 && c <= 0xf4 && subQ(at(1)) && subC(at(2)) && subC(at(3)):
		return 4
	case n >= 4 && c >= 0xf0 && c <= 0xf4 && subC(at(1)) && subQ(at(2)) && subC(at(3)):
		return 4
	case n >= 4 && c >= 0xf0 && c <= 0xf4 && subC(at(1)) && subC(at(2)) && subQ(at(3)):
		return 4
	case c == 0x1a:
		return 1
	}
	return 0
}

// replaceLossySequences replaces such sequences with the UTF-8 encoding of
// U+FFFD (ftfy.fixes.replace_lossy_sequences).
func replaceLossySequences(b []byte) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(b); {
		if n := lossyAt(b, i); n > 0 {
			out = append(out, b[last:i]...)
			out = append(out, "\uFFFD"...)
			i += n
			last = i
			continue
		}
		i++
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// decodeUTF8Variants decodes UTF-8 that may also hold CESU-8 surrogate pairs
// and Java's two-byte NUL (ftfy's "utf-8-variants" codec); anything else
// that is not UTF-8 fails.
func decodeUTF8Variants(b []byte) (string, bool) {
	var out []byte
	for i := 0; i < len(b); {
		switch {
		case i+1 < len(b) && b[i] == 0xc0 && b[i+1] == 0x80:
			out = append(out, 0)
			i += 2
			continue
		case i+5 < len(b) && b[i] == 0xed && b[i+1] >= 0xa0 && b[i+1] <= 0xaf && isCont(b[i+2]) &&
			b[i+3] == 0xed && b[i+4] >= 0xb0 && b[i+4] <= 0xbf && isCont(b[i+5]):
			hi := rune(b[i+1]&0x0f)<<6 | rune(b[i+2]&0x3f)
			lo := rune(b[i+4]&0x0f)<<6 | rune(b[i+5]&0x3f)
			out = utf8.AppendRune(out, 0x10000+hi<<10+lo)
			i += 6
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return "", false
		}
		out = append(out, b[i:i+size]...)
		i += size
	}
	return string(out), true
}

// UTF-8 clue classes (chardata.UTF8_CLUES): characters that the bytes of a
// UTF-8 sequence decode to in the Latin-alphabet encodings that mojibake
// comes from.
var (
	clueFirstOf2, clueFirstOf3, clueFirstOf4 = map[rune]bool{}, map[rune]bool{}, map[rune]bool{}
	clueCont, clueContStrict                 = map[rune]bool{}, map[rune]bool{}
)

func buildClues() {
	for _, name := range []string{"latin-1", "sloppy-windows-1252", "sloppy-windows-1250", "sloppy-windows-1251", "sloppy-windows-1253", "sloppy-windows-1254", "sloppy-windows-1257"} {
		c := codecByName(name)
		for b := 0xc2; b <= 0xdf; b++ {
			clueFirstOf2[c.decode[b]] = true
		}
		for b := 0xe0; b <= 0xef; b++ {
			clueFirstOf3[c.decode[b]] = true
		}
		clueFirstOf4[c.decode[0xf0]] = true
		clueFirstOf4[c.decode[0xf3]] = true
		for b := 0x80; b <= 0xbf; b++ {
			clueCont[c.decode[b]] = true
			clueContStrict[c.decode[b]] = true
		}
	}
	// A space may stand for a lost 0xA0; the strict class leaves out what
	// commonly stands for itself next to mojibake.
	clueCont[' '] = true
	for _, r := range "\u00a0\u2013\u2014\u2015\u2018\u2019\u201a\u201c\u201d\u201e\u2022\u2026" {
		delete(clueContStrict, r)
	}
	for r := rune(0x80); r <= 0xbf; r++ { // latin-1 itself, restored
		clueContStrict[r] = true
	}
}

// utf8DetectorMatch returns the end (rune index) of a match of ftfy's
// UTF8_DETECTOR_RE starting at rs[i], or i when there is none.
func utf8DetectorMatch(rs []rune, i int) int {
	if i > 0 && clueContStrict[rs[i-1]] {
		return i
	}
	cont := func(j, k int) bool {
		if j+k > len(rs) {
			return false
		}
		for _, r := range rs[j : j+k] {
			if !clueCont[r] {
				return false
			}
		}
		return true
	}
	j := i
	for j < len(rs) {
		switch r := rs[j]; {
		case clueFirstOf2[r] && cont(j+1, 1):
			j += 2
		case clueFirstOf3[r] && cont(j+1, 2):
			j += 3
		case clueFirstOf4[r] && cont(j+1, 3):
			j += 4
		default:
			return j
		}
	}
	return j
}

// decodeInconsistentUTF8 fixes UTF-8 mojibake embedded in text of another
// encoding, one detected run at a time (ftfy.fixes.decode_inconsistent_utf8).
func decodeInconsistentUTF8(text string) string {
	rs := []rune(text)
	var b strings.Builder
	changed := false
	last := 0
	for i := 0; i < len(rs); {
		end := utf8DetectorMatch(rs, i)
		if end == i {
			i++
			continue
		}
		sub := string(rs[i:end])
		if end-i < len(rs) && isBad(sub) {
			if fixed := fixEncoding(sub); fixed != sub {
				b.WriteString(string(rs[last:i]))
				b.WriteString(fixed)
				last = end
				changed = true
			}
		}
		i = end
	}
	if !changed {
		return text
	}
	b.WriteString(string(rs[last:]))
	return b.String()
}
