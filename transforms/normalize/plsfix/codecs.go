package plsfix

import (
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// codec is a single-byte character encoding as ftfy uses it to undo
// mojibake: a byte→rune table and its inverse.
type codec struct {
	name   string
	sloppy bool
	decode [256]rune
	encode map[rune]byte
}

// The encodings ftfy tries, in its order (chardata.CHARMAP_ENCODINGS).
//
// The "sloppy" variants decode the bytes their standard codec leaves
// undefined as the Latin-1 character of the same number (so windows-1252 byte
// 0x81 decodes to U+0081, as Web browsers do), and use byte 0x1A to stand for
// U+FFFD, so that text that lost bytes to replacement characters can still be
// encoded and partially repaired.
var codecs []*codec

func buildCodecs() []*codec {
	return []*codec{
		latin1Codec(),
		sloppyCodec("sloppy-windows-1252", charmap.Windows1252),
		sloppyCodec("sloppy-windows-1251", charmap.Windows1251),
		sloppyCodec("sloppy-windows-1250", charmap.Windows1250),
		sloppyCodec("sloppy-windows-1253", charmap.Windows1253),
		sloppyCodec("sloppy-windows-1254", charmap.Windows1254),
		sloppyCodec("sloppy-windows-1257", charmap.Windows1257),
		plainCodec("iso-8859-2", charmap.ISO8859_2),
		plainCodec("macroman", charmap.Macintosh),
		plainCodec("cp437", charmap.CodePage437),
	}
}

// codecByName returns one of codecs.
func codecByName(name string) *codec {
	for _, c := range codecs {
		if c.name == name {
			return c
		}
	}
	panic("plsfix: unknown codec " + name)
}

var latin1, sloppyWin1252 *codec

func latin1Codec() *codec {
	c := &codec{name: "latin-1"}
	for b := range 256 {
		c.decode[b] = rune(b)
	}
	c.buildEncode()
	return c
}

func plainCodec(name string, cm *charmap.Charmap) *codec {
	c := &codec{name: name}
	for b := range 256 {
		r := cm.DecodeByte(byte(b))
		// Python's codecs map bytes 0x00-0x7F to ASCII (cp437 included),
		// and ISO 8859's 0x80-0x9F to the C1 controls that x/text leaves
		// undefined.
		if b < 0x80 || r == utf8.RuneError {
			r = rune(b)
		}
		c.decode[b] = r
	}
	c.buildEncode()
	return c
}

func sloppyCodec(name string, cm *charmap.Charmap) *codec {
	c := &codec{name: name, sloppy: true}
	for b := range 256 {
		r := cm.DecodeByte(byte(b))
		if r == utf8.RuneError || b < 0x80 {
			r = rune(b)
		}
		c.decode[b] = r
	}
	c.decode[0x1a] = utf8.RuneError
	c.buildEncode()
	return c
}

func (c *codec) buildEncode() {
	c.encode = make(map[rune]byte, 128)
	for b := 0x80; b < 256; b++ {
		c.encode[c.decode[b]] = byte(b)
	}
	c.encode[c.decode[0x1a]] = 0x1a
}

// encodeRune returns the byte that r encodes to, if any.
func (c *codec) encodeRune(r rune) (byte, bool) {
	if r < 0x80 && r != 0x1a {
		return byte(r), true
	}
	b, ok := c.encode[r]
	return b, ok
}

// encodeString encodes s, reporting false when some character has no byte
// in c (Python's chardata.possible_encoding followed by str.encode).
func (c *codec) encodeString(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		b, ok := c.encodeRune(r)
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

// decodeBytes decodes b, byte by byte.
func (c *codec) decodeBytes(b []byte) string {
	out := make([]byte, 0, len(b)+len(b)/2)
	for _, x := range b {
		out = utf8.AppendRune(out, c.decode[x])
	}
	return string(out)
}
