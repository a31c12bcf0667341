package fasttext

import (
	"fmt"
	"io"
	"math"
	"strings"
)

const (
	// maxVocabSize bounds the vocabulary while counting: beyond 75% of it
	// the rarest words are pruned, as in fastText.
	maxVocabSize = 30000000
	// ngramMultiplier combines word hashes into word n-gram hashes.
	ngramMultiplier = 116049371
)

type entryType int8

const (
	typeWord  entryType = 0
	typeLabel entryType = 1
)

type entry struct {
	word  string
	count int64
	typ   entryType
	hash  uint32
}

// prunePair maps a hashed n-gram bucket to its row in a pruned (quantized
// with a cutoff) input matrix.
type prunePair struct{ bucket, row int32 }

// dictionary is fastText's vocabulary: words first (by decreasing count),
// then labels, with an open-addressing index keyed by the token hash.
type dictionary struct {
	label      string
	minn, maxn int
	bucket     int
	bucketMod  fastMod // remainders by bucket
	wordNgrams int
	model      ModelKind
	t          float64

	words   []entry
	table   []int32 // entry ids, -1 when empty; len is a power of two
	nwords  int32
	nlabels int32
	ntokens int64

	pdiscard []float32
	// Subword rows of word i (itself, then its character n-grams) are
	// subIDs[subOff[i]:subOff[i+1]]; only built when maxn > 0.
	subOff []int32
	subIDs []int32

	// pruneSize is -1 for an unpruned dictionary; pruned dictionaries map
	// kept n-gram buckets to rows through pruneIndex and keep the pairs in
	// file order so that a loaded model saves byte for byte.
	pruneSize  int64
	prunePairs []prunePair
	pruneIndex int32Map
}

func newDictionary(a *Args) *dictionary {
	return &dictionary{
		label: a.Label, minn: a.Minn, maxn: a.Maxn, bucket: a.Bucket,
		bucketMod:  newFastMod(uint32(a.Bucket)),
		wordNgrams: a.WordNgrams, model: a.Model, t: a.T,
		pruneSize: -1,
	}
}

func (d *dictionary) size() int32 { return int32(len(d.words)) }

// find returns the table slot of w: the slot holding it, or the empty slot
// where it would go.
func find[T textInput](d *dictionary, w T, h uint32) int {
	mask := len(d.table) - 1
	i := int(h) & mask
	for {
		id := d.table[i]
		if id < 0 || d.words[id].word == string(w) {
			return i
		}
		i = (i + 1) & mask
	}
}

// lookup returns the id of w (with hash h), or -1.
func lookup[T textInput](d *dictionary, w T, h uint32) int32 {
	if len(d.table) == 0 {
		return -1
	}
	return d.table[find(d, w, h)]
}

// ID returns the id of word w, or -1 if it is not in the vocabulary.
func (d *dictionary) id(w string) int32 { return lookup(d, w, hashToken(w)) }

func (d *dictionary) typeOf(w []byte) entryType {
	if strings.HasPrefix(string(w), d.label) {
		return typeLabel
	}
	return typeWord
}

// rebuildTable re-indexes all entries in a table at least twice their
// number.
func (d *dictionary) rebuildTable(minSize int) {
	n := 16
	for n < 2*minSize || n < 2*len(d.words) {
		n <<= 1
	}
	if len(d.table) != n {
		d.table = make([]int32, n)
	}
	for i := range d.table {
		d.table[i] = -1
	}
	for i := range d.words {
		d.table[find(d, d.words[i].word, d.words[i].hash)] = int32(i)
	}
}

// add counts one occurrence of w while reading training data.
func (d *dictionary) add(w []byte) {
	h := hashToken(w)
	if len(d.table) == 0 {
		d.rebuildTable(1 << 16)
	}
	slot := find(d, w, h)
	d.ntokens++
	if id := d.table[slot]; id >= 0 {
		d.words[id].count++
		return
	}
	d.words = append(d.words, entry{word: string(w), count: 1, typ: d.typeOf(w), hash: h})
	d.table[slot] = int32(len(d.words) - 1)
	if 2*len(d.words) > len(d.table) {
		d.rebuildTable(len(d.words))
	}
}

// readFrom counts the tokens of r (Dictionary::readFromFile), applies the
// minimum counts and builds the subword index.
func (d *dictionary) readFrom(r io.Reader, minCount, minCountLabel int64) error {
	tr := newTokenReader(r, 1<<20)
	minThreshold := int64(1)
	for {
		tok, ok := tr.next()
		if !ok {
			break
		}
		d.add(tok)
		if float64(len(d.words)) > 0.75*maxVocabSize {
			minThreshold++
			d.threshold(minThreshold, minThreshold)
		}
	}
	if err := tr.readErr(); err != nil {
		return err
	}
	d.threshold(minCount, minCountLabel)
	d.init()
	if len(d.words) == 0 {
		return fmt.Errorf("empty vocabulary: try a smaller minCount")
	}
	return nil
}

