package hftok

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gomlx/go-huggingface/tokenizers/hftokenizer"
	"golang.org/x/text/unicode/norm"
)

// unigramEncoder encodes with a Unigram model (SentencePiece's Viterbi
// segmentation, as Hugging Face tokenizers implements it) behind the
// normalizers and pre-tokenizers this package reproduces: the pipeline that
// Model2Vec's distillation writes (BertNormalizer, Replace, Strip, Metaspace)
// and sentencepiece-style ones without a precompiled character map.
type unigramEncoder struct {
	added addedTokens
	norm  []normStep
	pre   []preStep

	trie     byteTrie
	scores   []float64
	vocab    map[string]int // piece → id, the last id of a repeated piece
	unk      int
	unkScore float64
	byteIDs  []int // <0xXX> piece ids when byte_fallback is on, else nil
}

// unigramModelSpec is the "model" object of a Unigram tokenizer.json.
type unigramModelSpec struct {
	Type         string            `json:"type"`
	UnkID        *int              `json:"unk_id"`
	ByteFallback bool              `json:"byte_fallback"`
	Vocab        []json.RawMessage `json:"vocab"` // [piece, score] pairs
}

// pipelineSpec is the part of tokenizer.json the Unigram encoder reads
// itself: go-huggingface drops the scores, Strip's and Prepend's fields and
// the distinction between an absent and an empty pattern.
type pipelineSpec struct {
	Normalizer   *normSpec        `json:"normalizer"`
	PreTokenizer *preSpec         `json:"pre_tokenizer"`
	Model        unigramModelSpec `json:"model"`
}

type normSpec struct {
	Type               string `json:"type"`
	CleanText          bool   `json:"clean_text"`
	HandleChineseChars bool   `json:"handle_chinese_chars"`
	StripAccents       *bool  `json:"strip_accents"`
	Lowercase          bool   `json:"lowercase"`
	Pattern            *struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	} `json:"pattern"`
	Content     string     `json:"content"`
	StripLeft   bool       `json:"strip_left"`
	StripRight  bool       `json:"strip_right"`
	Prepend     string     `json:"prepend"`
	Normalizers []normSpec `json:"normalizers"`
}

type preSpec struct {
	Type           string    `json:"type"`
	Replacement    string    `json:"replacement"`
	PrependScheme  string    `json:"prepend_scheme"`
	AddPrefixSpace *bool     `json:"add_prefix_space"`
	Split          *bool     `json:"split"`
	PreTokenizers  []preSpec `json:"pretokenizers"`
}

// unkPenalty is subtracted from the lowest piece score to score an unknown
// character (Hugging Face's K_UNK_PENALTY).
const unkPenalty = 10.0

// newUnigramEncoder returns an encoder for the tokenizer.json content, or
// nil when its model is not Unigram or its pipeline has a step this
// package does not reproduce exactly.
func newUnigramEncoder(content []byte, spec *hftokenizer.TokenizerJSON) (*unigramEncoder, error) {
	if spec.Model.Type != "Unigram" {
		return nil, nil
	}
	var ps pipelineSpec
	if err := json.Unmarshal(content, &ps); err != nil {
		return nil, fmt.Errorf("parse Unigram model: %w", err)
	}
	m := &ps.Model
	if m.UnkID == nil || len(m.Vocab) == 0 {
		return nil, nil // unknown characters would be an error, as in Hugging Face
	}
	e := &unigramEncoder{unk: *m.UnkID, vocab: make(map[string]int, len(m.Vocab))}
	if e.unk < 0 || e.unk >= len(m.Vocab) {
		return nil, fmt.Errorf("Unigram unk_id %d is outside the vocabulary of %d pieces", e.unk, len(m.Vocab))
	}
	var ok bool
	if e.added, ok = newAddedTokens(spec); !ok {
		return nil, nil
	}
	if ps.Normalizer != nil {
		if e.norm, ok = compileNorm(ps.Normalizer, e.norm); !ok {
			return nil, nil
		}
	}
	if ps.PreTokenizer != nil {
		if e.pre, ok = compilePre(ps.PreTokenizer, e.pre); !ok {
			return nil, nil
		}
		if len(e.pre) > 0 {
			if m, isMeta := e.pre[0].(metaspaceStep); isMeta && m.needsPlainText && len(e.norm) > 0 {
				return nil, nil
			}
		}
	}
	e.scores = make([]float64, len(m.Vocab))
	minScore := 0.0
	pieces := make([]string, len(m.Vocab))
	for id, raw := range m.Vocab {
		var pair []json.RawMessage
		if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("Unigram vocabulary entry %d is not a [piece, score] pair", id)
		}
		if err := json.Unmarshal(pair[0], &pieces[id]); err != nil {
			return nil, fmt.Errorf("Unigram vocabulary entry %d: piece: %w", id, err)
		}
		if err := json.Unmarshal(pair[1], &e.scores[id]); err != nil {
			return nil, fmt.Errorf("Unigram vocabulary entry %d: score: %w", id, err)
		}
		e.vocab[pieces[id]] = id
		if id == 0 || e.scores[id] < minScore {
			minScore = e.scores[id]
		}
	}
	e.unkScore = minScore - unkPenalty
	e.trie = newByteTrie(e.vocab)
	if m.ByteFallback {
		e.byteIDs = make([]int, 256)
		for b := range e.byteIDs {
			id, ok := e.vocab[fmt.Sprintf("<0x%02X>", b)]
			if !ok {
				id = -1
			}
			e.byteIDs[b] = id
		}
	}
	return e, nil
}

