// Package rows holds winnow's record-level building blocks: a Row (one JSON
// object of a shard, decoded only when needed), jq expressions compiled once
// and sealed from the process environment, and Ops, the plain-Go record
// operations that shard pipelines chain. Nothing here depends on Beam.
package rows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/bytedance/sonic"
	sonicenc "github.com/bytedance/sonic/encoder"
	"github.com/itchyny/gojq"
)

// Row is one JSON object read from a shard. Its text is kept as read and
// written back unchanged unless an operation replaces the object.
type Row struct {
	raw []byte
	obj map[string]any
	// line, when set, is written instead of the row's JSON (SetLine).
	line []byte
	// Source and Line locate the row in its input, for error messages.
	Source string
	Line   int64
}

// New returns a row over raw, which the row keeps (callers pass a copy when
// they reuse their buffer).
func New(raw []byte, source string, line int64) *Row {
	return &Row{raw: raw, Source: source, Line: line}
}

// FromObject returns a row holding obj.
func FromObject(obj map[string]any) *Row { return &Row{obj: obj} }

// Raw returns the row's text as read, or nil once the object was replaced.
func (r *Row) Raw() []byte { return r.raw }

// Validate checks that the row is valid UTF-8 and one JSON object, without
// decoding it.
func (r *Row) Validate() error {
	if r.raw == nil || r.line != nil {
		return nil
	}
	return validate(r.raw)
}

func validate(b []byte) error {
	if !utf8.Valid(b) {
		off := invalidUTF8Offset(b)
		return BadRowf("invalid UTF-8 at byte %d", off)
	}
	t := bytes.TrimLeft(b, " \t")
	if len(t) == 0 || t[0] != '{' {
		return BadRowf("not a JSON object")
	}
	if !sonic.Valid(b) {
		return BadRowf("malformed JSON: %v", jsonError(b))
	}
	return nil
}

func invalidUTF8Offset(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

func jsonError(b []byte) error {
	var v any
	err := json.Unmarshal(b, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%s (at byte %d)", se.Error(), se.Offset)
	}
	if err == nil {
		return errors.New("trailing data")
	}
	return err
}

// decoder decodes rows; numbers become json.Number, so integers of any size
// and the text of floats survive a round trip.
var decoder = sonic.Config{UseNumber: true}.Froze()

// encoder writes replaced rows compactly, keys sorted (deterministic
// output), without HTML escaping.
var encoder = sonic.Config{SortMapKeys: true}.Froze()

// encoderOptions are encoder's options, for EncodeInto.
const encoderOptions = sonicenc.SortMapKeys

// Object returns the decoded object, decoding it on first use. Numbers are
// json.Number, so integers of any size and the text of floats survive a
// round trip.
func (r *Row) Object() (map[string]any, error) {
	if r.obj != nil {
		return r.obj, nil
	}
	// The decoder finds syntax errors itself; only UTF-8 (which it would
	// silently replace) and the object shape need checking first.
	if !utf8.Valid(r.raw) {
		return nil, BadRowf("invalid UTF-8 at byte %d", invalidUTF8Offset(r.raw))
	}
	var v any
	if err := decoder.Unmarshal(r.raw, &v); err != nil {
		return nil, BadRowf("malformed JSON: %v", jsonError(r.raw))
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, BadRowf("not a JSON object")
	}
	r.obj = obj
	return obj, nil
}

// Set replaces the row's object; the row is re-encoded when written.
func (r *Row) Set(obj map[string]any) {
	r.obj = obj
	r.raw = nil
}

// SetLine makes the row's output line exactly b, which need not be JSON
// (e.g. a fastText training line). The op that sets it answers for its
// content; it must not contain a newline.
func (r *Row) SetLine(b []byte) { r.line = b }

// Encode returns the text to write: a line set with SetLine; else the
// original text when the object was not replaced; else the object encoded
// compactly with sorted keys and without HTML escaping.
func (r *Row) Encode() ([]byte, error) {
	if r.line != nil {
		return r.line, nil
	}
	if r.raw != nil {
		return r.raw, nil
	}
	b, err := encoder.Marshal(r.obj)
	if err != nil {
		return encodeNonJSON(r.obj)
	}
	return b, nil
}

// NeedsEncoding reports whether the row's text is not at hand and Encode
// must encode its object: the object was replaced and no line was set.
func (r *Row) NeedsEncoding() bool { return r.line == nil && r.raw == nil }

// EncodeInto is Encode writing a replaced object's text at the end of *buf,
// which grows as needed, instead of into an allocation of its own; the text
// of a row that was not replaced is returned as it is, and *buf is left
// alone. The result stays valid for as long as the memory it points into:
// a caller recycling *buf must be done with it first.
func (r *Row) EncodeInto(buf *[]byte) ([]byte, error) {
	if !r.NeedsEncoding() {
		return r.Encode()
	}
	start := len(*buf)
	if err := sonicenc.EncodeInto(buf, r.obj, encoderOptions); err != nil {
		*buf = (*buf)[:start]
		return encodeNonJSON(r.obj)
	}
	return (*buf)[start:len(*buf):len(*buf)], nil
}

// encodeNonJSON encodes what the JSON encoder refused: jq can make values
// JSON has no literal for (NaN, infinities), which gojq encodes as jq does.
func encodeNonJSON(obj map[string]any) ([]byte, error) {
	b, err := gojq.Marshal(obj)
	if err != nil {
		return nil, BadRowf("encode row: %v", err)
	}
	return b, nil
}

// Size returns the length of the row's encoded text.
func (r *Row) Size() (int, error) {
	b, err := r.Encode()
	return len(b), err
}

// BadRowError marks a problem with one row (as opposed to I/O failures):
// it fails the run, or with --on-bad-row=skip sends the row to _errors/.
type BadRowError struct {
	Reason string
}

func (e *BadRowError) Error() string { return e.Reason }

// BadRowf returns a BadRowError with a formatted reason.
func BadRowf(format string, args ...any) error {
	return &BadRowError{Reason: fmt.Sprintf(format, args...)}
}

// IsBadRow reports whether err concerns one row.
func IsBadRow(err error) bool {
	var b *BadRowError
	return errors.As(err, &b)
}
