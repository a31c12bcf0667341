package parquetjson

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// batchRows is how many rows are decoded from a row group at a time.
const batchRows = 64

// Reader yields a Parquet file's rows as JSON objects.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	file   *parquet.File
	root   *node
	paths  []string // dotted path of each leaf column
	groups []parquet.RowGroup

	group     int          // index of the next row group to open
	rows      parquet.Rows // the open row group, nil between groups
	groupLeft int64        // rows the open row group still has to yield
	groupRow  int64        // file row number (from 1) of the group's first row
	batch     []parquet.Row
	n, i      int   // rows in batch, index of the next one
	row       int64 // rows returned so far

	cols [][]parquet.Value // the current row split by leaf column
	pos  []int             // next value of each leaf column in cols
	err  error             // sticky error
}

// NewReader opens the Parquet file of the given size read through r and
// compiles its schema. Only the footer is read; row groups are decoded as
// Next reaches them, one at a time. The caller keeps ownership of r.
func NewReader(r io.ReaderAt, size int64) (rd *Reader, err error) {
	defer recoverCorrupt(&err, "opening parquet file")
	f, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, fmt.Errorf("parquetjson: opening parquet file: %w", err)
	}
	root, ncols, err := compileSchema(f.Metadata().Schema)
	if err != nil {
		return nil, fmt.Errorf("parquetjson: schema: %w", err)
	}
	if n := len(f.Schema().Columns()); n != ncols {
		return nil, fmt.Errorf("parquetjson: schema: %d leaf columns, the parquet library sees %d", ncols, n)
	}
	rd = &Reader{
		file:   f,
		root:   root,
		paths:  leafPaths(root, nil),
		groups: f.RowGroups(),
		batch:  make([]parquet.Row, batchRows),
		cols:   make([][]parquet.Value, ncols),
		pos:    make([]int, ncols),
	}
	// The levels computed here must agree with those the library decodes
	// values with, or rows would be assembled wrongly.
	if err := checkLevels(f.Root(), leafLevels(root, nil)); err != nil {
		return nil, fmt.Errorf("parquetjson: schema: %w", err)
	}
	return rd, nil
}

// checkLevels compares the maximum definition and repetition levels of
// every leaf column with those computed by the parquet library.
func checkLevels(root *parquet.Column, levels [][2]int) error {
	var err error
	var walk func(c *parquet.Column)
	walk = func(c *parquet.Column) {
		if c.Leaf() {
			i := c.Index()
			if err == nil && (i < 0 || i >= len(levels) || levels[i] != [2]int{c.MaxDefinitionLevel(), c.MaxRepetitionLevel()}) {
				err = fmt.Errorf("column %q: unexpected definition or repetition levels", strings.Join(c.Path(), "."))
			}
			return
		}
		for _, ch := range c.Columns() {
			walk(ch)
		}
	}
	walk(root)
	return err
}

// NumRows returns the number of rows the file declares.
func (r *Reader) NumRows() int64 { return r.file.NumRows() }

// Next appends the next row, encoded as one JSON object (no trailing
// newline), to dst and returns it; io.EOF after the last row. Any other
// error names the row (counted from 1) and, where it is known, the column;
// it is returned again by every later call.
func (r *Reader) Next(dst []byte) ([]byte, error) {
	if r.err != nil {
		return dst, r.err
	}
	for r.i >= r.n {
		if err := r.fill(); err != nil {
			r.err = err
			return dst, err
		}
	}
	row := r.batch[r.i]
	r.i++
	r.row++
	out, err := r.encodeRow(dst, row)
	if err != nil {
		r.err = fmt.Errorf("parquetjson: row %d: %w", r.row, err)
		return dst, r.err
	}
	return out, nil
}

