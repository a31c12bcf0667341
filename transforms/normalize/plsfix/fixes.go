package plsfix

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// ligatures maps the Latin ligatures and digraphs ftfy takes apart
// (chardata.LIGATURES).
var ligatures = map[rune]string{
	'Ĳ': "IJ", 'ĳ': "ij", 'ŉ': "ʼn",
	'Ǳ': "DZ", 'ǲ': "Dz", 'ǳ': "dz", 'Ǆ': "DŽ", 'ǅ': "Dž", 'ǆ': "dž",
	'Ǉ': "LJ", 'ǈ': "Lj", 'ǉ': "lj", 'Ǌ': "NJ", 'ǋ': "Nj", 'ǌ': "nj",
	'ﬀ': "ff", 'ﬁ': "fi", 'ﬂ': "fl", 'ﬃ': "ffi", 'ﬄ': "ffl", 'ﬅ': "ſt", 'ﬆ': "st",
}

// widthMap maps halfwidth and fullwidth forms to their standard forms
// (chardata.WIDTH_MAP): the NFKC form of U+FF01..U+FFEF, and U+3000 to a space.
var widthMap map[rune]string

func buildWidthMap() map[rune]string {
	m := map[rune]string{0x3000: " "}
	for r := rune(0xff01); r < 0xfff0; r++ {
		if alt := norm.NFKC.String(string(r)); alt != string(r) {
			m[r] = alt
		}
	}
	return m
}

// Flags of the per-character fixes a text may need.
const (
	needsC1 uint16 = 1 << iota
	needsLigature
	needsWidth
	needsQuote
	needsLineBreak
	needsEscape
	needsControl
)

// isRemovedControl reports the characters ftfy.fixes.remove_control_chars
// deletes (chardata.CONTROL_CHARS).
func isRemovedControl(r rune) bool {
	switch {
	case r <= 0x08, r == 0x0b, r >= 0x0e && r <= 0x1f, r == 0x7f:
		return true
	case r < 0x206a:
		return false
	case r <= 0x206f, r == 0xfeff, r >= 0xfff9 && r <= 0xfffc:
		return true
	}
	return false
}

// isLigature reports the keys of ligatures.
func isLigature(r rune) bool {
	switch {
	case r == 0x132 || r == 0x133 || r == 0x149, r >= 0x1c4 && r <= 0x1cc, r >= 0x1f1 && r <= 0x1f3, r >= 0xfb00 && r <= 0xfb06:
		return true
	}
	return false
}

// runeNeedsFix reports whether one of the per-character fixes changes r
// (for r >= 0x80).
func runeNeedsFix(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f, isSingleQuote(r), isDoubleQuote(r), r == 0x2028, r == 0x2029,
		isRemovedControl(r), isLigature(r):
		return true
	case r == 0x3000 || (r >= 0xff01 && r < 0xfff0):
		_, ok := widthMap[r]
		return ok
	}
	return false
}

func isSingleQuote(r rune) bool { return r == 0x2bc || (r >= 0x2018 && r <= 0x201b) }
func isDoubleQuote(r rune) bool { return r >= 0x201c && r <= 0x201f }

// scanFixes returns the flags of the per-character fixes s needs.
func scanFixes(s string) uint16 {
	var f uint16
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 {
			switch {
			case c == '\r':
				f |= needsLineBreak
			case c == 0x1b:
				f |= needsEscape | needsControl
			case c < 0x20 && c != '\t' && c != '\n' && c != '\f', c == 0x7f:
				f |= needsControl
			}
			continue
		}
		r, size := decodeRuneAt(s, i)
		i += size - 1
		switch {
		case r >= 0x80 && r <= 0x9f:
			f |= needsC1
		case isSingleQuote(r) || isDoubleQuote(r):
			f |= needsQuote
		case r == 0x2028 || r == 0x2029:
			f |= needsLineBreak
		case r == 0x3000 || (r >= 0xff01 && r < 0xfff0):
			if _, ok := widthMap[r]; ok {
				f |= needsWidth
			}
		case isRemovedControl(r):
			f |= needsControl
		case isLigature(r):
			f |= needsLigature
		}
	}
	return f
}

// mapRunes rewrites each rune for which fn returns ok.
func mapRunes(s string, fn func(r rune) (string, bool)) string {
	var b strings.Builder
	last := 0
	changed := false
	for i, r := range s {
		if rep, ok := fn(r); ok {
			if !changed {
				b.Grow(len(s))
				changed = true
			}
			b.WriteString(s[last:i])
			b.WriteString(rep)
			last = i + utf8.RuneLen(r)
		}
	}
	if !changed {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func decodeRuneAt(s string, i int) (rune, int) { return utf8.DecodeRuneInString(s[i:]) }

func fixLatinLigatures(s string) string {
	return mapRunes(s, func(r rune) (string, bool) { v, ok := ligatures[r]; return v, ok })
}

func fixCharacterWidth(s string) string {
	return mapRunes(s, func(r rune) (string, bool) { v, ok := widthMap[r]; return v, ok })
}

// uncurlQuotes straightens curly quotation marks (ftfy.fixes.uncurl_quotes).
func uncurlQuotes(s string) string {
	return mapRunes(s, func(r rune) (string, bool) {
		switch {
		case isDoubleQuote(r):
			return `"`, true
		case isSingleQuote(r):
			return "'", true
		}
		return "", false
	})
}

var lineBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\u2028", "\n", "\u2029", "\n", "\u0085", "\n")

// fixLineBreaks turns CRLF, CR, U+2028, U+2029 and U+0085 into "\n"
// (ftfy.fixes.fix_line_breaks).
func fixLineBreaks(s string) string { return lineBreaks.Replace(s) }

// removeTerminalEscapes deletes ANSI escape sequences
// (ftfy.fixes.remove_terminal_escapes: \x1b\[((?:\d|;)*)([a-zA-Z])).
func removeTerminalEscapes(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] != 0x1b || i+1 >= len(s) || s[i+1] != '[' {
			continue
		}
		j := i + 2
		for j < len(s) && (s[j] == ';' || ('0' <= s[j] && s[j] <= '9')) {
			j++
		}
		if j < len(s) && isASCIILetter(rune(s[j])) {
			b.WriteString(s[last:i])
			last = j + 1
			i = j
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// removeControlChars deletes unintended control characters
// (ftfy.fixes.remove_control_chars).
func removeControlChars(s string) string {
	return mapRunes(s, func(r rune) (string, bool) { return "", isRemovedControl(r) })
}
