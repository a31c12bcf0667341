package normalize

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// asciiSpace marks the ASCII bytes that Python's \s and str.isspace accept:
// \t \n \v \f \r, the information separators 0x1C-0x1F, and the space.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true,
	0x1c: true, 0x1d: true, 0x1e: true, 0x1f: true, ' ': true}

// mayStartSpace marks the bytes that can begin a whitespace character: the
// ASCII ones, and the UTF-8 lead bytes of U+0085, U+00A0 (0xC2), U+1680
// (0xE1), U+2000..U+205F (0xE2) and U+3000 (0xE3). Scanners skip every other
// byte without decoding.
var mayStartSpace = func() (t [256]bool) {
	for i, sp := range asciiSpace {
		t[i] = sp
	}
	for _, b := range []byte{0xc2, 0xe1, 0xe2, 0xe3} {
		t[b] = true
	}
	return t
}()

// isSpace reports whether r is whitespace as Python's \s and str.strip see
// it (which, unlike unicode.IsSpace, includes U+001C..U+001F).
func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiSpace[r]
	}
	return r == 0x85 || r == 0xa0 || (r >= 0x1680 && unicode.Is(unicode.White_Space, r))
}

// spaceAt returns the byte length of the whitespace character at s[i:], or 0.
func spaceAt(s string, i int) int {
	c := s[i]
	if !mayStartSpace[c] {
		return 0
	}
	if c < utf8.RuneSelf {
		return 1
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	if isSpace(r) {
		return size
	}
	return 0
}

// appendCollapsed appends s to dst with every run of whitespace turned into
// one space and none at either end (Python: re.sub(r"\s+", " ", s).strip()).
func appendCollapsed(dst []byte, s string) []byte {
	start := len(dst)
	pending := false // whitespace seen since the last copied character
	for i := 0; i < len(s); {
		if n := spaceAt(s, i); n > 0 {
			pending = true
			i += n
			continue
		}
		if pending && len(dst) > start {
			dst = append(dst, ' ')
		}
		pending = false
		j := i + 1
		for j < len(s) && (!mayStartSpace[s[j]] || spaceAt(s, j) == 0) {
			j++
		}
		dst = append(dst, s[i:j]...)
		i = j
	}
	return dst
}

// collapseWhitespace is appendCollapsed on a fresh string, returning s
// itself when nothing changes.
func collapseWhitespace(s string) string {
	if isCollapsed(s) {
		return s
	}
	return string(appendCollapsed(make([]byte, 0, len(s)), s))
}

// isCollapsed reports whether collapseWhitespace would leave s unchanged:
// no whitespace but single spaces between other characters.
func isCollapsed(s string) bool {
	prevSpace := true // a space at the start would be a leading one
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !mayStartSpace[c] {
			prevSpace = false
			continue
		}
		if c == ' ' {
			if prevSpace {
				return false
			}
			prevSpace = true
			continue
		}
		if spaceAt(s, i) > 0 {
			return false
		}
		prevSpace = false
	}
	return !prevSpace || s == ""
}

// trimSpace strips Python whitespace from both ends (str.strip()).
func trimSpace(s string) string {
	return strings.TrimFunc(s, isSpace)
}

// squeezeNewlines turns every run of three or more "\n" into two
// (re.sub(r"\n{3,}", "\n\n", s)).
func squeezeNewlines(s string) string {
	if !strings.Contains(s, "\n\n\n") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if s[i] != '\n' {
			b = append(b, s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == '\n' {
			j++
		}
		if j-i >= 3 {
			b = append(b, "\n\n"...)
		} else {
			b = append(b, s[i:j]...)
		}
		i = j
	}
	return string(b)
}

// lower lowercases s with Unicode simple case mappings (Go's
// strings.ToLower).
func lower(s string) string { return strings.ToLower(s) }

// stripDiacritics decomposes s (NFKD) and drops every nonspacing mark
// (category Mn), as "".join(c for c in unicodedata.normalize("NFKD", s)
// if unicodedata.category(c) != "Mn").
func stripDiacritics(s string) string {
	first := -1
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			first = i
			break
		}
	}
	if first < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:first]...)
	var it norm.Iter
	it.InitString(norm.NFKD, s[first:])
	for !it.Done() {
		seg := it.Next()
		for len(seg) > 0 {
			r, size := utf8.DecodeRune(seg)
			if !unicode.Is(unicode.Mn, r) {
				b = append(b, seg[:size]...)
			}
			seg = seg[size:]
		}
	}
	return string(b)
}

// appendEscapedControl appends the two-character escape of '\n', '\r' or
// '\t' (a backslash and a letter), or r itself.
func appendEscapedControl(dst []byte, r rune) []byte {
	switch r {
	case '\n':
		return append(dst, `\n`...)
	case '\r':
		return append(dst, `\r`...)
	case '\t':
		return append(dst, `\t`...)
	}
	return utf8.AppendRune(dst, r)
}
