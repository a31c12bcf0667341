package parquetjson

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

// leafEncoder appends the JSON encoding of a non-null column value to dst.
type leafEncoder func(dst []byte, v parquet.Value) ([]byte, error)

var (
	errInvalidUTF8 = errors.New("invalid UTF-8 in a string value")
	errTimeRange   = errors.New("time outside the years 0-9999 that RFC 3339 can write")
)

// leafEncoderOf chooses the encoder of a leaf column from its physical and
// logical (or legacy converted) types.
func leafEncoderOf(e *format.SchemaElement) (leafEncoder, error) {
	phys := e.Type.V
	want := func(kinds ...format.Type) error {
		for _, k := range kinds {
			if phys == k {
				return nil
			}
		}
		return fmt.Errorf("logical type %s is not valid on physical type %s", logicalName(e), phys)
	}
	switch lt := e.LogicalType.Value.(type) {
	case *format.StringType, *format.EnumType:
		if err := want(format.ByteArray, format.FixedLenByteArray); err != nil {
			return nil, err
		}
		return encodeString, nil
	case *format.JsonType:
		if err := want(format.ByteArray); err != nil {
			return nil, err
		}
		return encodeJSON, nil
	case *format.IntType:
		return intEncoder(phys, int(lt.BitWidth), lt.IsSigned, logicalName(e))
	case *format.DecimalType:
		return decimalEncoder(phys, int(lt.Scale), logicalName(e))
	case *format.DateType:
		if err := want(format.Int32); err != nil {
			return nil, err
		}
		return encodeDate, nil
	case *format.TimeType:
		return timeEncoder(phys, lt.Unit.Value, logicalName(e))
	case *format.TimestampType:
		if err := want(format.Int64); err != nil {
			return nil, err
		}
		return timestampEncoder(lt.Unit.Value), nil
	case *format.UUIDType:
		if phys != format.FixedLenByteArray || e.TypeLength.V != 16 {
			return nil, fmt.Errorf("UUID must be a FIXED_LEN_BYTE_ARRAY(16)")
		}
		return encodeUUID, nil
	case *format.Float16Type:
		if phys != format.FixedLenByteArray || e.TypeLength.V != 2 {
			return nil, fmt.Errorf("FLOAT16 must be a FIXED_LEN_BYTE_ARRAY(2)")
		}
		return encodeFloat16, nil
	case nil:
		// no logical type: fall back on the converted type, then on the
		// physical type.
	default:
		// NULL (UNKNOWN), BSON, GEOMETRY, GEOGRAPHY and logical types
		// added after this package was written: the physical type.
		return physicalEncoder(phys)
	}
	if e.ConvertedType.Valid {
		switch ct := e.ConvertedType.V; ct {
		case deprecated.UTF8, deprecated.Enum:
			return encodeString, nil
		case deprecated.Json:
			return encodeJSON, nil
		case deprecated.Decimal:
			return decimalEncoder(phys, int(e.Scale.V), logicalName(e))
		case deprecated.Date:
			return encodeDate, nil
		case deprecated.TimeMillis:
			return timeEncoder(phys, &format.MilliSeconds{}, logicalName(e))
		case deprecated.TimeMicros:
			return timeEncoder(phys, &format.MicroSeconds{}, logicalName(e))
		case deprecated.TimestampMillis:
			return timestampEncoder(&format.MilliSeconds{}), nil
		case deprecated.TimestampMicros:
			return timestampEncoder(&format.MicroSeconds{}), nil
		case deprecated.Uint8, deprecated.Uint16, deprecated.Uint32, deprecated.Uint64:
			return intEncoder(phys, 8<<(ct-deprecated.Uint8), false, logicalName(e))
		case deprecated.Int8, deprecated.Int16, deprecated.Int32, deprecated.Int64:
			return intEncoder(phys, 8<<(ct-deprecated.Int8), true, logicalName(e))
		}
	}
	return physicalEncoder(phys)
}