// appendEncode appends the ids of text to dst (see
// Tokenizer.AppendEncodePrefix for limit and drop).
func (e *unigramEncoder) appendEncode(dst []int, text string, limit, drop int) []int {
	return encodeSegments(dst, text, limit, drop, &e.added, e.appendSegment)
}

// span is a pre-token: a byte range of a buffer, and whether it starts the
// original text (Metaspace's "first" prepend scheme needs it).
type span struct {
	start, end int
	first      bool
}

// appendSegment normalizes, pre-tokenizes and encodes text that holds no
// added token; atStart reports that it starts the original text.
func (e *unigramEncoder) appendSegment(dst []int, st *encodeState, text string, atStart bool) []int {
	if text == "" {
		return dst
	}
	a, b := append(st.bufA[:0], text...), st.bufB[:0]
	for _, step := range e.norm {
		b = step.apply(b[:0], a, st)
		a, b = b, a
	}
	pieces, spare := st.pieces[:0], st.spans[:0]
	if len(a) > 0 {
		pieces = append(pieces, span{0, len(a), atStart})
	}
	for _, step := range e.pre {
		var out []byte
		out, spare = step.apply(b[:0], spare[:0], a, pieces)
		if step.rewrites() {
			a, b = out, a
		}
		pieces, spare = spare, pieces
	}
	st.bufA, st.bufB, st.pieces, st.spans = a, b, pieces, spare
	for _, p := range pieces {
		if st.done {
			break
		}
		dst = st.keep(e.appendPiece(dst, st, a[p.start:p.end]), len(dst))
	}
	return dst
}

// appendPiece appends the ids of the best segmentation of one pre-token.
func (e *unigramEncoder) appendPiece(dst []int, st *encodeState, s []byte) []int {
	n := len(s)
	if n == 0 {
		return dst
	}
	best := slices.Grow(st.best[:0], n+1)[:n+1]
	from := slices.Grow(st.from[:0], n+1)[:n+1]
	ids := slices.Grow(st.ids[:0], n+1)[:n+1]
	st.best, st.from, st.ids = best, from, ids
	for i := range from {
		best[i], from[i] = 0, -1
	}
	for start := 0; start < n; {
		_, mblen := utf8.DecodeRune(s[start:])
		base := best[start]
		single := false
		e.trie.prefixes(s[start:], func(length, id int) {
			end := start + length
			if cand := base + e.scores[id]; from[end] < 0 || cand > best[end] {
				best[end], from[end], ids[end] = cand, start, id
			}
			if length == mblen {
				single = true
			}
		})
		if !single {
			end := start + mblen
			if cand := base + e.unkScore; from[end] < 0 || cand > best[end] {
				best[end], from[end], ids[end] = cand, start, e.unk
			}
		}
		start += mblen
	}
	// Walk back along the best path; runs of unknown characters fuse into
	// one piece, looked up again as a whole.
	mark := len(dst)
	for end := n; end > 0; {
		start := from[end]
		if ids[end] != e.unk {
			dst = append(dst, ids[end])
			end = start
			continue
		}
		fused := end
		for end > 0 && ids[end] == e.unk {
			end = from[end]
		}
		dst = e.appendFused(dst, s[end:fused])
	}
	slices.Reverse(dst[mark:])
	return dst
}

