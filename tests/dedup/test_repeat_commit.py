"""Repeats, stories and retractions through the real commit script on a private redis-server."""

from __future__ import annotations

import json

import pytest

from liveblog import stats as stats_mod
from tests.dedup.pages import FLOOD, OTHER_FLOOD, filler, page, post, repost_intro
from tests.helpers import PlainEnricher, counters, stream_events
from workers.pipeline import DocumentProcessor

pytestmark = pytest.mark.redis

INTRO = "If you are just joining us, here is how the morning began in Keldby."


@pytest.fixture
def processor(conn, settings):
    return DocumentProcessor(conn, settings, PlainEnricher())


def created(conn) -> dict[str, dict]:
    return {e["data"]["post"]["title"]: e["data"] for e in stream_events(conn) if e["type"].endswith("created")}


def test_repost_with_a_rewritten_intro_is_created_with_repeat_of(processor, conn):
    original = post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD)
    processor.process(page([original], minutes_after=5))
    repost = post("r", 14, "Recap: how the Tessel flooded Keldby", repost_intro(FLOOD, INTRO))
    outcome = processor.process(page([original, repost], minutes_after=5))
    events = created(conn)
    first, again = events[original.title], events[repost.title]
    assert outcome.created == 1 and outcome.repeat == 1
    assert again["repeat_of"] == first["post"]["id"]
    assert again["story_id"] == first["story_id"] == "st-" + first["post"]["id"]
    assert first["repeat_of"] is None
    assert counters(conn)["posts_repeat"] == 1


def test_different_story_on_the_same_topic_gets_its_own_story(processor, conn):
    processor.process(page([post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD),
                            post("f", 7, "Family of five rescued from Sallow End farmhouse", OTHER_FLOOD)],
                           minutes_after=5))
    events = created(conn)
    a, b = events["River Tessel bursts its banks at Keldby"], events["Family of five rescued from Sallow End farmhouse"]
    assert a["repeat_of"] is None and b["repeat_of"] is None
    assert a["story_id"] != b["story_id"]


def test_syndicated_copy_in_another_blog_repeats_across_blogs(processor, conn):
    processor.process(page([post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD)], minutes_after=5))
    copy = post("s", 7, "Flooding hits Keldby as Tessel overtops", FLOOD + "\n\nReporting by Northern Wire.",
                blog="coast")
    processor.process(page([copy], minutes_after=5, blog="coast"))
    events = created(conn)
    first, syndicated = events["River Tessel bursts its banks at Keldby"], events[copy.title]
    assert syndicated["blog"]["id"] == "coast"
    assert syndicated["repeat_of"] == first["post"]["id"]
    assert syndicated["story_id"] == first["story_id"]


def test_same_page_telling_a_story_twice_links_the_later_post_to_the_earlier(processor, conn):
    early = post("e", 6, "River Tessel bursts its banks at Keldby", FLOOD)
    late = post("l", 15, "Recap: how the Tessel flooded Keldby", repost_intro(FLOOD, INTRO))
    processor.process(page([early, late], minutes_after=5))
    events = created(conn)
    assert events[late.title]["repeat_of"] == events[early.title]["post"]["id"]


def test_post_removed_from_inside_the_span_is_retracted_once(processor, conn, settings):
    posts = [filler(1, 0), post("gone", 2, "Care home residents moved", OTHER_FLOOD), filler(3, 1)]
    processor.process(page(posts, minutes_after=5))
    outcome = processor.process(page([posts[0], posts[2]], minutes_after=30))
    again = processor.process(page([posts[0], posts[2]], minutes_after=60))
    retracted = [e for e in stream_events(conn) if e["type"] == "liveblog.post.retracted"]
    assert outcome.retracted == 1 and again.retracted == 0 and len(retracted) == 1
    data = retracted[0]["data"]
    assert data["post"]["title"] == "Care home residents moved" and data["post"]["revision"] == 1
    assert data["post"]["body"] == "" and data["post"]["position"] == -1
    assert counters(conn)["posts_retracted"] == 1
    assert stats_mod.collect(conn, settings)["reconciled"]["events"]


def test_post_scrolled_off_the_end_of_the_page_is_not_retracted(processor, conn):
    posts = [post("old", 1, "Care home residents moved", OTHER_FLOOD), filler(2, 0), filler(3, 1), filler(4, 2)]
    processor.process(page(posts, minutes_after=5))
    outcome = processor.process(page(posts[1:], minutes_after=30))  # paginated: the oldest fell off
    assert outcome.retracted == 0
    assert not [e for e in stream_events(conn) if e["type"] == "liveblog.post.retracted"]


def test_retracted_post_that_reappears_is_updated_with_the_next_revision(processor, conn):
    posts = [filler(1, 0), post("back", 2, "Care home residents moved", OTHER_FLOOD), filler(3, 1)]
    processor.process(page(posts, minutes_after=5))
    processor.process(page([posts[0], posts[2]], minutes_after=30))
    outcome = processor.process(page(posts, minutes_after=60))
    last = stream_events(conn)[-1]
    assert outcome.updated == 1
    assert last["type"] == "liveblog.post.updated" and last["data"]["post"]["revision"] == 2


