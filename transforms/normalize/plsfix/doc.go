// Package plsfix repairs mojibake and other Unicode damage the way ftfy
// 6.3 (python-ftfy's fix_text with its default configuration) does. bonepick
// reaches ftfy through plsfix, a port of it; this package is a port too.
//
// # What FixText does
//
// The text is fixed in independent segments: lines (each with its "\n"),
// cut every 1,000,000 characters when a line is longer. Each segment goes
// through the following steps, again and again until it stops changing:
//
//  1. unescape_html: complete HTML references that end in ";" are decoded —
//     the HTML5 named entities, all-caps spellings of lowercase ones
//     ("&EACUTE;" → "É") and numeric references as Python's html.unescape
//     reads them. Skipped for the segment that holds the first "<" and for
//     every segment after it: that text is probably HTML, where entities
//     belong.
//  2. fix_encoding, step by step until nothing changes: when a segment is
//     not ASCII and ftfy's badness heuristic (badness.BADNESS_RE, the
//     character categories of the ~400 characters that occur in UTF-8
//     mojibake) finds likely mojibake in it, it is encoded in the first of
//     latin-1, sloppy-windows-1252, sloppy-windows-1251,
//     sloppy-windows-1250, sloppy-windows-1253, sloppy-windows-1254,
//     sloppy-windows-1257, iso-8859-2, macroman and cp437 that can encode it
//     and whose bytes then decode as UTF-8 — after restore_byte_a0 (a space
//     that stood for byte 0xA0 inside a UTF-8 sequence; not for macroman)
//     and, for the sloppy codecs, replace_lossy_sequences (sequences that
//     lost bytes to U+FFFD or "?" decode as U+FFFD). Bytes 0xED or 0xC0 make
//     it decode as "utf-8-variants" (CESU-8 surrogate pairs, Java's
//     two-byte NUL). The "sloppy" codecs decode the bytes their standard
//     codec leaves undefined as the Latin-1 character of that number, as
//     Web browsers do. Otherwise decode_inconsistent_utf8 fixes mojibake
//     embedded in otherwise sound text, run by run; otherwise Latin-1 text
//     with C1 controls is read as strict Windows-1252; otherwise C1 controls
//     become their Windows-1252 characters (fix_c1_controls). Twice (or
//     more) mis-decoded text is undone one layer per step.
//  3. fix_c1_controls, fix_latin_ligatures ("ﬁ" → "fi", Dutch "ĳ", the
//     Serbian digraphs "ǆ"…), fix_character_width (fullwidth and halfwidth
//     forms, U+3000 → space), uncurl_quotes (‘ ’ ‚ ‛ ʼ → ', “ ” „ ‟ → "),
//     fix_line_breaks ("\r\n", "\r", U+2028, U+2029, U+0085 → "\n"),
//     fix_surrogates, remove_terminal_escapes (ANSI "\x1b[…m"),
//     remove_control_chars (U+0000–U+0008, U+000B, U+000E–U+001F, U+007F,
//     U+206A–U+206F, U+FEFF, U+FFF9–U+FFFC; tabs, newlines, form feeds and
//     C1 controls stay).
//  4. NFC normalization.
//
// Text that holds nothing any step could change — no "&" starting an
// entity, no character of a mojibake category, nothing a step 3 fix
// changes, already NFC — is returned as it is after one scan.
//
// Fix additionally cuts a text longer than MaxBytes (1 MiB) at its first
// newline after that point, as bonepick does before fixing.
//
// # Deviations
//
//   - bonepick splits a text at regular-expression word boundaries and fixes
//     every fragment on its own (a guard against exceptions). That keeps
//     ftfy from seeing most mojibake whole ("Ã©" straddles a boundary), so
//     this package fixes the whole text, as fix_text is meant to be used.
//   - bonepick's cut counts 2^20 characters; Fix counts bytes and, when no
//     newline follows, cuts at a character boundary.
//   - Invalid UTF-8, which a Python string cannot hold, is first replaced:
//     each invalid byte sequence becomes U+FFFD. A valid Go string holds no
//     surrogate code points, so fix_surrogates never has work to do.
//   - Character properties (NFC, Python's \w and \s used by the heuristic)
//     come from Go's unicode tables and golang.org/x/text, which may differ
//     from Python's unicodedata for recently assigned characters.
//   - ftfy's shortcut for text that is "in the intersection of Latin-1 and
//     Windows-1252" tests a codec name that never occurs in its list, so it
//     never fires; it is not reproduced.
//
// Tests compare the heuristic and FixText with ftfy 6.3.1 (through its port
// ftfy-js 6.3.2) on 3,000 random strings of mojibake-prone characters and on
// ~330 texts: known ftfy examples and real Spanish, German, Norwegian,
// Serbian and English texts damaged by six kinds of mis-decoding.
package plsfix