// threshold sorts the entries (words before labels, by decreasing count;
// ties in std::sort's order) and drops words counted fewer than t times and
// labels counted fewer than tl times.
func (d *dictionary) threshold(t, tl int64) {
	stlSort(d.words, func(a, b *entry) bool {
		if a.typ != b.typ {
			return a.typ < b.typ
		}
		return a.count > b.count
	})
	kept := d.words[:0]
	for _, e := range d.words {
		if (e.typ == typeWord && e.count < t) || (e.typ == typeLabel && e.count < tl) {
			continue
		}
		kept = append(kept, e)
	}
	clear(d.words[len(kept):])
	d.words = kept
	d.nwords, d.nlabels = 0, 0
	for _, e := range d.words {
		if e.typ == typeWord {
			d.nwords++
		} else {
			d.nlabels++
		}
	}
	d.rebuildTable(len(d.words))
}

// init builds the discard table and the subword index (Dictionary::init).
func (d *dictionary) init() {
	d.initDiscard()
	d.initSubwords()
}

func (d *dictionary) initDiscard() {
	d.pdiscard = make([]float32, len(d.words))
	for i, e := range d.words {
		f := float32(e.count) / float32(d.ntokens)
		r := d.t / float64(f)
		d.pdiscard[i] = float32(math.Sqrt(r) + r)
	}
}

// discard reports whether word id should be skipped when sampling with the
// uniform draw rand (used by unsupervised training only; supervised lines
// keep every word).
func (d *dictionary) discard(id int32, rand float32) bool {
	if d.model == ModelSupervised {
		return false
	}
	return rand > d.pdiscard[id]
}

func (d *dictionary) initSubwords() {
	if d.maxn <= 0 {
		d.subOff, d.subIDs = nil, nil
		return
	}
	d.subOff = make([]int32, d.nwords+1)
	d.subIDs = d.subIDs[:0]
	var buf []byte
	for i := int32(0); i < d.nwords; i++ {
		d.subOff[i] = int32(len(d.subIDs))
		d.subIDs = append(d.subIDs, i)
		if w := d.words[i].word; w != EOS {
			buf = append(append(append(buf[:0], '<'), w...), '>')
			d.subIDs = d.computeSubwords(buf, d.subIDs)
		}
	}
	d.subOff[d.nwords] = int32(len(d.subIDs))
}

// subwords returns the rows of in-vocabulary word id.
func (d *dictionary) subwords(id int32) []int32 {
	return d.subIDs[d.subOff[id]:d.subOff[id+1]]
}

// computeSubwords appends the rows of the character n-grams of word (which
// includes the < and > boundary marks), counting UTF-8 characters, skipping
// the single-character n-grams made of a boundary mark.
func (d *dictionary) computeSubwords(word []byte, ids []int32) []int32 {
	for i := 0; i < len(word); i++ {
		if word[i]&0xC0 == 0x80 {
			continue
		}
		h := uint32(2166136261)
		j := i
		for n := 1; j < len(word) && n <= d.maxn; n++ {
			h = (h ^ uint32(int32(int8(word[j])))) * 16777619
			j++
			for j < len(word) && word[j]&0xC0 == 0x80 {
				h = (h ^ uint32(int32(int8(word[j])))) * 16777619
				j++
			}
			if n >= d.minn && !(n == 1 && (i == 0 || j == len(word))) {
				id := int32(d.bucketMod.mod32(h))
				if d.pruneSize < 0 {
					ids = append(ids, d.nwords+id)
				} else if d.pruneIndex.mayHave(id) {
					ids = d.pushHash(ids, id)
				}
			}
		}
	}
	return ids
}

// pushHash appends the row of hashed bucket id (in [0, bucket)), mapped
// through the prune index of a pruned dictionary (where dropped buckets
// have no row).
func (d *dictionary) pushHash(ids []int32, id int32) []int32 {
	if d.pruneSize < 0 {
		return append(ids, d.nwords+id)
	}
	if row, ok := d.pruneIndex.get(id); ok {
		ids = append(ids, d.nwords+row)
	}
	return ids
}

// addWordNgrams appends the rows of the word n-grams (2..n words) of a line
// whose word hashes are hashes. The hashes are stored as int32 in fastText
// and widen with sign extension before mixing, which this reproduces.
func (d *dictionary) addWordNgrams(ids []int32, hashes []uint32, n int) []int32 {
	if n <= 1 {
		return ids
	}
	for i := range hashes {
		h := uint64(int64(int32(hashes[i])))
		for j := i + 1; j < len(hashes) && j < i+n; j++ {
			h = h*ngramMultiplier + uint64(int64(int32(hashes[j])))
			id := int32(d.bucketMod.mod64(h))
			if d.pruneSize < 0 {
				ids = append(ids, d.nwords+id)
			} else if d.pruneIndex.mayHave(id) {
				ids = d.pushHash(ids, id)
			}
		}
	}
	return ids
}

