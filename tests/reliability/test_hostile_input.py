"""Hostile documents through the real job path: each ends as posts within the documented
limits or as a dead letter with a clear reason, and the worker keeps serving."""

from __future__ import annotations

import json

import pytest

from schemas.documents import ParseOptions, RawDocument
from tests.helpers import STORM, PlainEnricher, big_page, counters, doc, stream_events
from workers import runtime
from workers.jobs import DEAD_LETTER_RAW_MAX_CHARS, handle

pytestmark = [pytest.mark.redis, pytest.mark.reliability]


@pytest.fixture
def run(conn, settings):
    runtime.configure(settings, PlainEnricher())
    yield lambda raw: handle(conn, raw.encode() if isinstance(raw, RawDocument) else raw)
    runtime.configure(settings)


def letter(conn) -> dict[str, str]:
    _, fields = conn.xrevrange("liveblog:deadletter", count=1)[0]
    return {k.decode(): v.decode() for k, v in fields.items()}


def test_a_50_mb_document_is_dead_lettered_with_its_size_and_a_bounded_raw_copy(conn, run):
    result = run(doc(b"Lorem ipsum dolor sit amet. " * 1_900_000, blog_id="huge"))
    assert result["status"] == "dead-lettered" and result["reason"] == "document too large"
    entry = letter(conn)
    assert entry["expected"] == "at most 20,000,000 characters" and entry["found"] == "53,200,000"
    assert entry["raw_truncated"] == "true" and len(entry["raw"]) == DEAD_LETTER_RAW_MAX_CHARS
    assert int(entry["raw_chars"]) > 53_200_000 and len(entry["raw_sha256"]) == 64


def test_a_page_of_100000_posts_is_refused_before_it_is_built(conn, run):
    result = run(doc(big_page(100_000, paragraph_words=3).encode(), blog_id="flood"))
    assert result["reason"] == "too many posts"
    assert letter(conn)["found"] == "100,000 stamp lines"


def test_100000_deep_json_is_rejected_not_a_recursion_crash(conn, run):
    result = run(doc(b"[" * 100_000 + b"]" * 100_000, blog_id="deep"))
    assert result["status"] == "dead-lettered"
    assert letter(conn)["blog_id"] == "deep"


def test_numbers_with_thousands_of_digits_and_nan_are_text_not_crashes(conn, run):
    page = STORM.read_text().replace("Gusts of 58mph", "Gusts of " + "9" * 5000 + "mph NaN inf")
    result = run(doc(page.encode(), blog_id="digits"))
    assert result["status"] == "committed" and result["created"] == 22


def test_json_feed_with_nan_and_year_9999_times_keeps_only_valid_items(conn, run):
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "Odd feed", "items": [
        {"id": "a", "title": "Year 9999", "content_text": "far future", "date_published": "9999-12-31T23:59:59Z"},
        {"id": "b", "title": "Good item", "content_text": "a real post", "date_published": "2024-05-01T10:00:00Z"},
    ]}
    text = json.dumps(feed).replace('"far future"', "NaN")
    result = run(RawDocument.from_bytes(text.encode(), blog_id="odd", source="odd.json",
                                        fetched_at=doc(b"x").fetched_at, options=ParseOptions()))
    assert result["status"] in {"committed", "dead-lettered"}
    if result["status"] == "committed":
        titles = [e["data"]["post"]["title"] for e in stream_events(conn)]
        assert "Good item" in titles


def test_script_tags_and_event_handlers_are_stored_as_inert_text(conn, run):
    page = STORM.read_text().replace(
        "Forecasters expect gusts", '<script>alert(1)</script><img src=x onerror="steal()"> Forecasters expect gusts'
    )
    assert run(doc(page.encode(), blog_id="xss"))["status"] == "committed"
    bodies = " ".join(e["data"]["post"]["body"] for e in stream_events(conn))
    assert "<script>alert(1)</script>" in bodies  # kept verbatim as text, never interpreted here


def test_the_worker_keeps_serving_after_every_hostile_document(conn, run):
    for payload in ([1, 2, 3], "just a string", {"document_id": 5}, None, {"body": "\udcff"}):
        assert run(payload)["status"] == "dead-lettered"
    assert run(doc(STORM.read_bytes()))["created"] == 22
    assert counters(conn)["documents_dead_lettered"] == 5


def test_a_2_mb_document_that_fails_keeps_its_whole_raw_input_in_the_dead_letter(conn, run):
    # within the parsers' size limit but not a live blog: the dead letter must hold all of it to requeue
    body = "12:31\nTitle\n" + "1:" * 1_000_000
    result = run(doc(body.encode(), blog_id="colons"))
    assert result["status"] == "dead-lettered"
    entry = letter(conn)
    assert "raw_truncated" not in entry and json.loads(entry["raw"])["body"] == body


def test_a_2_mb_binary_document_keeps_its_whole_raw_input_too(conn, run):
    data = b"\xff" + b"\x00\x01" * 1_000_000
    result = run(doc(data, blog_id="binary"))
    assert result["status"] == "dead-lettered" and result["reason"] == "invalid UTF-8"
    entry = letter(conn)
    assert "raw_truncated" not in entry
    assert RawDocument.model_validate(json.loads(entry["raw"])).raw_bytes() == data
