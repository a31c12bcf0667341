"""Regenerates sloppy_codecs.json: the byte→character tables of the
single-byte codecs plsfix uses, from CPython's codecs, with the "sloppy"
variants built as ftfy's bad_codecs/sloppy.py builds them.

    python3 testdata/normalize/sloppy_codecs.py > testdata/normalize/sloppy_codecs.json
"""
import json
import sys

ENCODINGS = ["latin-1", "windows-1252", "windows-1251", "windows-1250", "windows-1253",
             "windows-1254", "windows-1257", "iso-8859-2", "macroman", "cp437"]
SLOPPY = {"windows-1252", "windows-1251", "windows-1250", "windows-1253", "windows-1254", "windows-1257"}

tables = {}
for enc in ENCODINGS:
    all_bytes = bytes(range(256))
    if enc in SLOPPY:
        chars = list(all_bytes.decode("latin-1"))
        for i, c in enumerate(all_bytes.decode(enc, errors="replace")):
            if c != "\ufffd":
                chars[i] = c
        chars[0x1A] = "\ufffd"
        enc = "sloppy-" + enc
    else:
        chars = list(all_bytes.decode(enc))
    tables[enc] = [ord(c) for c in chars]
json.dump({"python": sys.version.split()[0], "tables": tables}, sys.stdout)
