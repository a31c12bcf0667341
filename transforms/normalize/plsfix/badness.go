package plsfix

import (
	"unicode"
	"unicode/utf8"
)

// Character categories of ftfy's badness heuristic (badness.MOJIBAKE_CATEGORIES):
// the few hundred characters that occur in UTF-8 mojibake, grouped by the
// contexts they normally appear in.
const (
	catCommon uint32 = 1 << iota
	catC1
	catBad
	catLaw
	catCurrency
	catStartPunct
	catEndPunct
	catNumeric
	catKaomoji
	catUpperAccented
	catLowerAccented
	catUpperCommon
	catLowerCommon
	catBox

	// Characters that badness patterns name literally.
	litAny // any of them
	litA   // ÂÃÎÐ
	litB   // €œŠš¢£Ÿž, NBSP, soft hyphen, ®©°·»–—´
	litC   // ²µ¹¼½¾
	litD   // ±∂†≠®™´≤≥¥µø
	litE   // ìîïòôúùû†°¢π
	litF   // àä°ê
	litG   // ВГРС
	litH   // ™, NBSP, Ά, soft hyphen, ®°
	litI   // ΒΓΞΟ
	litJ   // ŸŠ®°µ»
)

// interesting marks the characters at least one of which every badness
// pattern needs.
const interesting = catCommon | catC1 | catBad | catLaw | catCurrency | catStartPunct | catEndPunct | catNumeric |
	catKaomoji | catUpperAccented | catLowerAccented | catUpperCommon | catLowerCommon | catBox | litAny

// catTableSize bounds the dense category table; the few category members
// above it are looked up by runeCats directly.
const catTableSize = 0x2600

var catTable [catTableSize]uint32

func addCat(cat uint32, chars string) {
	for _, r := range chars {
		catTable[r] |= cat
	}
}

func addCatRange(cat uint32, lo, hi rune) {
	for r := lo; r <= hi; r++ {
		catTable[r] |= cat
	}
}

func init() {
	addCat(catCommon, "\u00a0\u00ad\u00b7\u00b4\u2013\u2014\u2015\u2026\u2019")
	addCatRange(catC1, 0x80, 0x9f)
	addCat(catBad, "\u00a6\u00a4\u00a8\u00ac\u00af\u00b8\u0192\u02c6\u02c7\u02d8\u02db\u02dc\u2020\u2021\u2030\u2310\u25ca\u00aa\u00ba")
	addCat(catLaw, "\u00b6\u00a7")
	addCat(catCurrency, "\u00a2\u00a3\u00a5\u20a7\u20ac")
	addCat(catStartPunct, "\u00a1\u00ab\u00bf\u00a9\u0384\u0385\u2018\u201a\u201c\u201e\u2022\u2039")
	addCat(catEndPunct, "\u00ae\u00bb\u02dd\u201d\u203a\u2122")
	addCat(catNumeric, "\u00b2\u00b3\u00b9\u00b1\u00bc\u00bd\u00be\u00d7\u00b5\u00f7\u2044\u2202\u2206\u220f\u2211\u221a\u221e\u2229\u222b\u2248\u2260\u2261\u2264\u2265\u2116")
	addCatRange(catKaomoji, 0xd2, 0xd6)
	addCatRange(catKaomoji, 0xd9, 0xdc)
	addCatRange(catKaomoji, 0xf2, 0xf6)
	addCatRange(catKaomoji, 0xf8, 0xfc)
	addCat(catKaomoji, "\u0150\u014c\u016a\u0172\u00b0")
	addCatRange(catUpperAccented, 0xc0, 0xd1)
	addCat(catUpperAccented, "\u00d8\u00dc\u00dd\u0102\u0100\u0104\u0106\u010c\u010e\u0110\u0118\u011a\u0112\u0116\u011e\u0122\u0130\u012a\u0136\u0139\u013d\u0141\u013b\u0143\u0147\u0145\u0152\u0158\u015a\u015e\u0160\u0162\u0164\u016e\u0170\u0178\u0179\u017b\u017d\u0490")
	addCat(catLowerAccented, "\u00df")
	addCatRange(catLowerAccented, 0xe0, 0xf1)
	addCat(catLowerAccented, "\u0103\u0105\u0101\u0107\u010d\u010f\u0111\u0119\u011b\u0113\u0117\u011f\u0123\u012f\u012b\u0137\u013a\u013e\u0142\u013c\u0153\u0155\u015b\u015f\u0161\u0165\u00fc\u017a\u017c\u017e\u0491")
	addCat(catUpperCommon, "\u00de\u0386\u0388\u0389\u038a\u038c\u038e\u038f\u03aa\u03ab")
	addCatRange(catUpperCommon, 0x391, 0x3a9)
	addCatRange(catUpperCommon, 0x401, 0x42f)
	addCatRange(catLowerCommon, 0x3b1, 0x3c9)
	addCat(catLowerCommon, "\u03ac\u03ad\u03ae\u03af\u03b0")
	addCatRange(catLowerCommon, 0x430, 0x45f)
	addCat(catBox, "\u2502\u250c\u2510\u2518\u251c\u2524\u252c\u253c\u2580\u2584\u2588\u258c\u2590\u2591\u2592\u2593")
	addCatRange(catBox, 0x2550, 0x256c)

	addCat(litAny, "ÃÂÎÐ×ØÙàŒœ√≈‚вВГРСβΒΓΞΟā")
	addCat(litA, "ÂÃÎÐ")
	addCat(litB, "€œŠš¢£Ÿž\u00a0\u00ad®©°·»–—´")
	addCat(litC, "²µ¹¼½¾")
	addCat(litD, "±∂†≠®™´≤≥¥µø")
	addCat(litE, "ìîïòôúùû†°¢π")
	addCat(litF, "àä°ê")
	addCat(litG, "ВГРС")
	addCat(litH, "™\u00a0Ά\u00ad®°")
	addCat(litI, "ΒΓΞΟ")
	addCat(litJ, "ŸŠ®°µ»")
}