// fill decodes the next batch of rows, opening the next row group when the
// current one is exhausted.
func (r *Reader) fill() (err error) {
	if r.rows == nil {
		if r.group == len(r.groups) {
			return io.EOF
		}
		g := r.groups[r.group]
		r.group++
		r.rows = g.Rows()
		r.groupLeft = g.NumRows()
		r.groupRow = r.row + 1
	}
	first := r.row + 1
	n, rerr := r.readRows()
	if int64(n) > r.groupLeft {
		return fmt.Errorf("parquetjson: row group %d has more rows than the %d it declares", r.group-1, r.groups[r.group-1].NumRows())
	}
	r.n, r.i = n, 0
	r.groupLeft -= int64(n)
	if rerr != nil && !errors.Is(rerr, io.EOF) {
		return r.decodeError(r.group-1, first, rerr)
	}
	if rerr != nil || r.groupLeft == 0 {
		if r.groupLeft != 0 {
			return fmt.Errorf("parquetjson: row group %d ends after row %d, %d rows short of its declared count",
				r.group-1, first+int64(n)-1, r.groupLeft)
		}
		cerr := r.rows.Close()
		r.rows = nil
		if cerr != nil {
			return fmt.Errorf("parquetjson: row group %d: %w", r.group-1, cerr)
		}
	} else if n == 0 {
		return fmt.Errorf("parquetjson: row group %d: no rows decoded at row %d", r.group-1, first)
	}
	return nil
}

// readRows reads a batch from the open row group, turning a panic of the
// decoder on corrupt data into an error.
func (r *Reader) readRows() (n int, err error) {
	defer recoverCorrupt(&err, "decoding rows")
	return r.rows.ReadRows(r.batch)
}

// decodeError names the column whose pages fail to decode, by reading the
// row group's column chunks one at a time.
func (r *Reader) decodeError(group int, first int64, err error) error {
	g := r.groups[group]
	r.rows.Close()
	r.rows = nil
	for c, chunk := range g.ColumnChunks() {
		if at, cerr := checkChunk(chunk); cerr != nil {
			return fmt.Errorf("parquetjson: row group %d, column %q, from row %d: %w", group, r.paths[c], r.groupRow+at-1, cerr)
		}
	}
	return fmt.Errorf("parquetjson: row group %d, from row %d: %w", group, first, err)
}

// checkChunk decodes every page of a column chunk and returns the first
// row (counted from 1 within the row group) of the page that fails.
func checkChunk(chunk parquet.ColumnChunk) (row int64, err error) {
	defer recoverCorrupt(&err, "decoding page")
	pages := chunk.Pages()
	defer pages.Close()
	row = 1
	for {
		p, err := pages.ReadPage()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0, nil
			}
			return row, err
		}
		row += p.NumRows()
		parquet.Release(p)
	}
}

// Close releases the row group being read. It does not close the
// io.ReaderAt given to NewReader.
func (r *Reader) Close() error {
	if r.err == nil {
		r.err = errors.New("parquetjson: reader is closed")
	}
	if r.rows != nil {
		err := r.rows.Close()
		r.rows = nil
		if err != nil {
			return fmt.Errorf("parquetjson: closing row group: %w", err)
		}
	}
	return nil
}

// recoverCorrupt turns a panic of the parquet library, which it raises on
// some malformed inputs, into an error.
func recoverCorrupt(err *error, what string) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("parquetjson: %s: corrupt parquet data: %v", what, p)
	}
}

// encodeRow writes one row as a JSON object.
func (r *Reader) encodeRow(dst []byte, row parquet.Row) ([]byte, error) {
	for c := range r.cols {
		r.cols[c] = nil
		r.pos[c] = 0
	}
	start := 0
	for start < len(row) {
		c := row[start].Column()
		end := start + 1
		for end < len(row) && row[end].Column() == c {
			end++
		}
		if c < 0 || c >= len(r.cols) || r.cols[c] != nil {
			return dst, fmt.Errorf("values of column index %d out of order", c)
		}
		r.cols[c] = row[start:end]
		start = end
	}
	dst, err := r.writeGroup(dst, r.root)
	if err != nil {
		return dst, err
	}
	for c, vs := range r.cols {
		if r.pos[c] != len(vs) {
			return dst, fmt.Errorf("column %q: %d values left over after the row (corrupt levels)", r.paths[c], len(vs)-r.pos[c])
		}
	}
	return dst, nil
}

