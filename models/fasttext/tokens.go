package fasttext

import (
	"errors"
	"io"
)

// EOS is the end-of-sentence token: fastText reads a newline as this word,
// so it is part of every line of training or test data.
const EOS = "</s>"

var eosBytes = []byte(EOS)

// isSpace marks the bytes that separate fastText tokens: space, \n, \r, \t,
// \v, \f and NUL (std::isspace in the C locale, plus NUL).
var isSpace = [256]bool{' ': true, '\n': true, '\r': true, '\t': true, '\v': true, '\f': true, 0: true}

// textInput is a string or a byte slice; the tokenizer and the hashing
// functions work on both without copying.
type textInput interface{ ~string | ~[]byte }

// hashToken is fastText's FNV-1a variant: each byte is sign-extended from
// int8 before the xor, as released fastText models were built with a signed
// char.
func hashToken[T textInput](s T) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(int32(int8(s[i])))) * 16777619
	}
	return h
}

// tokenReader splits a byte stream into fastText tokens as
// Dictionary::readWord does: tokens are runs of non-separator bytes, and a
// newline reads as the token EOS.
type tokenReader struct {
	r        io.Reader
	buf      []byte
	pos, end int
	err      error // first read error; io.EOF at the end of the input
	consumed int64 // bytes consumed before buf[0]
	newline  bool  // the last token returned was EOS read from a newline
}

func newTokenReader(r io.Reader, size int) *tokenReader {
	if size < 16 {
		size = 16
	}
	return &tokenReader{r: r, buf: make([]byte, size)}
}

// reset starts reading from r again.
func (t *tokenReader) reset(r io.Reader) {
	t.r, t.pos, t.end, t.err, t.consumed = r, 0, 0, nil, 0
}

// fill reads more input keeping buf[keep:end], which it moves to the start
// of the buffer. It returns the shift applied to indexes and whether any
// bytes were added.
func (t *tokenReader) fill(keep int) (shift int, ok bool) {
	if t.err != nil {
		return 0, false
	}
	if keep > 0 {
		copy(t.buf, t.buf[keep:t.end])
		t.consumed += int64(keep)
		t.pos -= keep
		t.end -= keep
		shift = keep
	}
	if t.end == len(t.buf) {
		nb := make([]byte, 2*len(t.buf))
		copy(nb, t.buf[:t.end])
		t.buf = nb
	}
	for tries := 0; tries < 100; tries++ {
		n, err := t.r.Read(t.buf[t.end:])
		t.end += n
		if err != nil {
			t.err = err
		}
		if n > 0 {
			return shift, true
		}
		if err != nil {
			return shift, false
		}
	}
	t.err = io.ErrNoProgress
	return shift, false
}

// atEOF reports whether no bytes are left (std::istream::peek() == EOF).
func (t *tokenReader) atEOF() bool {
	if t.pos < t.end {
		return false
	}
	_, ok := t.fill(t.pos)
	return !ok
}

// next returns the next token, valid until the following call, or false at
// the end of the input. A newline is returned as EOS.
func (t *tokenReader) next() ([]byte, bool) {
	for {
		if t.pos == t.end {
			if _, ok := t.fill(t.pos); !ok {
				return nil, false
			}
		}
		c := t.buf[t.pos]
		if !isSpace[c] {
			break
		}
		t.pos++
		if c == '\n' {
			t.newline = true
			return eosBytes, true
		}
	}
	t.newline = false
	start := t.pos
	for {
		i := t.pos
		buf := t.buf[:t.end]
		for i < len(buf) && !isSpace[buf[i]] {
			i++
		}
		t.pos = i
		if i < len(buf) {
			return buf[start:i], true
		}
		shift, ok := t.fill(start)
		start -= shift
		if !ok {
			return t.buf[start:t.end], true
		}
	}
}

// offset returns the number of bytes consumed so far.
func (t *tokenReader) offset() int64 { return t.consumed + int64(t.pos) }

// readErr returns the read error that ended the input, or nil at a clean end.
func (t *tokenReader) readErr() error {
	if t.err == nil || errors.Is(t.err, io.EOF) {
		return nil
	}
	return t.err
}

// nextStringToken returns the first token of s at or after i and the index
// after it, splitting on the separators and treating a newline as an
// ordinary separator. It returns ok false when s has no more tokens.
func nextStringToken[T textInput](s T, i int) (start, end int, ok bool) {
	for i < len(s) && isSpace[s[i]] {
		i++
	}
	if i == len(s) {
		return i, i, false
	}
	start = i
	for i < len(s) && !isSpace[s[i]] {
		i++
	}
	return start, i, true
}
