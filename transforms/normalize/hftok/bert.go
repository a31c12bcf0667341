package hftok

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/gomlx/go-huggingface/tokenizers/hftokenizer"
	"golang.org/x/text/unicode/norm"
)

// bertEncoder encodes with the BERT pipeline of Hugging Face tokenizers:
// added tokens matched on the raw text (leftmost-longest), BertNormalizer,
// BertPreTokenizer and greedy longest-match-first WordPiece, in one pass.
type bertEncoder struct {
	bertNorm

	vocab       map[string]int
	unk         int
	prefix      string
	maxChars    int
	maxTokenLen int // longest vocabulary entry, in bytes, without the prefix

	added addedTokens
}

// bertNorm holds the options of Hugging Face's BertNormalizer.
type bertNorm struct {
	cleanText, chinese, stripAccents, lowercase bool
}

// newBertNorm returns the options of a BertNormalizer; stripAccents nil
// means "as lowercase".
func newBertNorm(cleanText, chinese, lowercase bool, stripAccents *bool) bertNorm {
	b := bertNorm{cleanText: cleanText, chinese: chinese, lowercase: lowercase, stripAccents: lowercase}
	if stripAccents != nil {
		b.stripAccents = *stripAccents
	}
	return b
}

// addedTokens matches added tokens on the raw text, leftmost-longest, as
// Hugging Face does for added tokens that are not normalized.
type addedTokens struct {
	list  []addedToken // longest first
	first [256]bool    // first bytes of added tokens
}

type addedToken struct {
	content string
	id      int
}

// newAddedTokens returns the added tokens of spec, or false when one of them
// is matched after normalization or with options this package does not
// reproduce.
func newAddedTokens(spec *hftokenizer.TokenizerJSON) (addedTokens, bool) {
	var a addedTokens
	for _, at := range spec.AddedTokens {
		if at.Normalized || at.SingleWord || at.Lstrip || at.Rstrip || at.Content == "" {
			return a, false
		}
		a.list = append(a.list, addedToken{at.Content, at.ID})
		a.first[at.Content[0]] = true
	}
	sort.SliceStable(a.list, func(i, j int) bool { return len(a.list[i].content) > len(a.list[j].content) })
	return a, true
}

// find returns the position and the token of the first added token in text
// at or after from, or -1 and nil.
func (a *addedTokens) find(text string, from int) (int, *addedToken) {
	for pos := from; pos < len(text); pos++ {
		if !a.first[text[pos]] {
			continue
		}
		for i := range a.list {
			if strings.HasPrefix(text[pos:], a.list[i].content) {
				return pos, &a.list[i]
			}
		}
	}
	return -1, nil
}

// newBertEncoder returns an encoder for spec, or nil when spec is not a BERT
// pipeline this encoder reproduces exactly.
func newBertEncoder(spec *hftokenizer.TokenizerJSON, tokens []string) *bertEncoder {
	n, p, m := spec.Normalizer, spec.PreTokenizer, spec.Model
	if n == nil || n.Type != "BertNormalizer" || p == nil || p.Type != "BertPreTokenizer" || m.Type != "WordPiece" {
		return nil
	}
	unk, ok := m.Vocab[m.UnkToken]
	if !ok {
		return nil
	}
	added, ok := newAddedTokens(spec)
	if !ok {
		return nil
	}
	e := &bertEncoder{
		bertNorm: newBertNorm(n.CleanText, n.HandleChineseChars, n.Lowercase, n.StripAccents),
		vocab:    m.Vocab,
		unk:      unk,
		prefix:   m.ContinuingSubwordPrefix,
		maxChars: m.MaxInputCharsPerWord,
		added:    added,
	}
	if e.maxChars == 0 {
		e.maxChars = 100
	}
	for tok := range m.Vocab {
		e.maxTokenLen = max(e.maxTokenLen, len(strings.TrimPrefix(tok, e.prefix)))
	}
	return e
}

// appendEncode appends the ids of text to dst (see
// Tokenizer.AppendEncodePrefix for limit and drop).
func (e *bertEncoder) appendEncode(dst []int, text string, limit, drop int) []int {
	return encodeSegments(dst, text, limit, drop, &e.added, func(dst []int, st *encodeState, seg string, _ bool) []int {
		return e.appendSegment(dst, st, seg)
	})
}

