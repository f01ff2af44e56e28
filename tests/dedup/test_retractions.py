"""Retraction rule: only posts strictly inside the snapshot's span, not seen since."""

from __future__ import annotations

from workers.dedup.retractions import Known, missing, span

FETCHED = 10_000


def known(key: str, published: int, *, seen: int = 5_000, rev: int = 1, retracted: bool = False) -> Known:
    return Known(key, published, seen, rev, retracted)


def test_post_missing_between_older_and_newer_posts_is_retracted():
    gone = known("b", 200)
    assert missing([known("a", 100), gone, known("c", 300)], {"a", "c"}, span([100, 300]), FETCHED) == [gone]


def test_post_older_than_the_oldest_shown_scrolled_off_and_is_not_retracted():
    assert missing([known("old", 50)], {"a", "c"}, span([100, 300]), FETCHED) == []


def test_post_at_the_edge_of_the_span_is_not_retracted():
    assert missing([known("edge", 100)], {"c"}, span([100, 300]), FETCHED) == []


def test_snapshot_older_than_the_last_sighting_retracts_nothing():
    assert missing([known("b", 200, seen=12_000)], {"a", "c"}, span([100, 300]), FETCHED) == []


def test_already_retracted_or_expired_posts_are_skipped():
    posts = [known("x", 200, retracted=True), known("y", 210, rev=0)]
    assert missing(posts, {"a", "c"}, span([100, 300]), FETCHED) == []


def test_a_single_post_snapshot_brackets_nothing():
    assert span([100]) is None
    assert missing([known("b", 200)], {"a"}, None, FETCHED) == []


def test_order_is_by_time_then_key():
    posts = [known("z", 200), known("a", 200), known("m", 150)]
    assert [k.key for k in missing(posts, set(), span([100, 300]), FETCHED)] == ["m", "a", "z"]
