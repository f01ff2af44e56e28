"""Story assignment: which earlier post, if any, a new post repeats or continues.

A *repeat* is a near-duplicate (estimated Jaccard of word 3-grams at or above
``repeat_similarity_min``): the same copy re-posted with a new intro, or syndicated
into another blog. A *story* is wider: a repeat, or a post that shares a long quote,
or has the same headline with strongly overlapping names and numbers, or overlaps
at ``story_similarity_min`` - within ``story_window_s`` of the earlier post. Topic
words alone (Russia, Ukraine, NATO) never link two posts: every rule needs text that
only that event produces.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

from workers.dedup.signature import similarity, words
from workers.identity import normalized_title

QUOTE_MIN_WORDS = 8
TITLE_MIN_WORDS = 4
MAX_QUOTE_ANCHORS = 4
NAME_OVERLAP_MIN = 0.5
NAME_SHARED_MIN = 3
# A name or number is "rare" while at most this many indexed posts carry it: Grey Ford or
# 6,200 is an event, Halverton or Russia is a topic. Two shared rare names link a story.
RARE_NAME_MAX = 6
RARE_SHARED_MIN = 4
# A name on more than this share of a page's posts is the page's topic, however new the
# index (a cold index would otherwise call "Ukraine" rare on a Ukraine live page).
PAGE_TOPIC_SHARE = 0.1
PAGE_TOPIC_MIN_POSTS = 10

# Quotes within one paragraph; a quote left open at the end of its paragraph counts (news
# style leaves multi-paragraph quotes unclosed). Curly quotes are directional, so the text
# *between* two quotes is never mistaken for one.
_QUOTE = re.compile(r"“([^“”\n]{20,600})(?:”|$)|\"([^\"\n]{20,600})(?:\"|$)|«([^«»\n]{20,600})(?:»|$)", re.M)
_CAPS = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:of\s+|the\s+)?[A-Z][\w'’-]*)*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s*|[\"“‘(]\s*)$")
# Capitalised words that are not names of anything: pronouns and calendar words.
_NOT_NAMES = frozenset(
    "i we you he she it they our my his her their this that these those nobody everyone monday tuesday "
    "wednesday thursday friday saturday sunday january february march april may june july august "
    "september october november december on in at by the a an as for from to of with after before "
    "later earlier meanwhile yesterday today tonight tomorrow".split()
)
# Numbers specific enough to identify an event: three digits or more (6,200; 1.8 is not).
_NUMBER = re.compile(r"\b\d[\d,.]*\d\d\b")


@dataclass(frozen=True)
class Features:
    """What story rules compare; ``anchors`` are also index keys that find candidates."""

    sig: np.ndarray
    anchors: tuple[str, ...]
    names: frozenset[str]
    published_ms: int


@dataclass(frozen=True)
class Link:
    """A decided relation to an earlier post: ``repeat`` or ``story``, and why."""

    kind: str
    rule: str
    score: float


def _short(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def anchors(title: str, body: str) -> tuple[str, ...]:
    """Hashes of the headline and of long quotes: text an event produces, not a topic."""
    out = []
    head = normalized_title(title)
    if len(head.split()) >= TITLE_MIN_WORDS:
        out.append("t:" + _short(head))
    quotes = sorted({" ".join(words("".join(g))) for g in _QUOTE.findall(body)}, key=lambda q: (-len(q), q))
    for quote in quotes:
        if len(quote.split()) >= QUOTE_MIN_WORDS:
            out.append("q:" + _short(quote))
        if len(out) > MAX_QUOTE_ANCHORS:
            break
    return tuple(out)


def names(title: str, body: str) -> frozenset[str]:
    """Capitalised names (not sentence starts) and numbers, as short hashes."""
    found = set()
    for line in f"{title}\n{body}".split("\n"):
        found.update(_names_in(line))
        found.update(_NUMBER.findall(line))
    return frozenset(_short(x)[:8] for x in found)


def _names_in(line: str) -> set[str]:
    """Runs of capitalised words; a lone capitalised word opening a sentence ("Police",
    "Residents") is English grammar, not a name, so it is dropped."""
    out = set()
    for m in _CAPS.finditer(line):
        run = m.group(0).casefold().split()
        at_start = bool(_SENTENCE_START.search(line[: m.start()]))
        while run and run[0] in _NOT_NAMES:  # "On Sunday Priya Lund" is Priya Lund
            run, at_start = run[1:], False
        name = " ".join(run)
        if not name or name in _NOT_NAMES or (at_start and len(run) == 1):
            continue
        out.add(name)
    return out


def link(
    new: Features, old: Features, *, repeat_min: float, story_min: float, story_window_ms: int,
    rare: frozenset[str] = frozenset(),
) -> Link | None:
    """The strongest rule that ties ``new`` to ``old``, or None.

    ``rare`` holds the new post's names that few indexed posts share (see RARE_NAME_MAX).
    """
    score = similarity(new.sig, old.sig)
    if score >= repeat_min:
        return Link("repeat", "near-duplicate", score)
    if abs(new.published_ms - old.published_ms) > story_window_ms:
        return None
    shared = set(new.anchors) & set(old.anchors)
    if any(a.startswith("q:") for a in shared):
        return Link("story", "shared-quote", score)
    if score >= story_min:
        return Link("story", "overlap", score)
    if any(a.startswith("t:") for a in shared) and _name_overlap(new.names, old.names):
        return Link("story", "same-headline", score)
    if len(rare & old.names) >= RARE_SHARED_MIN:
        return Link("story", "shared-names", score)
    return None


def page_topics(per_post_names: list[frozenset[str]]) -> frozenset[str]:
    """Names that most of the page talks about: never evidence of one event."""
    if len(per_post_names) < PAGE_TOPIC_MIN_POSTS:
        return frozenset()
    counts: dict[str, int] = {}
    for found in per_post_names:
        for n in found:
            counts[n] = counts.get(n, 0) + 1
    limit = PAGE_TOPIC_SHARE * len(per_post_names)
    return frozenset(n for n, c in counts.items() if c > limit)


def _name_overlap(a: frozenset[str], b: frozenset[str]) -> bool:
    common = len(a & b)
    smaller = min(len(a), len(b)) or 1
    return common >= NAME_SHARED_MIN and common / smaller >= NAME_OVERLAP_MIN


def best(links: list[tuple[Link, str]]) -> tuple[Link, str] | None:
    """Repeats before stories, then higher score, then the reference (deterministic)."""
    if not links:
        return None
    return min(links, key=lambda lr: (lr[0].kind != "repeat", -lr[0].score, lr[1]))