// encodeSegments appends the ids of text to dst, at most limit of them
// (all when negative) and none equal to drop: the ids of its added tokens
// and, for the text around them, what segment appends (atStart: the
// segment starts the text).
func encodeSegments(dst []int, text string, limit, drop int, added *addedTokens,
	segment func(dst []int, st *encodeState, seg string, atStart bool) []int) []int {
	st := getState(len(dst), limit, drop)
	defer statePool.Put(st)
	seg := 0
	for !st.done {
		pos, at := added.find(text, seg)
		if at == nil {
			break
		}
		dst = segment(dst, st, text[seg:pos], seg == 0)
		if !st.done {
			dst = st.keep(append(dst, at.id), len(dst))
		}
		seg = pos + len(at.content)
	}
	if st.done {
		return dst
	}
	return segment(dst, st, text[seg:], seg == 0)
}

// statePool recycles encodeStates across calls.
var statePool = sync.Pool{New: func() any { return new(encodeState) }}

// getState returns a state for an encoding that appends to a dst of length
// base at most limit ids (all when negative), leaving out id drop.
func getState(base, limit, drop int) *encodeState {
	st := statePool.Get().(*encodeState)
	st.base, st.limit, st.drop, st.done = base, limit, drop, false
	return st
}

// keep removes the dropped id from dst[mark:], ids just appended, and cuts
// dst at the limit, after which the encoding is done.
func (st *encodeState) keep(dst []int, mark int) []int {
	if st.drop >= 0 {
		dst = append(dst[:mark], slices.DeleteFunc(dst[mark:], func(id int) bool { return id == st.drop })...)
	}
	if st.limit >= 0 && len(dst)-st.base >= st.limit {
		dst, st.done = dst[:st.base+st.limit], true
	}
	return dst
}

// encodeState holds the scratch buffers of one appendEncode call.
type encodeState struct {
	// The encoding's limit on appended ids (negative: none), the id it
	// leaves out (negative: none), the length of dst it started from, and
	// whether the limit was reached.
	base, limit, drop int
	done              bool

	word, key, nfd []byte
	runes          []rune
	one, src       [utf8.UTFMax]byte

	// The Unigram encoder's: normalized text, pre-tokens and the Viterbi
	// lattice.
	bufA, bufB    []byte
	pieces, spans []span
	best          []float64
	from, ids     []int
}

// appendSegment normalizes, pre-tokenizes and WordPiece-encodes text that
// holds no added token.
func (e *bertEncoder) appendSegment(dst []int, st *encodeState, text string) []int {
	st.word = st.word[:0]
	flush := func() {
		if len(st.word) > 0 {
			dst = e.emitWord(dst, st, st.word)
			st.word = st.word[:0]
		}
	}
	for _, r := range text {
		if st.done {
			return dst
		}
		if e.cleanText && (r == 0 || r == utf8.RuneError || isControl(r)) {
			continue
		}
		if unicode.IsSpace(r) {
			flush()
			continue
		}
		if r < utf8.RuneSelf {
			switch {
			case isASCIIPunct(r):
				flush()
				st.one[0] = byte(r)
				dst = e.emitWord(dst, st, st.one[:1])
			default:
				if e.lowercase && 'A' <= r && r <= 'Z' {
					r += 'a' - 'A'
				}
				st.word = append(st.word, byte(r))
			}
			continue
		}
		isolate := e.chinese && isChinese(r)
		if isolate {
			flush()
		}
		for _, o := range e.transform(st, r) {
			switch {
			case unicode.IsSpace(o):
				flush()
			case isASCIIPunct(o) || unicode.IsPunct(o):
				flush()
				dst = e.emitWord(dst, st, st.one[:utf8.EncodeRune(st.one[:], o)])
			default:
				st.word = utf8.AppendRune(st.word, o)
			}
		}
		if isolate {
			flush()
		}
	}
	flush()
	return dst
}

