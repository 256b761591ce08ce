"""Text as the services keep it: refused when it holds what is not text, tidied when it is.

PostgreSQL cannot store NUL in text and asyncpg cannot encode lone surrogates, so text holding
either would fail at the database as a 500; other control characters are refused with them
because no person types them. Tab and line breaks are whitespace, collapsed by `clean_text`.
"""

from __future__ import annotations

import re
import unicodedata

# Unicode's control characters (category Cc) except tab and line breaks, and lone surrogates.
_CONTROL_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(text: str) -> str:
    """The text unchanged, or ValueError naming what in it is not text."""
    if _CONTROL_CHARACTER.search(text):
        raise ValueError("contains control characters")
    if _SURROGATE.search(text):
        raise ValueError("contains characters that are not valid text (lone surrogates)")
    return text


def clean_text(text: str, *, limit: int) -> str:
    """Any script kept as written: NFC-normalised, inner whitespace collapsed, bounded."""
    text = " ".join(unicodedata.normalize("NFC", check_text(text)).split())
    if len(text) > limit:
        raise ValueError(f"is longer than {limit} characters")
    return text