func logicalName(e *format.SchemaElement) string {
	if e.LogicalType.Value != nil {
		return e.LogicalType.Value.String()
	}
	if e.ConvertedType.Valid {
		return fmt.Sprintf("converted type %d", e.ConvertedType.V)
	}
	return e.Type.V.String()
}

// physicalEncoder encodes a value by its physical type alone.
func physicalEncoder(phys format.Type) (leafEncoder, error) {
	switch phys {
	case format.Boolean:
		return encodeBool, nil
	case format.Int32:
		return encodeInt32, nil
	case format.Int64:
		return encodeInt64, nil
	case format.Int96:
		return encodeInt96, nil
	case format.Float:
		return encodeFloat, nil
	case format.Double:
		return encodeDouble, nil
	case format.ByteArray, format.FixedLenByteArray:
		return encodeBinary, nil
	}
	return nil, fmt.Errorf("unknown physical type %d", phys)
}

func encodeBool(dst []byte, v parquet.Value) ([]byte, error) {
	return strconv.AppendBool(dst, v.Boolean()), nil
}

func encodeInt32(dst []byte, v parquet.Value) ([]byte, error) {
	return strconv.AppendInt(dst, int64(v.Int32()), 10), nil
}

func encodeUint32(dst []byte, v parquet.Value) ([]byte, error) {
	return strconv.AppendUint(dst, uint64(v.Uint32()), 10), nil
}

func encodeInt64(dst []byte, v parquet.Value) ([]byte, error) {
	return strconv.AppendInt(dst, v.Int64(), 10), nil
}

func encodeUint64(dst []byte, v parquet.Value) ([]byte, error) {
	return strconv.AppendUint(dst, v.Uint64(), 10), nil
}

func intEncoder(phys format.Type, bits int, signed bool, name string) (leafEncoder, error) {
	switch {
	case phys == format.Int32 && bits <= 32 && signed:
		return encodeInt32, nil
	case phys == format.Int32 && bits <= 32:
		return encodeUint32, nil
	case phys == format.Int64 && signed:
		return encodeInt64, nil
	case phys == format.Int64:
		return encodeUint64, nil
	}
	return nil, fmt.Errorf("logical type %s is not valid on physical type %s", name, phys)
}

func encodeFloat(dst []byte, v parquet.Value) ([]byte, error) {
	return appendFloat(dst, float64(v.Float()), 32), nil
}

func encodeDouble(dst []byte, v parquet.Value) ([]byte, error) {
	return appendFloat(dst, v.Double(), 64), nil
}

// appendFloat writes f as encoding/json does, and NaN and ±Inf, which JSON
// cannot represent, as null.
func appendFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// encodeFloat16 decodes an IEEE 754 half-precision value (little-endian, as
// the FLOAT16 logical type stores it).
func encodeFloat16(dst []byte, v parquet.Value) ([]byte, error) {
	b := v.ByteArray()
	if len(b) != 2 {
		return nil, fmt.Errorf("FLOAT16 value of %d bytes", len(b))
	}
	return appendFloat(dst, float64(halfToFloat32(binary.LittleEndian.Uint16(b))), 32), nil
}

func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // ±0
		return math.Float32frombits(sign)
	default: // subnormal: mant × 2^-24
		f := float32(mant) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	}
}

func encodeString(dst []byte, v parquet.Value) ([]byte, error) {
	b := v.ByteArray()
	if !utf8.Valid(b) {
		return nil, errInvalidUTF8
	}
	return appendString(dst, b), nil
}

// encodeJSON embeds a JSON-annotated value as JSON, compacted onto one line.
func encodeJSON(dst []byte, v parquet.Value) ([]byte, error) {
	b := v.ByteArray()
	if !utf8.Valid(b) {
		return nil, errInvalidUTF8
	}
	// json.Compact appends to the buffer, which starts as dst.
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, b); err != nil {
		return nil, fmt.Errorf("invalid value of the JSON logical type: %w", err)
	}
	return buf.Bytes(), nil
}