// lineBuilder accumulates the features and labels of one line.
type lineBuilder struct {
	ids    []int32  // input rows: words, subwords, word n-grams
	labels []int32  // label indexes (0..nlabels-1)
	hashes []uint32 // word hashes, for word n-grams
	word   []byte   // scratch for <token>
	ntok   int32    // tokens read (fastText's per-line token count)
	// oov, when set, remembers the subword rows of out-of-vocabulary
	// tokens, which prediction meets again and again.
	oov *subwordCache
}

// subwordCache maps out-of-vocabulary tokens to their subword rows, so
// that prediction computes the character n-grams of a word it meets again
// and again only once. It is an open-addressing table keyed by the token
// hash (already computed for the dictionary lookup) over arenas of token
// bytes and rows; it allocates only while growing to its bounds, and empties
// itself when full.
type subwordCache struct {
	slots []cacheSlot // len is a power of two
	used  int
	text  []byte
	ids   []int32
}

type cacheSlot struct {
	hash             uint32
	textOff, textLen int32 // textLen 0 marks an empty slot
	idOff, idLen     int32
}

const (
	subwordCacheMaxSlots = 1 << 16
	subwordCacheMaxText  = 1 << 20
	subwordCacheMaxIDs   = 1 << 20
)

func newSubwordCache() *subwordCache {
	return &subwordCache{slots: make([]cacheSlot, 1024)}
}

func (c *subwordCache) reset() {
	clear(c.slots)
	c.used, c.text, c.ids = 0, c.text[:0], c.ids[:0]
}

// grow doubles the table.
func (c *subwordCache) grow() {
	old := c.slots
	c.slots = make([]cacheSlot, 2*len(old))
	mask := uint32(len(c.slots) - 1)
	for _, s := range old {
		if s.textLen == 0 {
			continue
		}
		i := s.hash & mask
		for c.slots[i].textLen != 0 {
			i = (i + 1) & mask
		}
		c.slots[i] = s
	}
}

// cachedSubwords appends the rows of OOV token tok (with hash h) to ids,
// computing and remembering them on first sight.
func cachedSubwords[T textInput](c *subwordCache, d *dictionary, tok T, h uint32, word *[]byte, ids []int32) []int32 {
	mask := uint32(len(c.slots) - 1)
	i := h & mask
	for ; c.slots[i].textLen != 0; i = (i + 1) & mask {
		s := &c.slots[i]
		if s.hash == h && string(c.text[s.textOff:s.textOff+s.textLen]) == string(tok) {
			return append(ids, c.ids[s.idOff:s.idOff+s.idLen]...)
		}
	}
	*word = append(append(append((*word)[:0], '<'), tok...), '>')
	start := len(ids)
	ids = d.computeSubwords(*word, ids)
	n := len(ids) - start
	if len(c.text)+len(tok) > subwordCacheMaxText || len(c.ids)+n > subwordCacheMaxIDs || len(tok) == 0 {
		c.reset()
		if len(tok) == 0 || len(tok) > subwordCacheMaxText || n > subwordCacheMaxIDs {
			return ids
		}
	}
	if 2*(c.used+1) > len(c.slots) {
		if len(c.slots) >= subwordCacheMaxSlots {
			c.reset()
		} else {
			c.grow()
		}
	}
	mask = uint32(len(c.slots) - 1)
	for i = h & mask; c.slots[i].textLen != 0; i = (i + 1) & mask {
	}
	c.slots[i] = cacheSlot{hash: h, textOff: int32(len(c.text)), textLen: int32(len(tok)),
		idOff: int32(len(c.ids)), idLen: int32(n)}
	c.used++
	c.text = append(c.text, tok...)
	c.ids = append(c.ids, ids[start:]...)
	return ids
}

func (b *lineBuilder) reset() {
	b.ids, b.labels, b.hashes, b.ntok = b.ids[:0], b.labels[:0], b.hashes[:0], 0
}

// addToken adds one token of a supervised line (the body of
// Dictionary::getLine) and reports whether it ends the line.
func addToken[T textInput](d *dictionary, b *lineBuilder, tok T) (eos bool) {
	h := hashToken(tok)
	wid := lookup(d, tok, h)
	b.ntok++
	var typ entryType
	if wid >= 0 {
		typ = d.words[wid].typ
	} else if strings.HasPrefix(string(tok), d.label) {
		typ = typeLabel
	}
	isEOS := string(tok) == EOS
	if typ == typeWord {
		switch {
		case wid < 0:
			if !isEOS && d.maxn > 0 {
				if b.oov != nil {
					b.ids = cachedSubwords(b.oov, d, tok, h, &b.word, b.ids)
				} else {
					b.word = append(append(append(b.word[:0], '<'), tok...), '>')
					b.ids = d.computeSubwords(b.word, b.ids)
				}
			}
		case d.maxn <= 0:
			b.ids = append(b.ids, wid)
		default:
			b.ids = append(b.ids, d.subwords(wid)...)
		}
		b.hashes = append(b.hashes, h)
	} else if wid >= 0 {
		b.labels = append(b.labels, wid-d.nwords)
	}
	return isEOS
}

