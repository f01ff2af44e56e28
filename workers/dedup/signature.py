"""MinHash signatures and LSH band keys for near-duplicate detection.

The signature must be identical in every worker and every run: the permutations come
from a fixed seed and are computed once per process (datasketch would otherwise
re-derive them for every post, which costs more than hashing the post itself).
Changing NUM_PERM, BANDS, ROWS, SEED or SHINGLE_WORDS invalidates stored signatures
and band keys; keep them constant for the life of the dedup window.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import unicodedata
import zlib

import numpy as np
from datasketch import MinHash


NUM_PERM = 96
BANDS = 32
ROWS = 3
SEED = 20250101
SHINGLE_WORDS = 3
# A band-key collision is likely above this Jaccard similarity: (1/BANDS) ** (1/ROWS) ~ 0.31.
LSH_THRESHOLD = (1 / BANDS) ** (1 / ROWS)

_WORD = re.compile(r"\w+", re.UNICODE)
_MASK32 = np.uint64(0xFFFFFFFF)
_MIX = (np.uint64(0x9E3779B1), np.uint64(0x85EBCA77), np.uint64(0xC2B2AE3D))


def _identity(value: int) -> int:
    """Shingles arrive already hashed to 32 bits (see shingle_hashes)."""
    return value


_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32", hashfunc=_identity)


def words(text: str) -> list[str]:
    """Case- and accent-insensitive words; quotes, dashes and spacing are not words, so a
    re-render yields the same list."""
    found = _WORD.findall(text.casefold())
    return [w if w.isascii() else _fold(w) for w in found]


@functools.lru_cache(maxsize=65536)
def _fold(word: str) -> str:
    """Accents off (Zelenskyy's "é" and "e" are one word); cached, as names repeat."""
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


@functools.lru_cache(maxsize=262144)
def _word_hash(word: str) -> int:
    return zlib.crc32(word.encode("utf-8"))


def shingle_hashes(title: str, body: str) -> np.ndarray:
    """32-bit hashes of the overlapping word 3-grams of title and body (words for tiny posts).

    Words are hashed once with CRC-32 and combined per 3-gram in numpy: building and hashing
    one string per shingle costs three times more than the MinHash itself.
    """
    return _shingles(words(f"{title}\n{body}"))


def _shingles(tokens: list[str]) -> np.ndarray:
    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    h = np.fromiter(map(_word_hash, tokens), dtype=np.uint64, count=len(tokens))
    if len(tokens) < SHINGLE_WORDS:
        return h
    n = len(tokens) - SHINGLE_WORDS + 1
    mixed = h[:n] * _MIX[0]
    for k in range(1, SHINGLE_WORDS):
        mixed = (mixed ^ (mixed >> np.uint64(15))) + h[k : k + n] * _MIX[k]
    return mixed & _MASK32


BODY_MIN_WORDS = 12


def signature(title: str, body: str) -> np.ndarray:
    """The post's MinHash (NUM_PERM uint32 values), with the shared permutations.

    Only the body counts when it has BODY_MIN_WORDS or more: a re-post or a syndicated
    copy usually gets a new headline, and the headline would dilute the overlap of the
    copy that matters. Title-only posts are compared on their title.
    """
    return signature_of_words(words(title), words(body))


def signature_of_words(title_words: list[str], body_words: list[str]) -> np.ndarray:
    """``signature`` from the words of title and body, when the caller has them already
    (words of "title\nbody" are the title's followed by the body's)."""
    tokens = body_words if len(body_words) >= BODY_MIN_WORDS else title_words + body_words
    mh = MinHash(num_perm=NUM_PERM, seed=SEED, permutations=_TEMPLATE.permutations, scheme="affine32",
                 hashfunc=_identity)
    items = _shingles(tokens)
    if len(items):
        mh.update_batch(items.tolist())
    return mh.hashvalues.astype(np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of the two posts' shingle sets."""
    return float(np.count_nonzero(a == b)) / NUM_PERM


def band_keys(sig: np.ndarray) -> list[str]:
    """One bucket name per band; two posts share a bucket when a whole band agrees."""
    raw, step = sig.tobytes(), ROWS * sig.itemsize  # each band's bytes are a slice of the whole
    blake2b = hashlib.blake2b
    return [f"{band}:{blake2b(raw[band * step : (band + 1) * step], digest_size=6).hexdigest()}" for band in range(BANDS)]


def encode(sig: np.ndarray) -> str:
    """Compact text form stored in the post hash (384 bytes -> 512 characters)."""
    return base64.b64encode(sig.astype("<u4").tobytes()).decode("ascii")


def decode(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<u4").astype(np.uint32)
