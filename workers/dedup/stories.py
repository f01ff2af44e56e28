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

from collections.abc import Callable

import base64
import hashlib
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

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
_CAPS = re.compile(r"(?=[A-Z])\b[A-Z][\w'’-]*(?:\s+(?:of\s+|the\s+)?[A-Z][\w'’-]*)*")  # (?=: fails fast
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

# Follow-ups: a later post of the same event in new words restates some of its facts - a
# phrase ("the 112 passengers and 14 crew were safe", "will cost about £240,000"), an entity
# or an amount - that no other story nearby uses. Phrases are word 4-grams with at least two
# content words; at most PHRASE_MAX of them (the smallest hashes, so a sample is consistent
# across posts) are stored with the post, as 24-bit hashes in one packed anchor.
PHRASE_WORDS = 4
PHRASE_CONTENT_MIN = 2
PHRASE_MAX = 64
PHRASE_ANCHOR = "s:"
FOLLOWUP_EVIDENCE_MIN = 4
# One restated sentence counts at most this much: a sentence is one piece of evidence, and a
# credit line ("This post was shared by the Valley Herald.") is a sentence too.
SENTENCE_EVIDENCE_MAX = 3
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’)]*\s+|\n+")
FOLLOWUP_WINDOW_MS = 12 * 3600 * 1000
# Recent posts of the same blog are candidates whatever their words (a live page follows up
# its own stories): one bucket per blog and RECENT_SLOT_MS slot; a post is written to its
# slot and the one before, so posts up to one to two slots apart meet.
RECENT_SLOT_MS = 6 * 3600 * 1000
_STOPWORDS = frozenset(
    "a about after again all also an and any are as at be been before being but by can could did do does "
    "for from had has have he her here him his how i if in into is it its just more most much my no not now "
    "of on once one only or other our out over said says she should so some such than that the their them "
    "then there these they this those to too under until up very was we were what when where which while "
    "who will with would you your".split()
)
# Entity ids and amounts from the enrichers, stored among the names with a non-hex first
# character so they are told apart from surface names (which they would double-count).
ENTITY_PREFIX = "i"
AMOUNT_PREFIX = "v"


@dataclass(frozen=True)
class Features:
    """What story rules compare; ``anchors`` are also index keys that find candidates."""

    sig: np.ndarray
    anchors: tuple[str, ...]
    names: frozenset[str]
    published_ms: int
    blog: str = ""  # the new post's blog (recent-posts bucket); not stored
    # The new post's phrase hashes by sentence, all of them (see followup_evidence); not
    # stored: an indexed post is compared through its stored sample, ``phrases``.
    sentences: tuple[frozenset[int], ...] = ()

    @cached_property
    def story_anchors(self) -> tuple[str, ...]:
        """The quote and headline anchors (``q:``, ``t:``), which candidates.Pool indexes:
        worked out once per post, however many documents it is a candidate of."""
        return tuple(a for a in self.anchors if a[:2] in ("q:", "t:"))

    @cached_property
    def phrases(self) -> frozenset[int]:
        """The post's phrase hashes, unpacked from their anchor."""
        return next((unpack_phrases(a) for a in self.anchors if a.startswith(PHRASE_ANCHOR)), frozenset())

    @cached_property
    def all_phrases(self) -> frozenset[int]:
        """Every phrase hash of the post: its sentences' for a new post, the stored sample else."""
        return frozenset().union(*self.sentences) if self.sentences else self.phrases

    @cached_property
    def phrase_array(self) -> np.ndarray:
        """``phrases`` as a sorted array (candidates.choose compares them in numpy)."""
        packed = next((a for a in self.anchors if a.startswith(PHRASE_ANCHOR)), None)
        if packed is not None:
            return unpack_phrase_array(packed)
        return np.array(sorted(self.phrases), dtype=np.int64)

    @cached_property
    def phrase_index(self) -> tuple[np.ndarray, np.ndarray]:
        """``all_phrases`` sorted, and for each the index of the first sentence holding it."""
        sentences = _sentences(self)
        if not sentences:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        flat = np.fromiter((h for sentence in sentences for h in sentence), dtype=np.int64)
        which = np.repeat(np.arange(len(sentences), dtype=np.int64), [len(x) for x in sentences])
        mine, first = np.unique(flat, return_index=True)  # first occurrence: the earliest sentence
        return mine, which[first]

    @cached_property
    def first_sentence(self) -> dict[int, int]:
        """Each phrase hash -> the index of the first sentence (see _sentences) holding it."""
        out: dict[int, int] = {}
        for i, sentence in enumerate(_sentences(self)):
            for h in sentence:
                out.setdefault(h, i)
        return out

    @cached_property
    def strong(self) -> frozenset[str]:
        """Entity ids and amounts (enrichers), as stored among the names."""
        return frozenset(n for n in self.names if n[:1] in (ENTITY_PREFIX, AMOUNT_PREFIX))


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


