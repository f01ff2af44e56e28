"""Small text helpers shared by the enrichers.

Every lookup key in the package goes through :func:`fold`, so the data files, the
gazetteer and the extractors agree on what "the same spelling" means.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "\u00a0": " "})
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_SENTENCE_END = re.compile(r"[.!?](?=[\s\"”’]|$)|\n\s*\n")


@lru_cache(maxsize=65536)
def fold(value: str) -> str:
    return fold_text(value)


def fold_text(value: str) -> str:
    """Case-, accent- and punctuation-insensitive key: "U.S." and "us", "Núñez" and "nunez" collide on purpose.

    :func:`fold` caches short keys; call this directly for whole texts, which never repeat.
    """
    value = value.translate(_APOSTROPHES)
    if not value.isascii():
        value = _COMBINING.sub("", unicodedata.normalize("NFKD", value))
    return " ".join(value.casefold().replace(".", "").split())


def slug(value: str) -> str:
    """ASCII slug used in entity ids; stable across runs because it depends only on the canonical name."""
    return _NON_ALNUM.sub("-", fold(value)).strip("-") or "x"


def sentence_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Bounds of the sentence around [start, end), cut at sentence punctuation or a blank line.

    Looks at most 600 characters either way, so a 1 MB text without punctuation stays linear.
    """
    lo = max(0, start - 600)
    before = [m.end() for m in _SENTENCE_END.finditer(text, lo, start)]
    sentence_start = before[-1] if before else lo
    after = _SENTENCE_END.search(text, end, min(len(text), end + 600))
    sentence_end = after.end() if after else min(len(text), end + 600)
    return sentence_start, sentence_end
