"""Small text helpers shared by the enrichers.

Every lookup key in the package goes through :func:`fold`, so the data files, the
gazetteer and the extractors agree on what "the same spelling" means.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from workers.normalize import replace_each

_APOSTROPHES = (("’", "'"), ("‘", "'"), ("`", "'"), ("´", "'"), ("\u00a0", " "))
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
    value = replace_each(value, _APOSTROPHES)  # not str.translate: see replace_each
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


def longest_first_alternation(words) -> str:
    """Regex source matching what ``"|".join(sorted(map(re.escape, words), key=len, reverse=True))`` matches.

    That alternation picks, at a position, the longest word that starts there. Python's ``re`` tries
    its branches one by one, so with a hundred words every position pays a hundred failed
    comparisons. The same choice written as a character trie (``a(?:ir strike|rm(?:y|s)?)``, a
    longer continuation always tried before stopping) fails after one comparison per character.
    Exact only for case-sensitive patterns, where branches on different characters exclude each other.
    """
    trie: dict = {}
    for word in words:
        if not word:
            raise ValueError("an empty word would match everywhere")
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        if "" in node:  # a word ends here: a longer one first (greedy ?), else stop here
            return f"(?:{body})?" if len(branches) == 1 else f"{body}?"
        return body

    return emit(trie)