def sentence_words(body: str) -> list[list[str]]:
    """The words of each sentence of ``body``; together, in order, they are ``words(body)``
    (sentences split only where there is no word character)."""
    return [words(sentence) for sentence in _SENTENCE_END.split(body)]


def _phrase_sentences(word_lists: list[list[str]]) -> tuple[frozenset[int], ...]:
    """24-bit hashes of the word 4-grams with two content words or more, per sentence (the
    words of the title, then of each sentence of the body); sentences without one are left out."""
    assert PHRASE_WORDS == 4, "the windows below are written out for 4-grams"
    out = []
    for ws in word_lists:
        if len(ws) < PHRASE_WORDS:
            continue
        c = [w not in _STOPWORDS for w in ws]
        found = {
            _phrase_hash(f"{a} {b} {x} {y}")
            for a, b, x, y, ca, cb, cx, cy in zip(ws, ws[1:], ws[2:], ws[3:], c, c[1:], c[2:], c[3:])
            if ca + cb + cx + cy >= PHRASE_CONTENT_MIN
        }
        if found:
            out.append(frozenset(found))
    return tuple(out)


@lru_cache(maxsize=16384)
def _phrase_hash(gram: str) -> int:
    return int.from_bytes(hashlib.blake2b(gram.encode("utf-8"), digest_size=3).digest(), "big")


def phrases(sentences: tuple[frozenset[int], ...]) -> tuple[int, ...]:
    """What is stored: the PHRASE_MAX smallest phrase hashes (a consistent sample), sorted."""
    return tuple(sorted(frozenset().union(*sentences))[:PHRASE_MAX])


def pack_phrases(values: tuple[int, ...]) -> str:
    """One anchor holding all phrase hashes (3 bytes each, base64): stored, never indexed."""
    return PHRASE_ANCHOR + base64.b64encode(b"".join(v.to_bytes(3, "big") for v in values)).decode("ascii")


def unpack_phrases(anchor: str) -> frozenset[int]:
    return frozenset(unpack_phrase_array(anchor).tolist())