func encodeBinary(dst []byte, v parquet.Value) ([]byte, error) {
	b := v.ByteArray()
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"'), nil
}

func encodeUUID(dst []byte, v parquet.Value) ([]byte, error) {
	b := v.ByteArray()
	if len(b) != 16 {
		return nil, fmt.Errorf("UUID value of %d bytes", len(b))
	}
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hex[c>>4], hex[c&0xf])
	}
	return append(dst, '"'), nil
}

// unixEpochJulianDay is the Julian day number of 1970-01-01.
const unixEpochJulianDay = 2440588

func encodeDate(dst []byte, v parquet.Value) ([]byte, error) {
	t := time.Unix(int64(v.Int32())*86400, 0).UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, errTimeRange
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.DateOnly)
	return append(dst, '"'), nil
}

// timestampLayouts are RFC 3339 layouts with as many fractional digits as
// the unit has.
const (
	layoutMillis = "2006-01-02T15:04:05.000Z07:00"
	layoutMicros = "2006-01-02T15:04:05.000000Z07:00"
	layoutNanos  = "2006-01-02T15:04:05.000000000Z07:00"
)

func timestampEncoder(unit format.TimeUnitValue) leafEncoder {
	var perSecond int64
	var layout string
	switch unit.(type) {
	case *format.MilliSeconds:
		perSecond, layout = 1e3, layoutMillis
	case *format.MicroSeconds:
		perSecond, layout = 1e6, layoutMicros
	default:
		perSecond, layout = 1e9, layoutNanos
	}
	nanosPer := 1e9 / perSecond
	return func(dst []byte, v parquet.Value) ([]byte, error) {
		x := v.Int64()
		sec, frac := x/perSecond, x%perSecond
		if frac < 0 {
			sec, frac = sec-1, frac+perSecond
		}
		return appendTime(dst, time.Unix(sec, frac*nanosPer), layout)
	}
}

func appendTime(dst []byte, t time.Time, layout string) ([]byte, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, errTimeRange
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, layout)
	return append(dst, '"'), nil
}

// encodeInt96 decodes the legacy INT96 timestamp: nanoseconds within the day
// (little-endian int64) followed by the Julian day (little-endian int32).
func encodeInt96(dst []byte, v parquet.Value) ([]byte, error) {
	i := v.Int96()
	nanos := int64(uint64(i[1])<<32 | uint64(i[0]))
	days := int64(int32(i[2])) - unixEpochJulianDay
	return appendTime(dst, time.Unix(days*86400, nanos), layoutNanos)
}

// timeEncoder encodes a TIME of day as "15:04:05" with the unit's fractional
// digits.
func timeEncoder(phys format.Type, unit format.TimeUnitValue, name string) (leafEncoder, error) {
	var perSecond int64
	var digits int
	switch unit.(type) {
	case *format.MilliSeconds:
		perSecond, digits = 1e3, 3
	case *format.MicroSeconds:
		perSecond, digits = 1e6, 6
	default:
		perSecond, digits = 1e9, 9
	}
	if (phys == format.Int32) != (digits == 3) || phys != format.Int32 && phys != format.Int64 {
		return nil, fmt.Errorf("logical type %s is not valid on physical type %s", name, phys)
	}
	return func(dst []byte, v parquet.Value) ([]byte, error) {
		x := v.Int64()
		if phys == format.Int32 {
			x = int64(v.Int32())
		}
		if x < 0 || x > 86400*perSecond {
			return nil, fmt.Errorf("TIME value %d outside a day", x)
		}
		sec, frac := x/perSecond, x%perSecond
		dst = append(dst, '"')
		dst = appendPadded(dst, sec/3600, 2)
		dst = append(dst, ':')
		dst = appendPadded(dst, sec/60%60, 2)
		dst = append(dst, ':')
		dst = appendPadded(dst, sec%60, 2)
		dst = append(dst, '.')
		dst = appendPadded(dst, frac, digits)
		return append(dst, '"'), nil
	}, nil
}

