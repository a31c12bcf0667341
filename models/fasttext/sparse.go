package fasttext

import (
	"bytes"
	"fmt"
	"os"
)

// sparseBlock is the unit in which sparseFile leaves holes: the block size
// of the common Linux filesystems.
const sparseBlock = 4096

var zeroBlock [sparseBlock]byte

// sparseFile writes a file from its start, leaving a hole wherever a whole
// aligned block would be zeros. A model's input matrix is mostly zeros
// when it was trained with fewer than ten threads (fastText initialises
// only the first tenth of the rows per thread, and training touches only
// the rows of the n-grams it meets), so most of a large model need not go
// through the page cache and onto the disk. The file reads back the same:
// a hole reads as zeros.
type sparseFile struct {
	f   *os.File
	off int64 // bytes written or skipped so far
}

// Write writes p at the current offset; zero blocks are skipped.
func (s *sparseFile) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		// Up to the next block boundary: written as it is.
		if head := int(-s.off & (sparseBlock - 1)); head > 0 {
			if err := s.writeAt(p[:min(head, len(p))]); err != nil {
				return n - len(p), err
			}
			p = p[min(head, len(p)):]
			continue
		}
		zeros := 0
		for zeros+sparseBlock <= len(p) && bytes.Equal(p[zeros:zeros+sparseBlock], zeroBlock[:]) {
			zeros += sparseBlock
		}
		if zeros > 0 {
			s.off += int64(zeros)
			p = p[zeros:]
			continue
		}
		data := min(sparseBlock, len(p))
		for data+sparseBlock <= len(p) && !bytes.Equal(p[data:data+sparseBlock], zeroBlock[:]) {
			data += sparseBlock
		}
		if data+sparseBlock > len(p) {
			data = len(p) // a final partial block is written as it is
		}
		if err := s.writeAt(p[:data]); err != nil {
			return n - len(p), err
		}
		p = p[data:]
	}
	return n, nil
}

func (s *sparseFile) writeAt(p []byte) error {
	if _, err := s.f.WriteAt(p, s.off); err != nil {
		return err
	}
	s.off += int64(len(p))
	return nil
}

// finish sets the file's length to the bytes written and skipped, so that
// a final run of zeros is a hole too.
func (s *sparseFile) finish() error {
	if err := s.f.Truncate(s.off); err != nil {
		return fmt.Errorf("set the file's length: %w", err)
	}
	return nil
}