// runeCats returns the badness categories of r.
func runeCats(r rune) uint32 {
	if r < catTableSize {
		return catTable[r]
	}
	switch r {
	case 0xf8ff: // the Apple logo in MacRoman
		return catStartPunct
	case 0xfb01, 0xfb02: // ﬁ ﬂ
		return catLowerAccented
	case 0xfffd:
		return catBad
	}
	return 0
}

// Unions of categories used by the badness patterns.
const (
	catsBeforeBad = catBad | catLowerAccented | catUpperAccented | catBox | catStartPunct | catEndPunct | catCurrency | catNumeric | catLaw
	catsAfterBad  = catLowerAccented | catUpperAccented | catBox | catStartPunct | catEndPunct | catCurrency | catNumeric | catLaw
)

// isPySpace reports whether r is whitespace to Python (str.isspace and the
// regex class \s on str patterns).
func isPySpace(r rune) bool {
	switch {
	case r == ' ' || (r >= '\t' && r <= '\r') || (r >= 0x1c && r <= 0x1f):
		return true
	case r < 0x80:
		return false
	case r == 0x85 || r == 0xa0:
		return true
	}
	return r >= 0x1680 && unicode.Is(unicode.White_Space, r)
}

// isPyWord reports whether r matches Python's \w on str patterns
// (alphanumeric or underscore).
func isPyWord(r rune) bool {
	if r < 0x80 {
		return r == '_' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

func isASCIILetter(r rune) bool { return ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') }

func isASCIILower(r rune) bool { return 'a' <= r && r <= 'z' }

// isBad reports whether text contains a sequence that ftfy's badness
// heuristic (badness.BADNESS_RE, used through badness.is_bad) considers
// likely mojibake.
func isBad(text string) bool {
	// Every pattern needs a character of a mojibake category or one named
	// literally, within its first three characters: look only there.
	first := -1
	for i, r := range text {
		if r >= 0x80 && runeCats(r)&interesting != 0 {
			first = i
			break
		}
	}
	if first < 0 {
		return false
	}
	// Patterns reach back at most two characters before such a one (and
	// "^" needs the start, where first == 0 already is).
	start := first
	for k := 0; k < 2 && start > 0; k++ {
		_, size := utf8.DecodeLastRuneInString(text[:start])
		start -= size
	}
	rs := []rune(text[start:])
	cats := make([]uint32, len(rs)+2)
	for i, r := range rs {
		cats[i] = runeCats(r)
	}
	anchored := start == 0
	for i := range rs {
		if (cats[i]|cats[i+1]|cats[i+2])&interesting != 0 && badAt(rs, cats, i, anchored) {
			return true
		}
	}
	return false
}

// isBadLiteral reports the non-ASCII characters that badness patterns name
// literally.
func isBadLiteral(r rune) bool { return runeCats(r)&litAny != 0 }

// badAt reports whether one of the badness patterns matches at position i.
func badAt(rs []rune, cats []uint32, i int, anchored bool) bool {
	n := len(rs)
	at := func(k int) (rune, uint32, bool) {
		if i+k >= n {
			return 0, 0, false
		}
		return rs[i+k], cats[i+k], true
	}
	r0, c0, _ := at(0)
	r1, c1, ok1 := at(1)
	r2, c2, ok2 := at(2)
	r3, c3, ok3 := at(3)

	// [c1]
	if c0&catC1 != 0 {
		return true
	}
	if ok1 {
		switch {
		// [bad lower_accented upper_accented box start end currency numeric law] [bad]
		case c0&catsBeforeBad != 0 && c1&catBad != 0:
			return true
		// [bad] [lower_accented upper_accented box start end currency numeric law]
		case c0&catBad != 0 && c1&catsAfterBad != 0:
			return true
		// [lower_accented lower_common box end currency numeric] [upper_accented]
		case c0&(catLowerAccented|catLowerCommon|catBox|catEndPunct|catCurrency|catNumeric) != 0 && c1&catUpperAccented != 0:
			return true
		// [box end currency numeric] [lower_accented]
		case c0&(catBox|catEndPunct|catCurrency|catNumeric) != 0 && c1&catLowerAccented != 0:
			return true
		// [lower_accented box end] [currency]
		case c0&(catLowerAccented|catBox|catEndPunct) != 0 && c1&catCurrency != 0:
			return true
		// [upper_accented box] [numeric law]
		case c0&(catUpperAccented|catBox) != 0 && c1&(catNumeric|catLaw) != 0:
			return true
		// [currency numeric box] [start]
		case c0&(catCurrency|catNumeric|catBox) != 0 && c1&catStartPunct != 0:
			return true
		// [box] [kaomoji]
		case c0&catBox != 0 && c1&catKaomoji != 0:
			return true
		// [lower_accented upper_accented currency numeric start end law] [box]
		case c0&(catLowerAccented|catUpperAccented|catCurrency|catNumeric|catStartPunct|catEndPunct|catLaw) != 0 && c1&catBox != 0:
			return true
		// [box] [end]
		case c0&catBox != 0 && c1&catEndPunct != 0:
			return true
		// [Œœ][^A-Za-z]
		case (r0 == 'Œ' || r0 == 'œ') && !isASCIILetter(r1):
			return true
		// [upper_accented]°
		case c0&catUpperAccented != 0 && r1 == '°':
			return true
		// [ÂÃÎÐ][€œŠš¢£Ÿž\xa0\xad®©°·»{start}{end}–—´]
		case c0&litA != 0 && c1&(litB|catStartPunct|catEndPunct) != 0:
			return true
		// ×[²³]
		case r0 == '×' && (r1 == '²' || r1 == '³'):
			return true
		// à[²µ¹¼½¾]
		case r0 == 'à' && c1&litC != 0:
			return true
		// √[±∂†≠®™´≤≥¥µø]
		case r0 == '√' && c1&litD != 0:
			return true
		// ≈[°¢]
		case r0 == '≈' && (r1 == '°' || r1 == '¢'):
			return true
		// вЂ
		case r0 == 'в' && r1 == 'Ђ':
			return true
		// Ã[\xa0¡]
		case r0 == 'Ã' && (r1 == '\u00a0' || r1 == '¡'):
			return true
		// ā€
		case r0 == 'ā' && r1 == '€':
			return true
		// ^[ÃÂ][ ]
		case anchored && i == 0 && (r0 == 'Ã' || r0 == 'Â') && r1 == ' ':
			return true
		}
	}
	if ok2 {
		switch {
		// [a-zA-Z] [lower_common upper_common] [bad]
		case isASCIILetter(r0) && c1&(catLowerCommon|catUpperCommon) != 0 && c2&catBad != 0:
			return true
		// \s [upper_accented] [currency]
		case isPySpace(r0) && c1&catUpperAccented != 0 && c2&catCurrency != 0:
			return true
		// [lower_accented upper_accented box currency end] [start] [numeric]
		case c0&(catLowerAccented|catUpperAccented|catBox|catCurrency|catEndPunct) != 0 && c1&catStartPunct != 0 && c2&catNumeric != 0:
			return true
		// [lower_accented upper_accented currency numeric box law] [end] [start]
		case c0&(catLowerAccented|catUpperAccented|catCurrency|catNumeric|catBox|catLaw) != 0 && c1&catEndPunct != 0 && c2&catStartPunct != 0:
			return true
		// [a-z] [upper_accented] [start currency]
		case isASCIILower(r0) && c1&catUpperAccented != 0 && c2&(catStartPunct|catCurrency) != 0:
			return true
		// [lower_accented upper_accented] [start end] \w
		case c0&(catLowerAccented|catUpperAccented) != 0 && c1&(catStartPunct|catEndPunct) != 0 && isPyWord(r2):
			return true
		// ‚Ä[ìîïòôúùû†°¢π]
		case r0 == '‚' && r1 == 'Ä' && c2&litE != 0:
			return true
		// ‚[âó][àä°ê]
		case r0 == '‚' && (r1 == 'â' || r1 == 'ó') && c2&litF != 0:
			return true
		// [ВГРС][c1 bad start end currency °µ][ВГРС]
		case c0&litG != 0 && (c1&(catC1|catBad|catStartPunct|catEndPunct|catCurrency) != 0 || r1 == '°' || r1 == 'µ') && c2&litG != 0:
			return true
		// [a-z]\s?[ÃÂ][ ]  (with the optional space present)
		case isASCIILower(r0) && isPySpace(r1) && (r2 == 'Ã' || r2 == 'Â') && ok3 && r3 == ' ':
			return true
		// [a-z]\s?[ÃÂ][ ]  (without it)
		case isASCIILower(r0) && (r1 == 'Ã' || r1 == 'Â') && r2 == ' ':
			return true
		// [a-z.,?!{end}] Â [ {start}{end}]
		case (isASCIILower(r0) || (r0 == '.' || r0 == ',' || r0 == '?' || r0 == '!') || c0&catEndPunct != 0) && r1 == 'Â' && (r2 == ' ' || c2&(catStartPunct|catEndPunct) != 0):
			return true
		// β€[™\xa0Ά\xad®°]
		case r0 == 'β' && r1 == '€' && c2&litH != 0:
			return true
		// [ΒΓΞΟ][c1 bad start end currency °][ΒΓΞΟ]
		case c0&litI != 0 && (c1&(catC1|catBad|catStartPunct|catEndPunct|catCurrency) != 0 || r1 == '°') && c2&litI != 0:
			return true
		}
	}
	if ok3 {
		// [ØÙ][common currency bad numeric start ŸŠ®°µ»] twice
		arabic := func(c uint32) bool {
			return c&(catCommon|catCurrency|catBad|catNumeric|catStartPunct|litJ) != 0
		}
		if (r0 == 'Ø' || r0 == 'Ù') && arabic(c1) && (r2 == 'Ø' || r2 == 'Ù') && arabic(c3) {
			return true
		}
	}
	// ГўВЂВ.[A-Za-z ]
	if i+6 < n && r0 == 'Г' && r1 == 'ў' && r2 == 'В' && r3 == 'Ђ' && rs[i+4] == 'В' && rs[i+5] != '\n' &&
		(isASCIILetter(rs[i+6]) || rs[i+6] == ' ') {
		return true
	}
	return false
}
