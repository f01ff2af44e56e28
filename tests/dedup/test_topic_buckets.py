"""A topic's name bucket stops growing once it is known to be a topic, and nothing any post
is assigned changes (workers/commit.lua: only a bucket's size is ever asked of a topic)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from tests.dedup.test_memory import PER_PAGE, _post, _process
from workers import pipeline
from workers.dedup.stories import RARE_NAME_MAX
from workers.pipeline import DocumentProcessor

pytestmark = pytest.mark.redis


def _run(conn, settings) -> tuple[list[bytes], dict[bytes, int], dict[str, str]]:
    """(every event published, the size of every name bucket, the counters) for one corpus."""
    conn.flushdb()
    rng = random.Random(11)
    start = datetime(2025, 3, 2, tzinfo=timezone.utc)
    _process(DocumentProcessor(conn, settings), [_post(rng, n, start + timedelta(minutes=n)) for n in range(400)])
    events = [fields[b"event"] for _, fields in conn.xrange("liveblog:events")]
    sizes = {key: conn.scard(key) for key in conn.scan_iter("liveblog:lsh:n:*", count=5000)}
    return events, sizes, {k.decode(): v.decode() for k, v in conn.hgetall("liveblog:stats").items()}


def test_a_topic_bucket_is_no_longer_added_to_and_every_event_is_the_same(conn, settings, monkeypatch):
    events, sizes, counters = _run(conn, settings)
    monkeypatch.setattr(pipeline, "topic_buckets", lambda written, members: frozenset())  # added to, as before
    events_before, sizes_before, counters_before = _run(conn, settings)

    assert events == events_before and counters == counters_before
    assert len(events) == 400
    assert sizes.keys() == sizes_before.keys()
    capped = {key for key in sizes if sizes[key] != sizes_before[key]}
    assert capped, "the corpus names some places and amounts on many of its posts"
    # a topic's set stops at what the document that made it one left (at most a page more);
    # every other name bucket is written exactly as before
    assert all(RARE_NAME_MAX < sizes[key] < sizes_before[key] and sizes[key] <= RARE_NAME_MAX + PER_PAGE
               for key in capped)
    assert sum(sizes.values()) < sum(sizes_before.values())
