"""Which candidates a new post links to, decided for all candidates at once.

``stories.link`` states the rules for one pair. A live page brings every recent post of
its blog in as a candidate (the recent-posts buckets), so a new post meets a hundred or
more of them and asking ``link`` pair by pair costs milliseconds of Python per post. Here
the rules that compare numbers (similarity, time, follow-up evidence) run as numpy array
operations over every candidate; the rules that compare anchors and rare names run in
Python only for the few candidates that share one; and ``link`` itself is asked only for
the chosen candidate, to name its rule. The decision is the one ``link`` + ``best`` would
make pair by pair (tests/dedup/test_candidates.py holds the two side by side).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workers.dedup import signature as sigmod
from workers.dedup.stories import (
    FOLLOWUP_EVIDENCE_MIN, FOLLOWUP_WINDOW_MS, SENTENCE_EVIDENCE_MAX, Features, Link, link,
)

_EMPTY = np.zeros(0, dtype=np.int64)


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
    if not cands:
        return None
    feats = [c[1] for c in cands]
    scores = np.count_nonzero(np.stack([f.sig for f in feats]) == new.sig, axis=1) / sigmod.NUM_PERM
    dt = np.abs(np.fromiter((f.published_ms for f in feats), dtype=np.int64, count=len(feats)) - new.published_ms)
    repeat = scores >= repeat_min
    story = ~repeat & (dt <= story_window_ms)
    linked = repeat | (story & (scores >= story_min))
    open_ = np.flatnonzero(story & ~linked)
    computed: list[np.ndarray] = []

    def evidence() -> np.ndarray:
        if not computed:
            computed.append(_evidence(new, cands, rare))
        return computed[0]

    if len(open_):
        anchors = frozenset(a for a in new.anchors if a[:2] in ("q:", "t:"))
        for i in open_.tolist():
            old = feats[i]
            if (anchors and not anchors.isdisjoint(old.anchors)) or (rare and not rare.isdisjoint(old.names)):
                # shared-quote, same-headline or shared-names may apply: the pair rules decide
                linked[i] = link(new, old, repeat_min=repeat_min, story_min=story_min,
                                 story_window_ms=story_window_ms, rare=rare, score=float(scores[i]),
                                 evidence=lambda i=i: int(evidence()[i])) is not None
            elif dt[i] <= FOLLOWUP_WINDOW_MS:
                linked[i] = evidence()[i] >= FOLLOWUP_EVIDENCE_MIN
    hits = np.flatnonzero(linked)
    if not len(hits):
        return None
    # best(): repeats first, then the higher score, then the smaller ref
    i = min(hits.tolist(), key=lambda j: (not repeat[j], -scores[j], cands[j][0]))
    ref, old, _ = cands[i]
    found = link(new, old, repeat_min=repeat_min, story_min=story_min, story_window_ms=story_window_ms,
                 rare=rare, score=float(scores[i]), evidence=lambda: int(evidence()[i]))
    assert found is not None, "choose() and link() disagree"
    return found, ref


def _evidence(new: Features, cands: Sequence[tuple[str, Features, str]], rare: frozenset[str]) -> np.ndarray:
    """stories.followup_evidence of ``new`` with every candidate, as one array.

    Phrases: the new post's phrase hashes each candidate carries, kept only where no
    candidate of another story (within FOLLOWUP_WINDOW_MS) carries them too, at most
    SENTENCE_EVIDENCE_MAX per sentence of the new post (a phrase belongs to the first
    sentence holding it). Names: the rare entity ids and amounts shared, on the same terms.
    """
    n = len(cands)
    out = np.zeros(n, dtype=np.int64)
    near = [i for i, (_, f, _) in enumerate(cands) if abs(new.published_ms - f.published_ms) <= FOLLOWUP_WINDOW_MS]
    if not near:
        return out
    stories = {s: k for k, s in enumerate(sorted({cands[i][2] for i in near}))}
    mine, first = new.phrase_index
    if len(mine):
        arrays = [cands[i][1].phrase_array for i in near]
        sizes = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
        phrases = np.concatenate(arrays) if arrays else _EMPTY
        owner = np.repeat(np.asarray(near, dtype=np.int64), sizes)
        story = np.repeat(np.fromiter((stories[cands[i][2]] for i in near), dtype=np.int64, count=len(near)), sizes)
        at = np.searchsorted(mine, phrases)
        at[at == len(mine)] = 0
        shared = mine[at] == phrases
        phrases, owner, story, at = phrases[shared], owner[shared], story[shared], at[shared]
        if len(phrases):
            # a phrase is exclusive when every candidate carrying it is of one story
            pairs = np.unique((phrases.astype(np.int64) << 20) | story)
            per_phrase, counts = np.unique(pairs >> 20, return_counts=True)
            exclusive = np.isin(phrases, per_phrase[counts == 1])
            owner, at = owner[exclusive], at[exclusive]
            sentences = int(first.max()) + 1
            per_sentence = np.bincount(owner * sentences + first[at], minlength=n * sentences)
            out += np.minimum(per_sentence, SENTENCE_EVIDENCE_MAX).reshape(n, sentences).sum(axis=1)
    names = new.strong & rare
    if names:
        carriers: dict[str, set[str]] = {}
        for i in near:
            for key in names & cands[i][1].strong:
                carriers.setdefault(key, set()).add(cands[i][2])
        for i in near:
            story_id = cands[i][2]
            out[i] += sum(1 for key in names & cands[i][1].strong if carriers[key] == {story_id})
    return out
