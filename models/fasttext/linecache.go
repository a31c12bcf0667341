package fasttext

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// lineCache holds every line of a training file as the dictionary reads it
// (input rows, labels, token count), so that the epochs after the first do
// not tokenize and look up the text again. Threads still start at the byte
// offsets the C++ tool uses and read the rest of their first line from the
// file, so the sequence of examples is unchanged.
type lineCache struct {
	starts []int64 // byte offset of each line; len is lines+1, ending at the file size
	idOff  []int64 // ids[idOff[i]:idOff[i+1]] are line i's input rows
	ids    []int32
	labOff []int32
	labels []int32
	ntok   []int32
}

func (c *lineCache) lines() int { return len(c.ntok) }

// line returns line i's rows, labels and token count.
func (c *lineCache) line(i int) ([]int32, []int32, int32) {
	return c.ids[c.idOff[i]:c.idOff[i+1]], c.labels[c.labOff[i]:c.labOff[i+1]], c.ntok[i]
}

// bytes estimates the cache's memory use.
func (c *lineCache) bytes() int64 {
	return int64(len(c.ids)+len(c.labels)+len(c.labOff)+len(c.ntok))*4 + int64(len(c.starts)+len(c.idOff))*8
}

// lineAt returns the index of the line starting at offset off, or -1.
func (c *lineCache) lineAt(off int64) int {
	i := sort.Search(len(c.starts), func(i int) bool { return c.starts[i] >= off })
	if i < len(c.starts)-1 && c.starts[i] == off {
		return i
	}
	if i == len(c.starts)-1 && c.starts[i] == off {
		return 0 // end of file: the next line is the first (fastText rewinds)
	}
	return -1
}

// lineCacheBudget returns how much memory the line cache of a training run
// may take: a quarter of the input matrix, at least 64 MB. It returns 0
// when the estimated size (from the token count) is over it.
func lineCacheBudget(d *dictionary, inputBytes int64) int64 {
	budget := max(inputBytes/4, 64<<20)
	perToken := int64(d.wordNgrams)
	if d.maxn > 0 {
		perToken += 2 * int64(d.maxn-d.minn+1) * 4 // roughly: n-grams per character times characters per word
	}
	if d.ntokens*perToken*4 > budget {
		return 0
	}
	return budget
}

// buildLineCache reads path through d, giving up (returning nil) once the
// cache would exceed budget bytes.
func buildLineCache(d *dictionary, path string, budget int64) (*lineCache, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open training data: %w", err)
	}
	defer f.Close()
	tr := newTokenReader(f, 1<<20)
	c := &lineCache{idOff: []int64{0}, labOff: []int32{0}}
	var b lineBuilder
	for {
		start := tr.offset()
		if tr.atEOF() {
			c.starts = append(c.starts, start)
			break
		}
		d.readLine(tr, &b)
		c.starts = append(c.starts, start)
		c.ids = append(c.ids, b.ids...)
		c.labels = append(c.labels, b.labels...)
		c.idOff = append(c.idOff, int64(len(c.ids)))
		c.labOff = append(c.labOff, int32(len(c.labels)))
		c.ntok = append(c.ntok, b.ntok)
		if len(c.labels) > 1<<30 || c.bytes() > budget {
			return nil, nil
		}
	}
	if err := tr.readErr(); err != nil {
		return nil, fmt.Errorf("read training data %s: %w", path, err)
	}
	return c, nil
}

// lineSource yields a training thread's lines as Dictionary::getLine does
// from the thread's starting offset, wrapping around at the end of the
// file. With a cache, only the rest of the first line is read from the
// file; the C++ tool's extra empty read at the end of a file ending with a
// newline, which changes nothing, is skipped then.
type lineSource struct {
	d     *dictionary
	cache *lineCache
	path  string
	next  int // next cached line, or -1 while reading the file
	f     *os.File
	tr    *tokenReader
	pos   int64 // file offset of tr's start
	atEOF bool
	// Lines read from the file alternate between two builders, so that a
	// line stays valid while the next one is read (see trainer.worker).
	lines [2]lineBuilder
	cur   int
}

func newLineSource(d *dictionary, cache *lineCache, path string, pos int64) (*lineSource, error) {
	s := &lineSource{d: d, cache: cache, path: path, next: -1, pos: pos}
	if cache != nil {
		s.next = cache.lineAt(pos)
	}
	if s.next >= 0 {
		return s, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open training data: %w", err)
	}
	if _, err := f.Seek(pos, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("seek training data: %w", err)
	}
	s.f, s.tr = f, newTokenReader(f, 1<<16)
	return s, nil
}

func (s *lineSource) close() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// read returns the next line's input rows, labels and token count; the
// slices are valid until the call after next.
func (s *lineSource) read() (ids, labels []int32, ntok int32, err error) {
	if s.next >= 0 {
		ids, labels, ntok = s.cache.line(s.next)
		if s.next++; s.next == s.cache.lines() {
			s.next = 0
		}
		return ids, labels, ntok, nil
	}
	if s.atEOF {
		if _, err := s.f.Seek(0, io.SeekStart); err != nil {
			return nil, nil, 0, fmt.Errorf("rewind training data: %w", err)
		}
		s.tr.reset(s.f)
		s.pos, s.atEOF = 0, false
	}
	s.cur ^= 1
	line := &s.lines[s.cur]
	s.d.readLine(s.tr, line)
	if s.tr.err != nil {
		if err := s.tr.readErr(); err != nil {
			return nil, nil, 0, fmt.Errorf("read training data %s: %w", s.path, err)
		}
		s.atEOF = true
	}
	if s.cache != nil {
		if s.next = s.cache.lineAt(s.pos + s.tr.offset()); s.next >= 0 {
			s.close()
		}
	}
	return line.ids, line.labels, line.ntok, nil
}
