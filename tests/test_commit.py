"""The atomic commit against a real redis-server: created / duplicate / updated / stale, retries, races."""

from __future__ import annotations

import json

import pytest

from schemas.keys import Keys
from workers.pipeline import DocumentProcessor
from tests.helpers import STORM, PlainEnricher, doc, stream_events

pytestmark = pytest.mark.redis


@pytest.fixture
def processor(conn, settings):
    return DocumentProcessor(conn, settings, PlainEnricher())


def test_first_poll_creates_every_post_once(processor, conn):
    outcome = processor.process(doc(STORM.read_bytes()))
    events = stream_events(conn)
    assert outcome.created == 22 and len(events) == 22
    assert {e["type"] for e in events} == {"liveblog.post.created"}
    assert len({e["data"]["post"]["id"] for e in events}) == 22
    assert all(e["data"]["post"]["revision"] == 1 for e in events)
    assert conn.xlen(Keys().blog_events("storm")) == 22


def test_repolled_unchanged_page_publishes_nothing_and_counts_duplicates(processor, conn):
    processor.process(doc(STORM.read_bytes()))
    outcome = processor.process(doc(STORM.read_bytes(), minutes=1))
    assert (outcome.created, outcome.updated, outcome.duplicate) == (0, 0, 22)
    assert conn.xlen("liveblog:events") == 22
    stats = {k.decode(): int(v) for k, v in conn.hgetall("liveblog:stats").items()}
    assert stats["posts_duplicate"] == 22 and stats["events_published"] == 22


def test_edited_post_publishes_one_update_naming_what_changed(processor, conn):
    processor.process(doc(STORM.read_bytes()))
    edited = STORM.read_bytes().replace(b"Two mountain rescue teams", b"Three mountain rescue teams")
    outcome = processor.process(doc(edited, minutes=5))
    assert (outcome.created, outcome.updated, outcome.duplicate) == (0, 1, 21)
    update = stream_events(conn)[-1]
    assert update["type"] == "liveblog.post.updated"
    assert update["data"]["post"]["revision"] == 2
    assert update["data"]["changes"] == ["body"]
    assert update["data"]["post"]["body"].startswith("Three mountain rescue teams")
    assert update["data"]["post"]["updated_at"] == "2024-10-13T12:05:00Z"


def test_quote_and_spacing_changes_are_not_edits(processor, conn):
    processor.process(doc(STORM.read_bytes()))
    rerendered = STORM.read_bytes().replace("’".encode(), b"'").replace(b". ", b".  ")
    outcome = processor.process(doc(rerendered, minutes=5))
    assert outcome.updated == 0 and outcome.duplicate == 22


def test_older_snapshot_after_newer_never_rolls_back(processor, conn):
    original = STORM.read_bytes()
    edited = original.replace(b"Two mountain rescue teams", b"Three mountain rescue teams")
    processor.process(doc(original, minutes=0))
    processor.process(doc(edited, minutes=10))
    outcome = processor.process(doc(original, minutes=5))  # fetched before the edit, processed after it
    assert outcome.stale == 1 and outcome.updated == 0
    bodies = [e["data"]["post"]["body"] for e in stream_events(conn) if e["type"] == "liveblog.post.updated"]
    assert len(bodies) == 1 and bodies[0].startswith("Three")


def test_retried_document_is_a_no_op_after_its_commit(processor, conn):
    document = doc(STORM.read_bytes())
    processor.process(document)
    again = processor.process(document)
    assert again.status == "already-done"
    assert conn.xlen("liveblog:events") == 22
    assert int(conn.hget("liveblog:stats", "documents_processed")) == 1


def test_commit_refuses_a_plan_made_stale_by_another_worker(processor, conn, settings):
    """Two workers pre-check the same new post; the second commit must not publish it again."""
    document = doc(STORM.read_bytes())
    other = doc(STORM.read_bytes(), minutes=1)
    committer = processor.committer
    real_read = committer.read
    calls = {"n": 0}

    def read_then_race(keys):
        stored = real_read(keys)
        calls["n"] += 1
        if calls["n"] == 1:  # another worker commits between our pre-check and our commit
            DocumentProcessor(conn, settings, PlainEnricher()).process(other)
        return stored

    committer.read = read_then_race
    outcome = processor.process(document)
    assert outcome.commit_attempts == 2
    assert outcome.created == 0 and outcome.duplicate == 22  # same content, already committed by the other
    assert conn.xlen("liveblog:events") == 22


def test_replaying_the_same_inputs_gives_identical_events(conn, settings, redis_url):
    original = STORM.read_bytes()
    edited = original.replace(b"Two mountain rescue teams", b"Three mountain rescue teams")
    runs = []
    for _ in range(2):
        conn.flushall()
        processor = DocumentProcessor(conn, settings, PlainEnricher())
        for i, data in enumerate([original, edited, original]):
            processor.process(doc(data, minutes=i))
        runs.append([json.dumps(e, sort_keys=True) for e in stream_events(conn)])
    assert runs[0] == runs[1]
    assert len(runs[0]) == 24  # 22 created, the edit, and the later revert of the edit
