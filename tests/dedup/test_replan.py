"""A re-plan after a conflict keeps what did not move, and decides what did as a fresh plan would.

When another worker's commit lands between a document's read and its commit, the commit
script refuses and the worker plans again (workers/commit.lua). The re-plan reads again only
the near-duplicate buckets the script re-checks, reads only the candidates they newly hold,
and keeps the assignment of every post whose candidates and rare names did not change
(index.assign's memo). These tests hold it to the plain rule: the events are the ones the
same documents give processed one after the other, in the order the commits landed.
"""

from __future__ import annotations

import json

import pytest

from schemas.keys import Keys
from tests.dedup.pages import FILLER, FLOOD, OTHER_FLOOD, page, post, repost_intro
from tests.helpers import PlainEnricher, stream_events
from workers.dedup import index
from workers.pipeline import DocumentProcessor

pytestmark = pytest.mark.redis


def _documents():
    """The valley page (an original and unrelated posts), and the coast page: a copy of the
    original among posts of its own."""
    valley = page([post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD),
                   post("v1", 6.5, "Farm family lifted to safety at Sallow End", OTHER_FLOOD)], minutes_after=5)
    coast = page([post("c1", 5, "Harbour notice for the coast road", FILLER[0] + " " + FILLER[2], blog="coast"),
                  post("c2", 5.5, "Library hours on the coast", FILLER[1], blog="coast"),
                  post("s", 6.2, "Flooding hits Keldby as Tessel overtops",
                       repost_intro(FLOOD, "Flood water reached Keldby's streets before dawn."), blog="coast")],
                 minutes_after=5, blog="coast")
    return valley, coast


def _created(conn) -> dict[str, dict]:
    return {e["data"]["post"]["id"]: e for e in stream_events(conn) if e["type"] == "liveblog.post.created"}


def test_a_re_planned_document_publishes_what_the_serial_order_publishes(conn, settings, monkeypatch):
    valley, coast = _documents()
    # serial: the valley page commits first, then the coast page
    DocumentProcessor(conn, settings, PlainEnricher()).process(valley)
    DocumentProcessor(conn, settings, PlainEnricher()).process(coast)
    serial = _created(conn)
    conn.flushdb()

    # raced: the coast page reads the index, the valley page commits, the coast page commits
    racing, other = DocumentProcessor(conn, settings, PlainEnricher()), DocumentProcessor(conn, settings, PlainEnricher())
    real_commit, compared = racing.committer.commit, [0]  # posts compared, per plan of the coast page
    counting = [True]

    def commit_after_the_other(**kwargs):
        if len(compared) == 1:
            counting[0] = False
            other.process(valley)
            counting[0] = True
        compared.append(0)
        return real_commit(**kwargs)

    real_choose = index.choose_in

    def counted(*args, **kwargs):
        if counting[0]:
            compared[-1] += 1
        return real_choose(*args, **kwargs)

    monkeypatch.setattr(racing.committer, "commit", commit_after_the_other)
    monkeypatch.setattr(index, "choose_in", counted)
    outcome = racing.process(coast)
    raced = _created(conn)

    assert outcome.commit_attempts == 2 and outcome.created == 3
    assert raced.keys() == serial.keys()
    for post_id, event in serial.items():
        assert json.dumps(raced[post_id], sort_keys=True) == json.dumps(event, sort_keys=True), post_id
    by_title = {e["data"]["post"]["title"]: e["data"] for e in raced.values()}
    original, copy = by_title["River Tessel bursts its banks at Keldby"], by_title["Flooding hits Keldby as Tessel overtops"]
    assert copy["repeat_of"] == original["post"]["id"]  # the re-plan found the original the other worker wrote
    # the first plan compared each of the coast page's 3 posts; the re-plan only the copy,
    # whose buckets the valley page wrote (compared[2]: after the second commit, none)
    assert compared == [3, 1, 0], compared


def test_assign_keeps_a_decision_whose_inputs_did_not_move_and_redoes_one_whose_did(settings):
    """index.assign with a memo, called again: nothing changed, nothing is compared; a new
    candidate in the last post's bucket, only that post is compared again; the original of
    the first post, written into its buckets, every post is (the later ones have the first
    among their candidates, and its story moved) - and each result is what assign gives
    without a memo."""
    from workers.dedup.index import Indexed, NewPost, assign, bucket_keys, is_near_bucket, ref
    from workers.dedup.stories import dedup_features

    keys = Keys()
    texts = [("Flooding hits Keldby as Tessel overtops", repost_intro(FLOOD, "Water reached Keldby before dawn.")),
             ("Farm family lifted to safety at Sallow End", OTHER_FLOOD),
             ("Library hours on the coast", FILLER[1])]
    new = [NewPost(ref("coast", f"p{i}"), f"p{i}", dedup_features(t, b, 1_000_000 + i, "coast"), (1_000_000 + i, 0))
           for i, (t, b) in enumerate(texts)]
    members = {k: set() for p in new for k in bucket_keys(p.features, keys)}
    rules = dict(repeat_min=settings.repeat_similarity_min, story_min=settings.story_similarity_min,
                 story_window_ms=settings.story_window_s * 1000)
    calls: list = []
    real_choose = index.choose_in

    def counted(*args, **kwargs):
        calls.append(args[1])
        return real_choose(*args, **kwargs)

    def again(members, known):
        calls.clear()
        index.choose_in = counted
        try:
            return assign(new, members, known, keys, **rules, memo=memo)
        finally:
            index.choose_in = real_choose

    memo: dict = {}
    first = assign(new, members, {}, keys, **rules, memo=memo)
    assert again(members, {}) == first and calls == []

    # an unrelated post lands in a band bucket of the last post only
    others = {k for p in new[:2] for k in bucket_keys(p.features, keys)}
    lone = next(k for k in bucket_keys(new[2].features, keys) if is_near_bucket(k) and k not in others)
    unrelated = dedup_features("Harbour notice for the coast road", FILLER[0], 990_000, "harbour")
    known = {"harbour|x": Indexed("harbour|x", "x", unrelated, "story-x", "x")}
    grown = {k: (v | {"harbour|x"} if k == lone else v) for k, v in members.items()}
    assert again(grown, known) == assign(new, grown, known, keys, **rules) == first
    assert len(calls) == 1 and calls[0] is new[2].features

    # the original of the first post lands in its band buckets: the first post becomes a repeat
    original = dedup_features("River Tessel bursts its banks at Keldby", FLOOD, 999_000, "valley")
    known = {**known, "valley|o": Indexed("valley|o", "o", original, "story-o", "o")}
    shared = {k for k in bucket_keys(original, keys) if k in members and is_near_bucket(k)}
    assert shared
    grown = {k: (v | {"valley|o"} if k in shared else v) for k, v in grown.items()}
    decided = again(grown, known)
    assert decided == assign(new, grown, known, keys, **rules)  # what a plan from scratch decides
    assert decided[new[0].ref].repeat_root == "o" and decided[new[0].ref] != first[new[0].ref]
    assert [f is p.features for f, p in zip(calls, new)] == [True, True, True]