// appendFused appends the id of a fused run of unknown characters (in
// reverse order, as appendPiece builds them).
func (e *unigramEncoder) appendFused(dst []int, piece []byte) []int {
	if id, ok := e.vocab[string(piece)]; ok {
		return append(dst, id)
	}
	if e.byteIDs != nil && !slices.ContainsFunc(piece, func(b byte) bool { return e.byteIDs[b] < 0 }) {
		for i := len(piece) - 1; i >= 0; i-- {
			dst = append(dst, e.byteIDs[piece[i]])
		}
		return dst
	}
	return append(dst, e.unk)
}

// byteTrie finds the vocabulary pieces that prefix a byte string.
type byteTrie struct {
	first []int32  // node → index of its first child edge
	count []uint16 // node → number of child edges
	id    []int32  // node → piece id ending there, -1 when none
	label []byte   // edge labels, sorted per node
	child []int32  // edge targets
	// Nodes with many children (the root among them) look children up in a
	// table of 256 entries (0 for none) at dense[node]×256 of denseChild.
	dense      []int32 // node → table index, -1 for none
	denseChild []int32
}

// denseFanout is the number of children from which a node gets a table.
const denseFanout = 8

// newByteTrie builds the trie of vocab's pieces.
func newByteTrie(vocab map[string]int) byteTrie {
	keys := make([]string, 0, len(vocab))
	for k := range vocab {
		if k != "" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	t := byteTrie{}
	t.newNode() // node 0: the root
	t.build(0, keys, 0, vocab)
	t.dense = make([]int32, len(t.id))
	for node := range t.id {
		t.dense[node] = -1
		if node != 0 && t.count[node] <= denseFanout {
			continue
		}
		t.dense[node] = int32(len(t.denseChild) / 256)
		table := make([]int32, 256)
		for i := t.first[node]; i < t.first[node]+int32(t.count[node]); i++ {
			table[t.label[i]] = t.child[i]
		}
		t.denseChild = append(t.denseChild, table...)
	}
	return t
}

func (t *byteTrie) newNode() int32 {
	t.first = append(t.first, 0)
	t.count = append(t.count, 0)
	t.id = append(t.id, -1)
	return int32(len(t.id) - 1)
}

// build adds the children of node, whose keys (sorted, unique) share their
// first depth bytes.
func (t *byteTrie) build(node int32, keys []string, depth int, vocab map[string]int) {
	if len(keys) > 0 && len(keys[0]) == depth {
		t.id[node] = int32(vocab[keys[0]])
		keys = keys[1:]
	}
	var groups [][]string
	for len(keys) > 0 {
		b := keys[0][depth]
		n := 1
		for n < len(keys) && keys[n][depth] == b {
			n++
		}
		groups = append(groups, keys[:n])
		keys = keys[n:]
	}
	t.first[node] = int32(len(t.label))
	t.count[node] = uint16(len(groups))
	base := len(t.label)
	for _, g := range groups {
		t.label = append(t.label, g[0][depth])
		t.child = append(t.child, 0)
	}
	for i, g := range groups {
		c := t.newNode()
		t.child[base+i] = c
		t.build(c, g, depth+1, vocab)
	}
}

// prefixes calls fn with the length and id of every piece that prefixes s,
// shortest first.
func (t *byteTrie) prefixes(s []byte, fn func(length, id int)) {
	if len(s) == 0 {
		return
	}
	node := t.next(0, s[0])
	for i := 1; node != 0; i++ {
		if id := t.id[node]; id >= 0 {
			fn(i, int(id))
		}
		if i == len(s) {
			return
		}
		node = t.next(node, s[i])
	}
}

// next returns node's child along byte b, or 0.
func (t *byteTrie) next(node int32, b byte) int32 {
	if d := t.dense[node]; d >= 0 {
		return t.denseChild[int(d)<<8|int(b)]
	}
	lo, hi := int(t.first[node]), int(t.first[node])+int(t.count[node])
	for ; lo < hi; lo++ {
		if t.label[lo] == b {
			return t.child[lo]
		}
	}
	return 0
}

// normStep is one normalizer of the pipeline: it appends the normalized src
// to dst.
type normStep interface {
	apply(dst, src []byte, st *encodeState) []byte
}

// compileNorm appends the steps of n to steps, or reports false for a
// normalizer this package does not reproduce (Precompiled, Nmt, ByteLevel,
// an unsupported regular expression).
func compileNorm(n *normSpec, steps []normStep) ([]normStep, bool) {
	switch n.Type {
	case "Sequence":
		for i := range n.Normalizers {
			var ok bool
			if steps, ok = compileNorm(&n.Normalizers[i], steps); !ok {
				return nil, false
			}
		}
		return steps, true
	case "BertNormalizer":
		return append(steps, bertNormStep{newBertNorm(n.CleanText, n.HandleChineseChars, n.Lowercase, n.StripAccents)}), true
	case "Lowercase":
		return append(steps, lowercaseStep{}), true
	case "Strip":
		return append(steps, stripStep{n.StripLeft, n.StripRight}), true
	case "StripAccents":
		return append(steps, stripMarksStep{}), true
	case "NFC":
		return append(steps, formStep{norm.NFC}), true
	case "NFD":
		return append(steps, formStep{norm.NFD}), true
	case "NFKC":
		return append(steps, formStep{norm.NFKC}), true
	case "NFKD":
		return append(steps, formStep{norm.NFKD}), true
	case "Prepend":
		return append(steps, prependStep{n.Prepend}), true
	case "Replace":
		switch {
		case n.Pattern == nil:
			return nil, false
		case n.Pattern.String != nil:
			return append(steps, replaceStep{[]byte(*n.Pattern.String), []byte(n.Content)}), true
		case n.Pattern.Regex != nil:
			re, ok := translateRegex(*n.Pattern.Regex)
			if !ok {
				return nil, false
			}
			if re.String() == whitespaceRuns && n.Content == " " {
				return append(steps, collapseSpaceStep{}), true
			}
			return append(steps, regexStep{re, []byte(n.Content)}), true
		}
	}
	return nil, false
}

// bertNormStep is Hugging Face's BertNormalizer on its own: clean_text
// (drop NUL, U+FFFD and other characters, whitespace to a space), spaces
// around CJK ideographs, accent stripping and lowercasing.
type bertNormStep struct{ bertNorm }

func (b bertNormStep) apply(dst, src []byte, st *encodeState) []byte {
	for len(src) > 0 {
		r, size := utf8.DecodeRune(src)
		src = src[size:]
		if b.cleanText {
			if r == 0 || r == utf8.RuneError || isControl(r) {
				continue
			}
			if unicode.IsSpace(r) {
				dst = append(dst, ' ')
				continue
			}
		}
		if r < utf8.RuneSelf {
			if b.lowercase && 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			dst = append(dst, byte(r))
			continue
		}
		isolate := b.chinese && isChinese(r)
		if isolate {
			dst = append(dst, ' ')
		}
		for _, o := range b.transform(st, r) {
			dst = utf8.AppendRune(dst, o)
		}
		if isolate {
			dst = append(dst, ' ')
		}
	}
	return dst
}

// lowercaseStep is Rust's char::to_lowercase on every character.
type lowercaseStep struct{}

func (lowercaseStep) apply(dst, src []byte, _ *encodeState) []byte {
	for len(src) > 0 {
		r, size := utf8.DecodeRune(src)
		src = src[size:]
		if r == 'İ' {
			dst = append(dst, "i\u0307"...)
			continue
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
	}
	return dst
}

// stripStep removes leading and/or trailing whitespace.
type stripStep struct{ left, right bool }

func (s stripStep) apply(dst, src []byte, _ *encodeState) []byte {
	if s.left {
		src = bytes.TrimLeftFunc(src, unicode.IsSpace)
	}
	if s.right {
		src = bytes.TrimRightFunc(src, unicode.IsSpace)
	}
	return append(dst, src...)
}

// stripMarksStep is the StripAccents normalizer: it drops combining marks.
type stripMarksStep struct{}

func (stripMarksStep) apply(dst, src []byte, _ *encodeState) []byte {
	for len(src) > 0 {
		r, size := utf8.DecodeRune(src)
		if !unicode.Is(unicode.M, r) {
			dst = append(dst, src[:size]...)
		}
		src = src[size:]
	}
	return dst
}

// formStep applies a Unicode normalization form.
type formStep struct{ form norm.Form }

func (f formStep) apply(dst, src []byte, _ *encodeState) []byte { return f.form.Append(dst, src...) }

// prependStep prepends a string to a non-empty text.
type prependStep struct{ s string }

func (p prependStep) apply(dst, src []byte, _ *encodeState) []byte {
	if len(src) == 0 {
		return dst
	}
	return append(append(dst, p.s...), src...)
}

// replaceStep replaces every occurrence of a string, left to right.
type replaceStep struct{ pattern, content []byte }

func (r replaceStep) apply(dst, src []byte, _ *encodeState) []byte {
	if len(r.pattern) == 0 {
		return append(dst, src...)
	}
	for {
		i := bytes.Index(src, r.pattern)
		if i < 0 {
			return append(dst, src...)
		}
		dst = append(append(dst, src[:i]...), r.content...)
		src = src[i+len(r.pattern):]
	}
}

// regexStep replaces every match of a regular expression.
type regexStep struct {
	re      *regexp.Regexp
	content []byte
}

func (r regexStep) apply(dst, src []byte, _ *encodeState) []byte {
	return append(dst, r.re.ReplaceAllLiteral(src, r.content)...)
}

// whitespaceRuns is `\s+` as translateRegex writes it.
const whitespaceRuns = `[\t-\r\x{85}\p{Z}]+`

// collapseSpaceStep replaces every run of whitespace by one space (a Replace
// of `\s+` by " ", which Model2Vec's tokenizers use), without allocating.
type collapseSpaceStep struct{}

func (collapseSpaceStep) apply(dst, src []byte, _ *encodeState) []byte {
	inRun := false
	for len(src) > 0 {
		r, size := utf8.DecodeRune(src)
		if isOnigSpace(r) {
			if !inRun {
				dst = append(dst, ' ')
			}
			inRun = true
		} else {
			dst = append(dst, src[:size]...)
			inRun = false
		}
		src = src[size:]
	}
	return dst
}

// isOnigSpace reports Oniguruma's \s on Unicode text: U+0009–U+000D, U+0085
// and the separators (Z).
func isOnigSpace(r rune) bool {
	return (r >= '\t' && r <= '\r') || r == 0x85 || unicode.Is(unicode.Z, r)
}

// translateRegex compiles an Oniguruma pattern (the regex dialect of Hugging
// Face tokenizers) with Go's regexp when the two agree on it: \s and \S are
// rewritten to Oniguruma's Unicode whitespace; anchors, look-around, flags,
// backreferences and the other Unicode-dependent escapes are refused.
func translateRegex(p string) (*regexp.Regexp, bool) {
	const space = `\t-\r\x{85}\p{Z}`
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			if i+1 == len(p) {
				return nil, false
			}
			i++
			switch e := p[i]; {
			case e == 's' && inClass:
				b.WriteString(space)
			case e == 's':
				b.WriteString("[" + space + "]")
			case e == 'S' && !inClass:
				b.WriteString("[^" + space + "]")
			case strings.IndexByte("tnrfv", e) >= 0 || (e < utf8.RuneSelf && !isAlnum(e)):
				b.WriteByte('\\')
				b.WriteByte(e)
			default:
				return nil, false
			}
		case inClass:
			if c == ']' {
				inClass = false
			} else if c == '[' {
				return nil, false // nested classes and POSIX brackets
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				b.WriteByte('\\')
				b.WriteByte(']')
				i++
			}
		case c == '^' || c == '$':
			return nil, false // line anchors in Oniguruma, text anchors in Go
		case c == '(' && i+1 < len(p) && p[i+1] == '?' && !strings.HasPrefix(p[i:], "(?:"):
			return nil, false
		default:
			b.WriteByte(c)
		}
	}
	if inClass {
		return nil, false
	}
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, false
	}
	return re, true
}