// peek returns the next value of leaf column c.
func (r *Reader) peek(c int) (parquet.Value, error) {
	if r.pos[c] >= len(r.cols[c]) {
		return parquet.Value{}, fmt.Errorf("column %q: missing value (corrupt levels)", r.paths[c])
	}
	return r.cols[c][r.pos[c]], nil
}

// skip consumes the single value that each leaf column below n holds when n
// is null or empty.
func (r *Reader) skip(n *node) error {
	for c := n.col0; c < n.colEnd; c++ {
		if r.pos[c] >= len(r.cols[c]) {
			return fmt.Errorf("column %q: missing value (corrupt levels)", r.paths[c])
		}
		r.pos[c]++
	}
	return nil
}

// write appends the JSON value of n.
func (r *Reader) write(dst []byte, n *node) ([]byte, error) {
	if n.optional && n.col0 < n.colEnd {
		v, err := r.peek(n.col0)
		if err != nil {
			return dst, err
		}
		if v.DefinitionLevel() < n.def {
			return append(dst, "null"...), r.skip(n)
		}
	}
	switch n.kind {
	case kindLeaf:
		v, err := r.peek(n.col0)
		if err != nil {
			return dst, err
		}
		if v.IsNull() {
			return dst, fmt.Errorf("column %q: null value in a required field (corrupt levels)", n.path)
		}
		r.pos[n.col0]++
		out, err := n.leaf(dst, v)
		if err != nil {
			return dst, fmt.Errorf("column %q: %w", n.path, err)
		}
		return out, nil
	case kindGroup:
		return r.writeGroup(dst, n)
	default:
		return r.writeRepeated(dst, n)
	}
}

func (r *Reader) writeGroup(dst []byte, n *node) ([]byte, error) {
	dst = append(dst, '{')
	var err error
	for i, f := range n.children {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, f.key...)
		if dst, err = r.write(dst, f); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// writeRepeated writes a list as a JSON array and a map as a JSON object.
func (r *Reader) writeRepeated(dst []byte, n *node) ([]byte, error) {
	open, close := byte('['), byte(']')
	if n.kind == kindMap {
		open, close = '{', '}'
	}
	if n.col0 == n.colEnd {
		return append(dst, open, close), nil
	}
	v, err := r.peek(n.col0)
	if err != nil {
		return dst, err
	}
	if v.DefinitionLevel() < n.repDef {
		return append(dst, open, close), r.skip(n)
	}
	dst = append(dst, open)
	for first := true; ; first = false {
		if !first {
			dst = append(dst, ',')
		}
		if n.kind == kindMap {
			dst, err = r.writeMapEntry(dst, n)
		} else {
			dst, err = r.write(dst, n.children[0])
		}
		if err != nil {
			return dst, err
		}
		c := n.col0
		if r.pos[c] >= len(r.cols[c]) {
			break
		}
		rep := r.cols[c][r.pos[c]].RepetitionLevel()
		if rep < n.rep {
			break
		}
		if rep > n.rep {
			return dst, fmt.Errorf("column %q: repetition level %d inside a list of level %d (corrupt levels)", r.paths[c], rep, n.rep)
		}
	}
	return append(dst, close), nil
}

// writeMapEntry writes one "key":value member. Keys that are not JSON
// strings (numbers, booleans) are written as strings of their JSON text.
func (r *Reader) writeMapEntry(dst []byte, n *node) ([]byte, error) {
	key, value := n.children[0], n.children[1]
	at := len(dst)
	dst, err := r.write(dst, key)
	if err != nil {
		return dst, err
	}
	if dst[at] != '"' {
		text := string(dst[at:])
		dst = appendString(dst[:at], []byte(text))
	}
	dst = append(dst, ':')
	return r.write(dst, value)
}
