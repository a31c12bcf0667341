package plsfix

import (
	"html"
	"strconv"
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
)

// unescapeHTML decodes HTML entities the way ftfy.fixes.unescape_html does:
// only complete references that end in a semicolon (&#?[0-9A-Za-z]{1,24};),
// named ones from the HTML5 list, all-caps spellings of lowercase names
// (&EACUTE; is É), and numeric ones as Python's html.unescape reads them.
func unescapeHTML(s string) string {
	amp := strings.IndexByte(s, '&')
	if amp < 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for i := amp; i < len(s); i++ {
		if s[i] != '&' {
			continue
		}
		end := entityEnd(s, i)
		if end < 0 {
			continue
		}
		ref := s[i:end]
		if rep, ok := decodeEntity(ref); ok {
			b.WriteString(s[last:i])
			b.WriteString(rep)
			last = end
		}
		i = end - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isAlnum(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// entityEnd returns the end of a match of &#?[0-9A-Za-z]{1,24}; at s[i:],
// or -1.
func entityEnd(s string, i int) int {
	j := i + 1
	if j < len(s) && s[j] == '#' {
		j++
	}
	k := j
	for k < len(s) && isAlnum(s[k]) && k-j < 25 {
		k++
	}
	if n := k - j; n < 1 || n > 24 || k >= len(s) || s[k] != ';' {
		return -1
	}
	return k + 1
}

var upper = cases.Upper(language.Und)

// decodeEntity returns the replacement of one matched reference, or false
// to leave it as it is.
func decodeEntity(ref string) (string, bool) {
	name := ref[1 : len(ref)-1]
	if strings.HasPrefix(name, "#") {
		return decodeNumericEntity(name[1:])
	}
	if v, ok := namedEntity(ref); ok {
		return v, true
	}
	// All-caps spelling of an all-lowercase entity name, when the caps
	// form means nothing (not even by a prefix) to html.unescape.
	lower := strings.ToLower(name)
	if name != lower && name == strings.ToUpper(name) && html.UnescapeString(ref) == ref {
		if v, ok := namedEntity("&" + lower + ";"); ok {
			return upper.String(v), true
		}
	}
	return "", false
}

// namedEntity decodes ref ("&name;") when name; is itself an HTML5 entity.
// html.UnescapeString also accepts legacy prefixes (&ampx; → &x;); those
// leave a trailing ';' in the result and are refused.
func namedEntity(ref string) (string, bool) {
	v := html.UnescapeString(ref)
	if v == ref {
		return "", false
	}
	if strings.HasSuffix(v, ";") && ref != "&semi;" {
		return "", false
	}
	return v, true
}

// decodeNumericEntity reads the digits after "&#" as Python's html.unescape
// does, accepting the reference only when it is consumed whole.
func decodeNumericEntity(body string) (string, bool) {
	var (
		num uint64
		err error
	)
	if body[0] == 'x' || body[0] == 'X' {
		digits := body[1:]
		if digits == "" || strings.TrimLeft(digits, "0123456789abcdefABCDEF") != "" {
			return "", false
		}
		num, err = strconv.ParseUint(digits, 16, 64)
	} else {
		if strings.TrimLeft(body, "0123456789") != "" {
			return "", false
		}
		num, err = strconv.ParseUint(body, 10, 64)
	}
	if err != nil { // overflow: far beyond U+10FFFF
		return "\uFFFD", true
	}
	switch {
	case num == 0:
		return "\uFFFD", true
	case num == 0x0d:
		return "\r", true
	case num >= 0x80 && num <= 0x9f:
		return string(sloppyWin1252.decode[num]), true
	case (num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff:
		return "\uFFFD", true
	case invalidCodepoint(num):
		return "", true
	}
	return string(rune(num)), true
}

// invalidCodepoint is html._invalid_codepoints: references html.unescape
// drops.
func invalidCodepoint(n uint64) bool {
	switch {
	case n >= 0x1 && n <= 0x8, n == 0xb, n >= 0xe && n <= 0x1f, n >= 0x7f && n <= 0x9f,
		n >= 0xfdd0 && n <= 0xfdef:
		return true
	}
	return n&0xfffe == 0xfffe && n <= 0x10ffff
}