// transform applies accent stripping (NFD, then dropping Mn) and
// lowercasing to one non-ASCII character.
func (e *bertNorm) transform(st *encodeState, r rune) []rune {
	src := st.src[:utf8.EncodeRune(st.src[:], r)]
	if e.stripAccents {
		src = st.decompose(src, r)
	}
	out := st.runes[:0]
	for len(src) > 0 {
		o, size := utf8.DecodeRune(src)
		src = src[size:]
		if e.stripAccents && unicode.Is(unicode.Mn, o) {
			continue
		}
		if e.lowercase {
			if o == 'İ' { // the one unconditional multi-character lowercase mapping
				out = append(out, 'i', '\u0307')
				continue
			}
			o = unicode.ToLower(o)
		}
		out = append(out, o)
	}
	st.runes = out
	return out
}

// decompose returns the canonical decomposition (NFD) of the one character
// r encoded in src, without allocating: from the normalization tables,
// except for Hangul syllables, which decompose by Unicode's algorithm into
// leading consonant, vowel and optional trailing consonant.
func (st *encodeState) decompose(src []byte, r rune) []byte {
	if s := r - 0xac00; s >= 0 && s < 11172 {
		st.nfd = utf8.AppendRune(st.nfd[:0], 0x1100+s/588)
		st.nfd = utf8.AppendRune(st.nfd, 0x1161+s%588/28)
		if t := s % 28; t != 0 {
			st.nfd = utf8.AppendRune(st.nfd, 0x11a7+t)
		}
		return st.nfd
	}
	if d := norm.NFD.Properties(src).Decomposition(); d != nil {
		return d
	}
	return src
}

// emitWord appends the ids of one pre-tokenized word as st allows.
func (e *bertEncoder) emitWord(dst []int, st *encodeState, word []byte) []int {
	if st.done {
		return dst
	}
	return st.keep(e.appendWord(dst, st, word), len(dst))
}

// appendWord appends the WordPiece ids of one pre-tokenized word.
func (e *bertEncoder) appendWord(dst []int, st *encodeState, word []byte) []int {
	if longerThan(word, e.maxChars) {
		return append(dst, e.unk)
	}
	mark := len(dst)
	for start := 0; start < len(word); {
		end := min(len(word), start+e.maxTokenLen)
		for end > start && !utf8.RuneStart(safeAt(word, end)) {
			end--
		}
		found := false
		for end > start {
			st.key = st.key[:0]
			if start > 0 {
				st.key = append(st.key, e.prefix...)
			}
			st.key = append(st.key, word[start:end]...)
			if id, ok := e.vocab[string(st.key)]; ok {
				dst = append(dst, id)
				found = true
				break
			}
			end--
			for end > start && !utf8.RuneStart(word[end]) {
				end--
			}
		}
		if !found {
			return append(dst[:mark], e.unk)
		}
		start = end
	}
	return dst
}

// longerThan reports whether the UTF-8 word has more than n characters
// (utf8.RuneCount copies non-ASCII input to a string).
func longerThan(word []byte, n int) bool {
	for _, b := range word {
		if utf8.RuneStart(b) {
			if n--; n < 0 {
				return true
			}
		}
	}
	return false
}

// safeAt returns b[i], or a rune-start byte past the end.
func safeAt(b []byte, i int) byte {
	if i >= len(b) {
		return 0
	}
	return b[i]
}

// isControl is Hugging Face's BertNormalizer test for characters clean_text
// removes: category C (Cc, Cf, Co, Cs, and unassigned), except \t \n \r.
func isControl(r rune) bool {
	switch r {
	case '\t', '\n', '\r':
		return false
	}
	if unicode.Is(unicode.C, r) {
		return true
	}
	if r < utf8.RuneSelf {
		return false
	}
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

// isASCIIPunct is Rust's char::is_ascii_punctuation.
func isASCIIPunct(r rune) bool {
	return (r >= '!' && r <= '/') || (r >= ':' && r <= '@') || (r >= '[' && r <= '`') || (r >= '{' && r <= '~')
}

// isChinese reports the CJK ideographs BertNormalizer surrounds with spaces.
func isChinese(r rune) bool {
	return (r >= 0x4e00 && r <= 0x9fff) || (r >= 0x3400 && r <= 0x4dbf) || (r >= 0x20000 && r <= 0x2a6df) ||
		(r >= 0x2a700 && r <= 0x2b73f) || (r >= 0x2b740 && r <= 0x2b81f) || (r >= 0x2b820 && r <= 0x2ceaf) ||
		(r >= 0xf900 && r <= 0xfaff) || (r >= 0x2f800 && r <= 0x2fa1f)
}