func isAlnum(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// preStep is one pre-tokenizer: it splits pieces of buf into smaller ones,
// possibly rewriting them into out.
type preStep interface {
	apply(out []byte, spans []span, buf []byte, pieces []span) ([]byte, []span)
	// rewrites reports that apply writes its pieces into out.
	rewrites() bool
}

// compilePre appends the steps of p to steps, or reports false for a
// pre-tokenizer this package does not reproduce.
func compilePre(p *preSpec, steps []preStep) ([]preStep, bool) {
	switch p.Type {
	case "Sequence":
		for i := range p.PreTokenizers {
			var ok bool
			if steps, ok = compilePre(&p.PreTokenizers[i], steps); !ok {
				return nil, false
			}
		}
		return steps, true
	case "WhitespaceSplit":
		return append(steps, whitespaceSplitStep{}), true
	case "Metaspace":
		m := metaspaceStep{replacement: p.Replacement, scheme: p.PrependScheme, split: p.Split == nil || *p.Split}
		if utf8.RuneCountInString(m.replacement) != 1 {
			return nil, false
		}
		if m.scheme == "" {
			m.scheme = "always"
		}
		if p.AddPrefixSpace != nil && !*p.AddPrefixSpace {
			m.scheme = "never"
		}
		switch m.scheme {
		case "always", "never":
		case "first":
			// Hugging Face prepends only to the pre-token whose first
			// character comes from the start of the text, after
			// normalization and earlier splits; this package does not
			// track where characters come from, so it takes the scheme
			// only where nothing moves them (see newUnigramEncoder).
			if len(steps) > 0 {
				return nil, false
			}
			m.needsPlainText = true
		default:
			return nil, false
		}
		return append(steps, m), true
	}
	return nil, false
}

// whitespaceSplitStep splits on whitespace, which it drops.
type whitespaceSplitStep struct{}

func (whitespaceSplitStep) rewrites() bool { return false }

func (whitespaceSplitStep) apply(out []byte, spans []span, buf []byte, pieces []span) ([]byte, []span) {
	for _, p := range pieces {
		start := -1
		for i := p.start; i < p.end; {
			r, size := utf8.DecodeRune(buf[i:p.end])
			if unicode.IsSpace(r) {
				if start >= 0 {
					spans = append(spans, span{start, i, p.first && start == p.start})
					start = -1
				}
			} else if start < 0 {
				start = i
			}
			i += size
		}
		if start >= 0 {
			spans = append(spans, span{start, p.end, p.first && start == p.start})
		}
	}
	return out, spans
}

// metaspaceStep replaces spaces by the replacement character (▁), prepends
// one as its scheme says, and optionally splits before every replacement.
type metaspaceStep struct {
	replacement    string
	scheme         string
	split          bool
	needsPlainText bool // the "first" scheme, exact only without a normalizer
}

func (metaspaceStep) rewrites() bool { return true }

func (m metaspaceStep) apply(out []byte, spans []span, buf []byte, pieces []span) ([]byte, []span) {
	for _, p := range pieces {
		src := buf[p.start:p.end]
		start := len(out)
		if (m.scheme == "always" || (m.scheme == "first" && p.first)) && src[0] != ' ' && !bytes.HasPrefix(src, []byte(m.replacement)) {
			out = append(out, m.replacement...)
		}
		for _, c := range src {
			if c == ' ' {
				out = append(out, m.replacement...)
			} else {
				out = append(out, c)
			}
		}
		if !m.split {
			spans = append(spans, span{start, len(out), p.first})
			continue
		}
		piece := start
		for i := start + 1; i < len(out); i++ {
			if bytes.HasPrefix(out[i:], []byte(m.replacement)) {
				spans = append(spans, span{piece, i, p.first && piece == start})
				piece = i
			}
		}
		spans = append(spans, span{piece, len(out), p.first && piece == start})
	}
	return out, spans
}