// appendPadded writes a non-negative x with at least width digits.
func appendPadded(dst []byte, x int64, width int) []byte {
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], x, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// decimalEncoder writes the exact decimal value as a JSON number.
func decimalEncoder(phys format.Type, scale int, name string) (leafEncoder, error) {
	if scale < 0 {
		return nil, fmt.Errorf("decimal scale %d is negative", scale)
	}
	switch phys {
	case format.Int32:
		return func(dst []byte, v parquet.Value) ([]byte, error) {
			return appendDecimal(dst, strconv.AppendInt(nil, int64(v.Int32()), 10), scale), nil
		}, nil
	case format.Int64:
		return func(dst []byte, v parquet.Value) ([]byte, error) {
			var buf [24]byte
			return appendDecimal(dst, strconv.AppendInt(buf[:0], v.Int64(), 10), scale), nil
		}, nil
	case format.ByteArray, format.FixedLenByteArray:
		return func(dst []byte, v parquet.Value) ([]byte, error) {
			b := v.ByteArray()
			if len(b) == 0 {
				return nil, fmt.Errorf("empty decimal value")
			}
			var buf [48]byte
			if len(b) <= 8 {
				// sign-extend the big-endian two's complement value.
				x := int64(int8(b[0]))
				for _, c := range b[1:] {
					x = x<<8 | int64(c)
				}
				return appendDecimal(dst, strconv.AppendInt(buf[:0], x, 10), scale), nil
			}
			x := new(big.Int).SetBytes(b)
			if b[0]&0x80 != 0 {
				x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
			}
			return appendDecimal(dst, x.Append(buf[:0], 10), scale), nil
		}, nil
	}
	return nil, fmt.Errorf("logical type %s is not valid on physical type %s", name, phys)
}

// appendDecimal writes the unscaled integer digits (with an optional leading
// minus) with the decimal point scale digits from the right.
func appendDecimal(dst, digits []byte, scale int) []byte {
	if scale == 0 {
		return append(dst, digits...)
	}
	if digits[0] == '-' {
		dst = append(dst, '-')
		digits = digits[1:]
	}
	if len(digits) <= scale {
		dst = append(dst, '0', '.')
		for i := len(digits); i < scale; i++ {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	dst = append(dst, digits[:len(digits)-scale]...)
	dst = append(dst, '.')
	return append(dst, digits[len(digits)-scale:]...)
}

// safeASCII marks the ASCII bytes that a JSON string holds unescaped.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// appendString writes valid UTF-8 s as a JSON string, escaped as
// encoding/json does with SetEscapeHTML(false): the quote, the backslash,
// control characters, and U+2028 and U+2029.
func appendString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip eight bytes at a time while none of them needs a look.
		if i+8 <= len(s) && !mayNeedEscape(binary.LittleEndian.Uint64(s[i:])) {
			i += 8
			continue
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if safeASCII[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 are E2 80 A8 and E2 80 A9.
		if b == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && s[i+2]&^1 == 0xA8 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[s[i+2]&0xf])
			i += 3
			start = i
			continue
		}
		i++
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Byte-parallel tests on eight bytes in a uint64 (Hacker's Delight 6-1).
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// mayNeedEscape reports whether any byte of w is a control character, a
// quote, a backslash or 0xE2 (the lead byte of U+2028 and U+2029). It may
// report true for other bytes next to one of those, never false for them.
func mayNeedEscape(w uint64) bool {
	return ((w-ones*0x20)&^w|
		hasZeroByte(w^(ones*'"'))|
		hasZeroByte(w^(ones*'\\'))|
		hasZeroByte(w^(ones*0xE2)))&highs != 0
}

func hasZeroByte(w uint64) uint64 { return (w - ones) &^ w }