// finishLine adds the word n-grams once the line's tokens are in.
func (d *dictionary) finishLine(b *lineBuilder) {
	b.ids = d.addWordNgrams(b.ids, b.hashes, d.wordNgrams)
}

// readLine reads one line from tr into b (Dictionary::getLine for supervised
// models). It returns false when the input was already exhausted.
func (d *dictionary) readLine(tr *tokenReader, b *lineBuilder) bool {
	b.reset()
	any := false
	for {
		tok, ok := tr.next()
		if !ok {
			break
		}
		any = true
		if addToken(d, b, tok) {
			break
		}
	}
	d.finishLine(b)
	return any
}

// stringLine builds the features of text as one line: newlines count as
// ordinary separators and EOS is appended, as fastText's Python predict
// does with the line it is given. A literal EOS token ends the line.
func stringLine[T textInput](d *dictionary, b *lineBuilder, text T) {
	b.reset()
	i := 0
	for {
		start, end, ok := nextStringToken(text, i)
		if !ok {
			break
		}
		i = end
		if addToken(d, b, text[start:end]) {
			d.finishLine(b)
			return
		}
	}
	addToken(d, b, EOS)
	d.finishLine(b)
}

// labelName returns label i's name.
func (d *dictionary) labelName(i int32) string { return d.words[d.nwords+i].word }

// counts returns the counts of the entries of type typ, in id order.
func (d *dictionary) counts(typ entryType) []int64 {
	var c []int64
	for _, e := range d.words {
		if e.typ == typ {
			c = append(c, e.count)
		}
	}
	return c
}

// isPruned reports whether the n-gram buckets were pruned by quantization.
func (d *dictionary) isPruned() bool { return d.pruneSize >= 0 }

func (d *dictionary) save(w *binWriter) {
	w.i32(int32(len(d.words)))
	w.i32(d.nwords)
	w.i32(d.nlabels)
	w.i64(d.ntokens)
	w.i64(d.pruneSize)
	for _, e := range d.words {
		w.bytes([]byte(e.word))
		w.u8(0)
		w.i64(e.count)
		w.u8(uint8(e.typ))
	}
	for _, p := range d.prunePairs {
		w.i32(p.bucket)
		w.i32(p.row)
	}
}

func (d *dictionary) load(r *binReader) error {
	size := r.i32()
	d.nwords = r.i32()
	d.nlabels = r.i32()
	d.ntokens = r.i64()
	d.pruneSize = r.i64()
	if err := r.err(); err != nil {
		return fmt.Errorf("dictionary header: %w", err)
	}
	if size < 0 || d.nwords < 0 || d.nlabels < 0 || d.nwords+d.nlabels != size {
		return fmt.Errorf("dictionary header: size %d, %d words, %d labels do not add up", size, d.nwords, d.nlabels)
	}
	d.words = make([]entry, size)
	for i := range d.words {
		w := r.cstring()
		e := entry{word: w, count: r.i64(), typ: entryType(r.u8()), hash: hashToken(w)}
		if err := r.err(); err != nil {
			return fmt.Errorf("dictionary entry %d of %d: %w", i, size, err)
		}
		if (e.typ == typeWord) != (int32(i) < d.nwords) || e.typ > typeLabel {
			return fmt.Errorf("dictionary entry %d (%q): type %d out of order", i, w, e.typ)
		}
		d.words[i] = e
	}
	if d.pruneSize > 0 {
		d.prunePairs = make([]prunePair, d.pruneSize)
		limit := int32(d.bucket)
		for i := range d.prunePairs {
			p := prunePair{bucket: r.i32(), row: r.i32()}
			if p.bucket < 0 || p.row < 0 {
				return fmt.Errorf("dictionary prune index: pair %d maps bucket %d to row %d", i, p.bucket, p.row)
			}
			d.prunePairs[i] = p
			limit = max(limit, p.bucket+1)
		}
		if err := r.err(); err != nil {
			return fmt.Errorf("dictionary prune index: %w", err)
		}
		d.pruneIndex = newInt32Map(len(d.prunePairs), int(limit))
		for _, p := range d.prunePairs {
			d.pruneIndex.put(p.bucket, p.row)
		}
	}
	d.init()
	d.rebuildTable(len(d.words))
	return nil
}
