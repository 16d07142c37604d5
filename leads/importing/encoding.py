"""Which text encoding an uploaded CSV file is in.

Excel in Japan saves CSV as Shift-JIS (Windows code page 932) unless told "CSV UTF-8", which
adds a byte-order mark. Every encoding offered here is ASCII-compatible and never uses the
newline byte inside a character, so the reader can decode line by line and still name the
line of a bad byte.
"""

from __future__ import annotations

import codecs
from typing import IO

import charset_normalizer
from django.utils.translation import gettext_lazy as _

# Python codec name -> what the user reads. cp932 is Microsoft's Shift-JIS (with its extra
# characters such as ①, ㈱ and NEC's symbols), which is what Excel writes.
ENCODINGS = {
    "utf-8": _("UTF-8"),
    "utf-8-sig": _("UTF-8 with BOM (Excel “CSV UTF-8”)"),
    "cp932": _("Shift-JIS (Excel in Japan)"),
    "euc_jp": _("EUC-JP"),
    "cp1252": _("Windows Western (cp1252)"),
}
SAMPLE_BYTES = 256 * 1024


def _utf8(sample: bytes, complete: bool) -> bool:
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The sample may end inside a character; only a bad byte before that counts.
        return (
            not complete and exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data"
        )
    return True


def encoding_detect(binary: IO[bytes]) -> str:
    """The encoding of a file (a key of ENCODINGS), from its first SAMPLE_BYTES; the file is
    left at its start."""
    binary.seek(0)
    sample = binary.read(SAMPLE_BYTES + 1)
    binary.seek(0)
    complete = len(sample) <= SAMPLE_BYTES
    sample = sample[:SAMPLE_BYTES]
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if _utf8(sample, complete):
        return "utf-8"
    best = charset_normalizer.from_bytes(sample, cp_isolation=["cp932", "euc_jp", "cp1252"]).best()
    if best is not None and best.encoding in ENCODINGS:
        return best.encoding
    return "cp932"