def test_older_snapshot_after_a_retraction_neither_restores_nor_retracts_again(processor, conn):
    posts = [filler(1, 0), post("x", 2, "Care home residents moved", OTHER_FLOOD), filler(3, 1)]
    processor.process(page(posts, minutes_after=5))
    processor.process(page([posts[0], posts[2]], minutes_after=30))
    stale = processor.process(page(posts, minutes_after=10))  # fetched before the retraction
    assert stale.stale == 1 and stale.updated == 0


def test_replaying_the_same_inputs_gives_identical_dedup_events(conn, settings):
    docs = [
        page([post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD), filler(7, 0), filler(8, 1)],
             minutes_after=5),
        page([post("s", 9, "Flooding hits Keldby", FLOOD)], minutes_after=5, blog="coast"),
        page([post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD), filler(8, 1),
              post("r", 14, "Recap", repost_intro(FLOOD, INTRO))], minutes_after=5),
    ]
    runs = []
    for _ in range(2):
        conn.flushall()
        processor = DocumentProcessor(conn, settings, PlainEnricher())
        for d in docs:
            processor.process(d)
        runs.append([json.dumps(e, sort_keys=True) for e in stream_events(conn)])
    assert runs[0] == runs[1]
    assert [json.loads(e)["type"].rsplit(".", 1)[1] for e in runs[0]] == [
        "created", "created", "created", "created", "created", "retracted"]


def test_dedup_state_expires_with_the_window(processor, conn, settings):
    processor.process(page([post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD), filler(7, 0)],
                           minutes_after=5))
    dedup_keys = [k for k in conn.keys("liveblog:*") if b":lsh:" in k or b":story:" in k or k.endswith(b":posts")]
    assert dedup_keys
    for key in dedup_keys:
        assert 0 < conn.ttl(key) <= settings.dedup_window_s


def test_counters_reconcile_with_repeats_and_retractions(processor, conn, settings):
    posts = [filler(1, 0), post("o", 2, "River Tessel bursts its banks at Keldby", FLOOD), filler(3, 1)]
    processor.process(page(posts, minutes_after=5))
    processor.process(page([posts[0], posts[2], post("r", 9, "Recap", repost_intro(FLOOD, INTRO))],
                           minutes_after=5))
    result = stats_mod.collect(conn, settings)
    c = result["counters"]
    assert (c["posts_repeat"], c["posts_retracted"]) == (1, 1)
    assert result["reconciled"]["posts"] and result["reconciled"]["events"]
    assert c["events_published"] == conn.xlen("liveblog:events")


def test_features_a_worker_holds_for_its_own_commits_are_what_a_fresh_read_gives(processor, conn):
    """The candidate cache is filled two ways: by reads, and by the worker's own commits.
    Both must be exactly what the index stores, or a worker with a warm cache would decide
    stories differently from a fresh one (and a replay would not repeat its output)."""
    from workers.dedup.index import IndexReader, ref

    first = post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD)
    second = post("p", 9, "Ferry services suspended on the Tessel estuary", OTHER_FLOOD)
    processor.process(page([first], minutes_after=5))  # commits first: held from the commit
    processor.process(page([first, second], minutes_after=5))  # reads first back, commits second
    keys = processor.committer.keys
    post_ids = [m.decode() for m in conn.zrange(keys.post_index("valley"), 0, -1)]
    assert len(post_ids) == 2
    read = IndexReader(conn, keys).posts({ref("valley", p) for p in post_ids})  # an empty cache
    assert len(read) == 2
    for post_id in post_ids:
        key = keys.post("valley", post_id)
        content_hash, held = processor.index.cache.get(key)
        stored = read[ref("valley", post_id)].features
        assert content_hash == conn.hget(key, "hash").decode()
        assert (held.sig == stored.sig).all() and held.sig.dtype == stored.sig.dtype
        assert (held.anchors, held.names, held.published_ms, held.sentences, held.blog) == (
            stored.anchors, stored.names, stored.published_ms, (), "")


def test_a_page_replayed_long_after_it_was_written_still_retracts_what_it_lost(processor, conn, settings):
    # fetched a month after its posts (an archive run, a backfill): the index is kept from the
    # page's own newest post, not from the clock, so the later snapshot still retracts
    late = (settings.dedup_window_s + 30 * 86400) / 60
    posts = [filler(1, 0), post("gone", 2, "Care home residents moved", OTHER_FLOOD), filler(3, 1)]
    processor.process(page(posts, minutes_after=late))
    outcome = processor.process(page([posts[0], posts[2]], minutes_after=late + 30))
    assert outcome.retracted == 1
    assert [e["data"]["post"]["title"] for e in stream_events(conn) if e["type"] == "liveblog.post.retracted"] \
        == ["Care home residents moved"]
    index = processor.committer.keys.post_index("valley")
    assert conn.zcard(index) == 3  # all three posts indexed, none pruned by the fetch time


def test_the_index_is_still_cut_one_window_before_the_newest_post(processor, conn, settings):
    window_h = settings.dedup_window_s / 3600
    old = post("old", 0, "Care home residents moved", OTHER_FLOOD)
    processor.process(page([old, filler(1, 0)], minutes_after=5))
    processor.process(page([filler(window_h + 2, 1), filler(window_h + 3, 2)], minutes_after=5))
    index = processor.committer.keys.post_index("valley")
    assert conn.zcard(index) == 2  # the two posts older than a window before the newest are gone
