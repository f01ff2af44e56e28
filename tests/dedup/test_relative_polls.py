"""A post dated by a relative stamp ("2 hours ago") seen again on the next poll: its computed time
moves with the fetch, and that must not make an 'updated' event or a new post."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from schemas.documents import ParseOptions, RawDocument
from schemas.settings import Settings
from tests.helpers import PlainEnricher, stream_events
from workers.pipeline import DocumentProcessor

T0 = datetime(2025, 10, 12, 15, 0, 20, tzinfo=timezone.utc)

TEXT = """Storm live

Trees down on the coast road
{a}
Crews are clearing the A39 near Porlock.

Ferry cancelled
{b}
The 14:30 sailing will not run, the operator says.
"""

HTML = """<html><body><h1>Storm live</h1>
<article class="post" id="p2"><h2>Trees down on the coast road</h2><time>{a}</time>
<p>Crews are clearing the A39 near Porlock.</p></article>
<article class="post" id="p1"><h2>Ferry cancelled</h2><time>{b}</time>
<p>The 14:30 sailing will not run, the operator says.</p></article>
</body></html>"""


def poll(page: str, minutes: float, **stamps: str) -> RawDocument:
    return RawDocument.from_bytes(page.format(**stamps).encode(), blog_id="storm", source="https://example.test/live",
                                  fetched_at=T0 + timedelta(minutes=minutes), options=ParseOptions(tz="Europe/London"))


@pytest.mark.parametrize("page", [TEXT, HTML], ids=["text, no post ids", "html, post ids"])
def test_two_polls_three_minutes_apart_publish_each_post_once(fake_conn, page) -> None:
    processor = DocumentProcessor(fake_conn, Settings(), PlainEnricher())
    first = processor.process(poll(page, 0, a="5 minutes ago", b="2 hours ago"))
    # three minutes later the page says "8 minutes ago" and still "2 hours ago": 13:03, not 13:00
    second = processor.process(poll(page, 3, a="8 minutes ago", b="2 hours ago"))
    assert (first.created, first.updated) == (2, 0)
    assert (second.created, second.updated, second.duplicate, second.retracted) == (0, 0, 2, 0)
    published = {e["data"]["post"]["title"]: e["data"]["post"]["published_at"] for e in stream_events(fake_conn)}
    assert published == {"Trees down on the coast road": "2025-10-12T14:55:00Z", "Ferry cancelled": "2025-10-12T13:00:00Z"}


def test_a_relative_post_that_is_edited_keeps_its_first_seen_time(fake_conn) -> None:
    processor = DocumentProcessor(fake_conn, Settings(), PlainEnricher())
    processor.process(poll(HTML, 0, a="5 minutes ago", b="2 hours ago"))
    edited = HTML.replace("will not run", "is cancelled")
    outcome = processor.process(poll(edited, 3, a="8 minutes ago", b="2 hours ago"))
    assert (outcome.updated, outcome.duplicate) == (1, 1)
    update = [e for e in stream_events(fake_conn) if e["type"] == "liveblog.post.updated"][0]["data"]
    assert update["changes"] == ["body"]
    assert update["post"]["published_at"] == "2025-10-12T13:00:00Z"


def test_a_relative_time_that_moves_by_more_than_its_unit_is_an_update(fake_conn) -> None:
    # the page's time really changed (an editor re-dated the post): "2 hours ago" became "5 hours ago"
    processor = DocumentProcessor(fake_conn, Settings(), PlainEnricher())
    processor.process(poll(HTML, 0, a="5 minutes ago", b="2 hours ago"))
    outcome = processor.process(poll(HTML, 3, a="8 minutes ago", b="5 hours ago"))
    assert (outcome.updated, outcome.duplicate) == (1, 1)
    update = [e for e in stream_events(fake_conn) if e["type"] == "liveblog.post.updated"][0]["data"]
    assert update["changes"] == ["time"]