def unpack_phrase_array(anchor: str) -> np.ndarray:
    """The packed phrase hashes, sorted and unique, as int64."""
    raw = base64.b64decode(anchor[len(PHRASE_ANCHOR):])
    b = np.frombuffer(raw[: len(raw) // 3 * 3], dtype=np.uint8).reshape(-1, 3).astype(np.int64)
    values = (b[:, 0] << 16) | (b[:, 1] << 8) | b[:, 2]
    # pack_phrases writes them sorted and unique: check that (cheap) rather than sort again
    return values if bool(np.all(values[1:] > values[:-1])) else np.unique(values)


def strong_keys(entity_ids, amounts) -> frozenset[str]:
    """Enricher evidence as name tokens: canonical entity ids (``person:peter-wynn`` whether
    the post says "Peter Wynn" or "Mr Wynn") and amounts with their unit (``money:240000:GBP``)."""
    out = {ENTITY_PREFIX + _short(e)[:7] for e in entity_ids}
    out.update(AMOUNT_PREFIX + _short(a)[:7] for a in amounts)
    return frozenset(out)


@lru_cache(maxsize=2048)
def names(title: str, body: str) -> frozenset[str]:
    """Capitalised names (not sentence starts) and numbers, as short hashes. Cached: a
    re-polled page asks again for every post it still shows (stories.page_topics)."""
    text = f"{title}\n{body}"
    found = set(_NUMBER.findall(text))  # a number never spans a line: per line or at once, the same
    for line in text.split("\n"):
        found.update(_names_in(line))
    return frozenset(_short(x)[:8] for x in found)


_SENTENCE_START_CHARS = frozenset(".!?:;\"“‘(")


def _at_sentence_start(line: str, at: int) -> bool:
    """``_SENTENCE_START.search(line[:at])``, without a regex scan of the whole prefix per
    capitalised run: the line starts at ``at``, or its last non-space character before ``at``
    ends a sentence or opens a quote or bracket."""
    if at == 0:
        return True
    i = at - 1
    while i >= 0 and line[i].isspace():  # line[:at].rstrip(), without copying the prefix
        i -= 1
    return i >= 0 and line[i] in _SENTENCE_START_CHARS


def _names_in(line: str) -> set[str]:
    """Runs of capitalised words; a lone capitalised word opening a sentence ("Police",
    "Residents") is English grammar, not a name, so it is dropped."""
    out = set()
    for m in _CAPS.finditer(line):
        run = m.group(0).casefold().split()
        at_start = _at_sentence_start(line, m.start())
        while run and run[0] in _NOT_NAMES:  # "On Sunday Priya Lund" is Priya Lund
            run, at_start = run[1:], False
        name = " ".join(run)
        if not name or name in _NOT_NAMES or (at_start and len(run) == 1):
            continue
        out.add(name)
    return out


def link(
    new: Features, old: Features, *, repeat_min: float, story_min: float, story_window_ms: int,
    rare: frozenset[str] = frozenset(), evidence: int | Callable[[], int] = 0, score: float | None = None,
) -> Link | None:
    """The strongest rule that ties ``new`` to ``old``, or None.

    ``rare`` holds the new post's names that few indexed posts share (see RARE_NAME_MAX);
    ``evidence`` counts the phrases, entities and amounts ``new`` shares with ``old`` and with
    no candidate of another story (see followup_evidence); ``score`` is their similarity when
    the caller computed it already (for all candidates at once).
    """
    if score is None:
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
    if len({n for n in rare & old.names if n[:1] not in (ENTITY_PREFIX, AMOUNT_PREFIX)}) >= RARE_SHARED_MIN:
        return Link("story", "shared-names", score)
    if abs(new.published_ms - old.published_ms) <= FOLLOWUP_WINDOW_MS:
        # the costliest rule, computed only when every cheaper one has said no
        if (evidence() if callable(evidence) else evidence) >= FOLLOWUP_EVIDENCE_MIN:
            return Link("story", "follow-up", score)
    return None


def followup_evidence(new: Features, old: Features, old_story: str, owners: Owners | Callable[[], Owners],
                      rare: frozenset[str]) -> int:
    """Evidence that ``new`` follows up ``old``'s story: the phrases it restates from ``old``
    (at most SENTENCE_EVIDENCE_MAX per sentence of ``new``) plus the rare entity ids and amounts
    they share, counting only what no nearby candidate of another story carries. ``owners``
    (owners_of) holds, per story, what of ``new`` only that story's candidates within
    FOLLOWUP_WINDOW_MS carry; it may be given as a function, called only when ``new`` and
    ``old`` share something.

    This is the rule for one pair, as the tests state it; the worker
    computes the same number for all candidates at once (``candidates._evidence``), and
    tests/dedup/test_candidates.py holds the two equal."""
    shared_names = new.strong & old.strong & rare
    if not shared_names and old.phrases.isdisjoint(new.all_phrases):
        return 0  # nothing in common: the usual case for the other posts of the page
    table = owners() if callable(owners) else owners
    mine = table.phrases.get(old_story, frozenset()) & old.phrases
    total = len(shared_names & table.names.get(old_story, frozenset()))
    if len(mine) <= SENTENCE_EVIDENCE_MAX:  # no sentence can pass the cap: each phrase counts once
        return total + len(mine)
    # a phrase counts for the first sentence that has it (the title repeating the body counts once)
    per_sentence: dict[int, int] = {}
    first = new.first_sentence
    for h in mine:
        at = first[h]
        per_sentence[at] = per_sentence.get(at, 0) + 1
    return total + sum(min(SENTENCE_EVIDENCE_MAX, n) for n in per_sentence.values())


def _sentences(features: Features) -> tuple[frozenset[int], ...]:
    return features.sentences or ((features.phrases,) if features.phrases else ())


@dataclass(frozen=True)
class Owners:
    """Per story id, the phrase hashes and entity/amount tokens of a new post that the
    candidates of that story (within FOLLOWUP_WINDOW_MS) carry and no other story's do."""

    phrases: dict[str, frozenset[int]]
    names: dict[str, frozenset[str]]


def owners_of(new: Features, candidates: list[tuple[Features, str]]) -> Owners:
    """For followup_evidence: what of ``new`` is exclusive to one story among ``candidates``.

    One pass of set intersections per candidate, then per story; the per-candidate evidence
    is then a lookup, not a scan of every other candidate."""
    mine = new.all_phrases
    phrases: dict[str, set[int]] = {}
    names: dict[str, set[str]] = {}
    for feats, story in candidates:
        if abs(new.published_ms - feats.published_ms) > FOLLOWUP_WINDOW_MS:
            continue
        shared = mine & feats.phrases
        if shared:
            phrases.setdefault(story, set()).update(shared)
        strong = new.strong & feats.strong
        if strong:
            names.setdefault(story, set()).update(strong)
    return Owners(_exclusive(phrases), _exclusive(names))


def _exclusive(by_story: dict[str, set]) -> dict[str, frozenset]:
    """Each story's keys that no other story has."""
    seen: set = set()
    multi: set = set()
    for keys in by_story.values():
        multi |= seen & keys
        seen |= keys
    out = {}
    for story, keys in by_story.items():
        only = keys - multi
        if only:
            out[story] = frozenset(only)
    return out


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


def dedup_features(title: str, body: str, published_ms: int, blog: str = "", enrichment=None) -> Features:
    """Everything the repeat and story rules compare for one post (production and evaluation
    alike: ``workers.pipeline.post_features``). ``enrichment`` is the post's Enrichment: its
    canonical entity ids and amounts join the names; without it they are simply absent."""
    from workers.dedup.signature import signature_of_words

    found = names(title, body)
    if enrichment is not None:
        found |= strong_keys(
            {e.id for e in enrichment.entities},
            {f"{q.kind}:{q.value:g}:{q.unit or ''}" for q in enrichment.quantities if q.value is not None},
        )
    title_words, body_sentences = words(title), sentence_words(body)
    sentences = _phrase_sentences([title_words, *body_sentences])
    sample = phrases(sentences)
    features = Features(
        sig=signature_of_words(title_words, [w for ws in body_sentences for w in ws]),
        anchors=anchors(title, body) + (pack_phrases(sample),),
        names=found,
        published_ms=published_ms,
        blog=blog,
        sentences=sentences,
    )
    return with_phrase_array(features, _frozen_array(sample))


def with_phrase_array(features: Features, array: np.ndarray) -> Features:
    """``features`` holding ``phrase_array`` already (the value it would unpack from its
    anchor): a new post's sample is at hand, and a candidate pool asks for it at once."""
    features.__dict__["phrase_array"] = array  # what cached_property stores
    return features


def _frozen_array(values: tuple[int, ...]) -> np.ndarray:
    array = np.array(values, dtype=np.int64)
    array.flags.writeable = False  # shared by the Features that hold it
    return array
