"""Which candidates a new post links to, decided for all candidates at once.

``stories.link`` states the rules for one pair. A live page brings every recent post of
its blog in as a candidate (the recent-posts buckets), so a new post meets a hundred or
more of them and asking ``link`` pair by pair costs milliseconds of Python per post.

A :class:`Pool` holds the candidates of one document as arrays (signatures, times, story
numbers, every stored phrase hash with its owner) plus inverted indexes of the anchors and
names they carry, built once per document and grown as its new posts are decided. For one
new post, the rules that compare numbers (similarity, time, follow-up evidence) are array
operations over its candidates; the rules that compare anchors and rare names are asked,
through ``link``, only of the candidates the inverted indexes say share one; ``link`` is
asked once more for the chosen candidate, to name its rule. The decision is the one
``link`` + ``best`` make pair by pair (tests/dedup/test_candidates.py holds the two side by
side).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from workers.dedup import signature as sigmod
from workers.dedup.stories import (
    AMOUNT_PREFIX, ENTITY_PREFIX, FOLLOWUP_EVIDENCE_MIN, FOLLOWUP_WINDOW_MS, RARE_SHARED_MIN,
    SENTENCE_EVIDENCE_MAX, Features, Link, link,
)

_STORY_BITS = 24  # phrase hashes are 24-bit: (phrase << 24 | story) is one sortable number


class Pool:
    """The candidates of one document, as arrays and inverted indexes.

    ``names`` indexes only the names in ``wanted`` (the new posts' own names: no other name
    can be shared with one of them); arrays grow in place as candidates are added."""

    def __init__(self, wanted: frozenset[str] | None = None) -> None:
        self.wanted = wanted
        self.refs: list[str] = []
        self.features: list[Features] = []
        self.position: dict[str, int] = {}
        self._stories: dict[str, int] = {}
        self.anchors: dict[str, list[int]] = {}  # q:/t: anchor -> candidates carrying it
        self.names: dict[str, list[int]] = {}  # name token -> candidates carrying it
        self._pending: list[int] = []  # added since the arrays were last built
        self._n = 0  # candidates in the arrays
        self._sigs = np.zeros((0, sigmod.NUM_PERM), dtype=np.uint32)
        self._times = np.zeros(0, dtype=np.int64)
        self._story = np.zeros(0, dtype=np.int64)
        # every stored phrase hash of the candidates with its owner and the owner's story,
        # packed in one number (see _pack) and kept sorted: a new post's phrases are looked
        # up by binary search, so the follow-up evidence costs the phrases it shares, not
        # all the pool holds
        self.rows = np.zeros(0, dtype=np.int64)
        self.recent_rows = np.zeros(0, dtype=np.int64)  # rows added since ``rows`` was last merged
        self._story_of: list[int] = []
        self._views()

    def add(self, ref: str, features: Features, story_id: str) -> None:
        self.add_all(((ref, features, story_id),))

    def add_all(self, candidates: Iterable[tuple[str, Features, str]]) -> None:
        """``add`` each (ref, features, story id) in turn (a document brings hundreds: the
        loop holds its lookups in locals)."""
        position, refs, features_of, story_of, pending = (
            self.position, self.refs, self.features, self._story_of, self._pending)
        stories, anchors, names, wanted = self._stories, self.anchors, self.names, self.wanted
        for ref, features, story_id in candidates:
            if ref in position:
                continue
            k = len(refs)
            position[ref] = k
            refs.append(ref)
            features_of.append(features)
            story_of.append(stories.setdefault(story_id, len(stories)))
            pending.append(k)
            for a in features.story_anchors:
                if a in anchors:
                    anchors[a].append(k)
                else:
                    anchors[a] = [k]
            for n in features.names if wanted is None else features.names & wanted:
                if n in names:
                    names[n].append(k)
                else:
                    names[n] = [k]

    def build(self) -> Pool:
        """Bring the arrays up to date with every candidate added so far (amortised: the
        arrays double when full, so the new posts of a document append in place)."""
        if not self._pending:
            return self
        added, self._pending = self._pending, []
        feats = [self.features[k] for k in added]
        story = np.asarray([self._story_of[k] for k in added], dtype=np.int64)
        phrases = [f.phrase_array for f in feats]
        sizes = np.fromiter((len(a) for a in phrases), dtype=np.int64, count=len(phrases))
        n = self._n + len(added)
        if n > len(self._times):
            cap = max(n, 2 * len(self._times), 64)
            self._sigs = _grown(self._sigs, cap)
            self._times, self._story = _grown(self._times, cap), _grown(self._story, cap)
        self._sigs[self._n : n] = np.concatenate([f.sig for f in feats]).reshape(len(feats), sigmod.NUM_PERM)
        self._times[self._n : n] = [f.published_ms for f in feats]
        self._story[self._n : n] = story
        if sizes.sum():
            if n > _OWNER_MASK or len(self._stories) > _STORY_MASK:
                raise ValueError(f"a candidate pool holds at most {_OWNER_MASK} posts of {_STORY_MASK} stories")
            added_rows = np.sort(_pack(np.concatenate(phrases), np.repeat(np.asarray(added, dtype=np.int64), sizes),
                                       np.repeat(story, sizes)))
            # merged into the sorted rows, the small additions (a document's new posts, one at
            # a time) into a second, small array of their own: copying the big one for each
            # new post cost more than searching two
            small = len(added_rows) + len(self.recent_rows)
            if small * _MERGE_RATIO < len(self.rows):
                self.recent_rows = _merged(self.recent_rows, added_rows)
            else:
                self.rows = _merged(_merged(self.rows, self.recent_rows), added_rows)
                self.recent_rows = self.recent_rows[:0]
        self._n = n
        self._views()
        return self

    def _views(self) -> None:
        """The filled part of each array (numpy views: no copy)."""
        self.sigs, self.times, self.stories = self._sigs[: self._n], self._times[: self._n], self._story[: self._n]


# a phrase row: phrase hash (24 bits) << 39 | owner (pool position, 20 bits) << 19 | story (19 bits)
_OWNER_SHIFT, _PHRASE_SHIFT = 19, 39
_OWNER_MASK, _STORY_MASK = (1 << 20) - 1, (1 << 19) - 1


def _pack(phrases: np.ndarray, owners: np.ndarray, stories: np.ndarray) -> np.ndarray:
    return (phrases << _PHRASE_SHIFT) | (owners << _OWNER_SHIFT) | stories


_MERGE_RATIO = 8  # recent_rows stay under an eighth of rows, or are merged into them


def _merged(rows: np.ndarray, added: np.ndarray) -> np.ndarray:
    """Two sorted arrays as one sorted array."""
    if not len(added):
        return rows
    if not len(rows):
        return added
    return np.insert(rows, np.searchsorted(rows, added), added)


def _grown(array: np.ndarray, rows: int) -> np.ndarray:
    out = np.zeros((rows, *array.shape[1:]), dtype=array.dtype)
    out[: len(array)] = array
    return out


def choose(
    new: Features,
    cands: Sequence[tuple[str, Features, str]],
    *,
    rare: frozenset[str],
    repeat_min: float,
    story_min: float,
    story_window_ms: int,
) -> tuple[Link, str] | None:
    """The link ``best`` would pick among ``cands`` = (ref, features, story id), or None."""
    pool = Pool()
    for ref, features, story_id in cands:
        pool.add(ref, features, story_id)
    return choose_in(pool, new, [pool.position[c[0]] for c in cands], rare=rare, repeat_min=repeat_min,
                     story_min=story_min, story_window_ms=story_window_ms)


def choose_in(
    pool: Pool,
    new: Features,
    members: Iterable[int],
    *,
    rare: frozenset[str],
    repeat_min: float,
    story_min: float,
    story_window_ms: int,
) -> tuple[Link, str] | None:
    """``choose`` over the candidates ``members`` (positions in ``pool``)."""
    idx = np.array(members if isinstance(members, list) else list(members), dtype=np.int64)
    if not len(idx):
        return None
    pool.build()
    scores = np.count_nonzero(pool.sigs[idx] == new.sig, axis=1) / sigmod.NUM_PERM
    dt = np.abs(pool.times[idx] - new.published_ms)
    repeat = scores >= repeat_min
    story = ~repeat & (dt <= story_window_ms)
    linked = repeat | (story & (scores >= story_min))
    computed: list[np.ndarray] = []

    def evidence() -> np.ndarray:
        if not computed:
            computed.append(_evidence(pool, new, idx, dt, rare))
        return computed[0]

    at = {k: j for j, k in enumerate(idx.tolist())}
    # The story rules of stories.link, for candidates in the window that are not yet linked:
    # a shared quote anchor links; a shared headline anchor asks link() (name overlap);
    # RARE_SHARED_MIN shared rare names link; otherwise only the follow-up rule is left.
    quote: set[int] = set()
    headline: set[int] = set()
    for a in new.anchors:
        for k in pool.anchors.get(a, ()):
            if k in at:
                (quote if a.startswith("q:") else headline).add(at[k])
    shared_rare = np.zeros(len(idx), dtype=np.int64)
    for n in rare:
        if n[:1] not in (ENTITY_PREFIX, AMOUNT_PREFIX):
            for k in pool.names.get(n, ()):
                if k in at:
                    shared_rare[at[k]] += 1
    open_ = story & ~linked
    for j in quote:
        linked[j] |= open_[j]
    linked |= open_ & (shared_rare >= RARE_SHARED_MIN)
    for j in headline - quote:
        if open_[j] and not linked[j]:
            linked[j] = link(new, pool.features[idx[j]], repeat_min=repeat_min, story_min=story_min,
                             story_window_ms=story_window_ms, rare=rare, score=float(scores[j]),
                             evidence=lambda j=j: int(evidence()[j])) is not None
    rest = story & ~linked & (dt <= FOLLOWUP_WINDOW_MS)
    if headline:
        rest[list(headline)] = False  # decided by link() above, follow-up included
    if rest.any():
        linked |= rest & (evidence() >= FOLLOWUP_EVIDENCE_MIN)
    hits = np.flatnonzero(linked)
    if not len(hits):
        return None
    # best(): repeats first, then the higher score, then the smaller ref
    j = min(hits.tolist(), key=lambda h: (not repeat[h], -scores[h], pool.refs[idx[h]]))
    k = int(idx[j])
    found = link(new, pool.features[k], repeat_min=repeat_min, story_min=story_min,
                 story_window_ms=story_window_ms, rare=rare, score=float(scores[j]),
                 evidence=lambda: int(evidence()[j]))
    assert found is not None, "choose_in() and link() disagree"
    return found, pool.refs[k]


def _evidence(pool: Pool, new: Features, idx: np.ndarray, dt: np.ndarray, rare: frozenset[str]) -> np.ndarray:
    """stories.followup_evidence of ``new`` with each candidate ``idx``, as one array.

    Phrases: the new post's phrase hashes each candidate carries, kept only where no
    candidate of another story (within FOLLOWUP_WINDOW_MS) carries them too, at most
    SENTENCE_EVIDENCE_MAX per sentence of the new post (a phrase belongs to the first
    sentence holding it). Names: the rare entity ids and amounts shared, on the same terms.
    """
    out = np.zeros(len(idx), dtype=np.int64)
    near = dt <= FOLLOWUP_WINDOW_MS
    if not near.any():
        return out
    places = np.flatnonzero(near)
    slot = np.full(len(pool.refs), -1, dtype=np.int64)  # pool position -> place in idx, if near
    slot[idx[places]] = places
    mine, first = new.phrase_index
    found = [_rows_holding(packed, mine) for packed in (pool.rows, pool.recent_rows) if len(packed)] if len(mine) else []
    if found:
        # the pool's rows holding one of the new post's phrases, then only those whose owner
        # is a near candidate
        which, rows = (np.concatenate([w for w, _ in found]), np.concatenate([r for _, r in found])) \
            if len(found) > 1 else found[0]
        o = slot[(rows >> _OWNER_SHIFT) & _OWNER_MASK]
        near_rows = o >= 0
        o, which, rows = o[near_rows], which[near_rows], rows[near_rows]
        p, s, sentence = mine[which], rows & _STORY_MASK, first[which]
        if len(p):
            exclusive = _one_story(p, s)
            o, sentence = o[exclusive], sentence[exclusive]
            sentences = int(first.max()) + 1
            per_sentence = np.bincount(o * sentences + sentence, minlength=len(idx) * sentences)
            out += np.minimum(per_sentence, SENTENCE_EVIDENCE_MAX).reshape(len(idx), sentences).sum(axis=1)
    shared = [key for key in new.strong & rare if key in pool.names]
    if shared:
        # in Python: a name's carriers are a handful, and numpy's scalar indexing cost more
        # than all the rest of this function (measured on 5-post documents)
        near_at = dict(zip(idx[places].tolist(), places.tolist()))  # slot, as a dict of Python ints
        story_of = pool._story_of
        for key in shared:
            carriers = [k for k in pool.names[key] if k in near_at]
            if carriers and len({story_of[k] for k in carriers}) == 1:
                out[[near_at[k] for k in carriers]] += 1
    return out


def _rows_holding(packed: np.ndarray, mine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``packed`` (sorted) whose phrase is one of ``mine`` (sorted, unique), by
    binary search of each, and for each row the index of its phrase in ``mine``."""
    lo = np.searchsorted(packed, mine << _PHRASE_SHIFT)
    counts = np.searchsorted(packed, (mine + 1) << _PHRASE_SHIFT) - lo
    which = np.repeat(np.arange(len(mine), dtype=np.int64), counts)  # row -> its phrase in mine
    return which, packed[lo[which] + (np.arange(len(which), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts))]


def _one_story(phrases: np.ndarray, stories: np.ndarray) -> np.ndarray:
    """For each (phrase, story) row: whether every row of its phrase has that one story (the
    phrase is exclusive to a story). One sort by (phrase, story): a phrase's rows are then
    contiguous with their stories in order, so its first and last story agree exactly when
    all do."""
    order = np.argsort((phrases << _STORY_BITS) | stories)
    ph, st = phrases[order], stories[order]
    starts = np.empty(len(ph), dtype=bool)
    starts[:1] = True
    np.not_equal(ph[1:], ph[:-1], out=starts[1:])
    ends = np.empty(len(ph), dtype=bool)
    ends[-1:] = True
    ends[:-1] = starts[1:]
    group = np.cumsum(starts) - 1  # each sorted row's phrase group
    out = np.empty(len(ph), dtype=bool)
    out[order] = (st[starts] == st[ends])[group]
    return out
