// Package normalize holds the text normalizers that prepare, train and
// filter apply to every document, so that a classifier sees at inference
// exactly the text it saw in training. The definitions follow AI2's bonepick
// (bonepick/data/normalizers.py); where they were ambiguous or where this
// package deliberately departs from bonepick's code, the choice is stated
// below and tested.
//
// # Normalizers
//
// Build one with New(name, Options); it is safe for concurrent use. Each has
// a Name and a Version; models record both (see Spec) and refuse a
// mismatch. A version is "<revision>[+plsfix.<v>][+hftok.<v>]": the
// normalizer's own revision, bumped whenever its own steps change, plus the
// versions of the plsfix and hftok packages it builds on, so that a change
// there changes every dependent version too.
//
//   - newlines: every "\n" becomes a space, which is what fastText's own
//     predict sees of a document given as one line; the default of
//     external fastText models.
//   - whitespace: every run of whitespace becomes one space; leading and
//     trailing whitespace goes.
//   - plsfix: the text repaired by plsfix.Fix (ftfy's fix_text; texts over
//     1 MiB cut at a newline first). See package plsfix.
//   - potion (Model2Vec prose): plsfix; runs of three or more "\n" become
//     "\n\n"; lowercase; diacritics stripped; "\r?\n\r?\n" becomes "¶", any
//     other "\r?\n" "·", a tab "↦"; whitespace collapsed; trimmed.
//   - potion-code (Model2Vec code): plsfix; "\n{3,}" → "\n\n"; diacritics
//     stripped, case kept; space indentation turned into tabs (below); every
//     "\r?\n" becomes "¶" and every tab "↦"; trimmed. Inner whitespace is not
//     collapsed. A final newline becomes a "¶", which trimming keeps.
//   - tokenizer: plsfix, then the token strings of Options.Tokenizer (a
//     Hugging Face tokenizer.json) joined by spaces: WordPiece continuations
//     keep their "##", special tokens in the text ([MASK]) and [UNK] appear
//     as such.
//   - ultrafine (Ultra-FineWeb's fastText preprocessing, bonepick's
//     production fastText normalizer): "\n{3,}" → "\n\n"; lowercase;
//     diacritics stripped; tokenized, each token id decoded on its own (see
//     below) and the pieces joined by spaces; "\n", "\r" and "\t" written as
//     the two-character escapes `\n`, `\r`, `\t`; runs of spaces collapsed;
//     trimmed. As in bonepick there is no plsfix step.
//   - hyperfine: plsfix; "\n{3,}" → "\n\n"; lowercase; diacritics stripped;
//     the text is split on runs of [\t\r\n]; each segment has its whitespace
//     collapsed and is tokenized; the output is each segment's token strings
//     followed by its separator run, every separator character written as its
//     two-character escape, all of it separated by single spaces
//     ("a b\n\tc" → `a b \n \t c`).
//   - hyperfine-code: as hyperfine, but case is kept, space indentation is
//     turned into tabs before splitting (so indentation shows up as `\t`
//     escapes) and segments are tokenized as they are, spacing included.
//
// # Decisions
//
// Whitespace is Python's: the regular-expression class \s and str.strip
// accept \t \n \v \f \r, U+001C..U+001F, the space, U+0085, U+00A0 and the
// other Unicode White_Space characters; so does this package everywhere.
//
// Lowercasing uses Unicode's simple case mappings (Go's strings.ToLower);
// Python's str.lower also applies the full and contextual mappings, which
// differ only for "İ" (Python: "i̇") and a word-final "Σ" (Python: "ς").
// Diacritics are stripped as in bonepick: NFKD, then every nonspacing mark
// (Mn) dropped. NFKD also applies compatibility decompositions ("ﬁ" → "fi",
// "½" → "1⁄2") and strips letters that are not accented letters in their own
// language ("й" → "и"); this is bonepick's behaviour and is kept.
//
// Indentation (potion-code, hyperfine-code) follows bonepick's
// convert_spaces_to_tabs: the unit is the greatest common divisor of the
// leading-space counts of the lines whose leading spaces are followed by
// neither a tab nor the end of the line (whitespace-only lines do not count;
// a lone 3-space line makes the unit 3, an odd one among 4-space lines makes
// it 1). Then every line that starts with spaces gets one tab per unit and
// keeps the remainder as spaces. Lines are split on "\n" only.
//
// Tokenizer-based normalizers load Options.Tokenizer with package hftok
// (go-huggingface parses it; the BERT pipeline has a fast exact encoder
// there). They never add special tokens around a text: bonepick's tokenizer
// normalizer calls encode with its default add_special_tokens=True, which
// with a BERT tokenizer would wrap every text in [CLS] … [SEP], words that
// carry no information for a classifier. Each id decoded on its own is what
// Hugging Face's tokenizer.decode([id]) returns with its default
// skip_special_tokens=True: special tokens ([UNK], [CLS], …) decode to
// nothing, and a WordPiece continuation keeps its prefix ("##ing"), because
// the WordPiece decoder removes "##" only from tokens after the first. With a
// BERT tokenizer, which lowercases and splits on whitespace itself, ultrafine
// therefore drops line breaks (its escapes have nothing left to escape) and
// [UNK]; the hyperfine variants keep line structure in their escaped
// separators.
//
// hyperfine's separators: bonepick escapes a separator run and then puts a
// space between every character of the escaped text, which separates each
// backslash from its letter ("\n" → `\ n`). Here each separator character
// keeps its two-character escape whole (`\n \t`), so that fastText sees one
// word per line break or tab. Pieces are joined by single spaces, where
// bonepick can leave two spaces around a segment that is blank.
//
// # Labels
//
// Label normalizes a class label for fastText and the normalize command:
// surrounding whitespace and one leading "__label__" go, inner whitespace
// runs become "_", and the result is lowercased.
package normalize
