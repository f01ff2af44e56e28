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


def the_one_update(outcome, conn, *, duplicates: int, changes: list[str]) -> dict:
    """The document re-polled after one edit: nothing created, one post updated, the rest
    duplicates; its event is the stream's last, revision 2, naming exactly ``changes``."""
    assert (outcome.created, outcome.updated, outcome.duplicate) == (0, 1, duplicates)
    update = stream_events(conn)[-1]
    assert update["type"] == "liveblog.post.updated"
    assert update["data"]["post"]["revision"] == 2
    assert update["data"]["changes"] == changes
    return update


def test_edited_post_publishes_one_update_naming_what_changed(processor, conn):
    processor.process(doc(STORM.read_bytes()))
    edited = STORM.read_bytes().replace(b"Two mountain rescue teams", b"Three mountain rescue teams")
    outcome = processor.process(doc(edited, minutes=5))
    update = the_one_update(outcome, conn, duplicates=21, changes=["body"])
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
    real_read = committer.pre_read
    calls = {"n": 0}

    def read_then_race(*args):
        stored = real_read(*args)
        calls["n"] += 1
        if calls["n"] == 1:  # another worker commits between our pre-check and our commit
            DocumentProcessor(conn, settings, PlainEnricher()).process(other)
        return stored

    committer.pre_read = read_then_race
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


# --- trivial re-renders of links are not edits; a real change of target is -----------------

LINKED = "Two mountain rescue teams (see https://news.example/rescue?id=123{track}) were"


def _with_link(track: str = "", target: str = "123") -> bytes:
    sentence = LINKED.replace("123", target).format(track=track)
    return STORM.read_bytes().replace(b"Two mountain rescue teams were", sentence.encode())


def test_a_link_whose_only_change_is_tracking_parameters_is_a_duplicate(processor, conn):
    processor.process(doc(_with_link("&utm_source=tw&utm_medium=social")))
    outcome = processor.process(doc(_with_link("&utm_source=fb&fbclid=IwAR0xyz"), minutes=5))
    assert (outcome.created, outcome.updated, outcome.duplicate) == (0, 0, 22)
    outcome = processor.process(doc(_with_link(), minutes=10))  # the trackers gone altogether
    assert (outcome.updated, outcome.duplicate) == (0, 22)
    assert conn.xlen("liveblog:events") == 22
    first = [e for e in stream_events(conn) if "news.example" in e["data"]["post"]["body"]]
    assert len(first) == 1  # the text published is the text as written, trackers included
    assert "https://news.example/rescue?id=123&utm_source=tw&utm_medium=social)" in first[0]["data"]["post"]["body"]


def test_a_link_whose_id_parameter_changes_is_an_update(processor, conn):
    processor.process(doc(_with_link("&utm_source=tw")))
    outcome = processor.process(doc(_with_link("&utm_source=tw", target="124"), minutes=5))
    update = the_one_update(outcome, conn, duplicates=21, changes=["body"])
    assert "https://news.example/rescue?id=124&utm_source=tw)" in update["data"]["post"]["body"]


# --- each field an update can name, changed alone ----------------------------------------------


def _feed(*, title: str = "Course record falls", time: str = "2025-10-19T10:49:00-04:00",
          author: str = "Felix Baptiste", href: str = "https://lakeshore.example/sport/records") -> bytes:
    """A JSON Feed (items carry ids, so a new title or time is an edit of the same post)."""
    return json.dumps({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Lakeshore Marathon: live",
        "items": [
            {"id": "p2", "title": title, "date_published": time, "authors": [{"name": author}],
             "content_html": "<p>Amara Kiplagat-Moore took 41 seconds off the course record.</p>"
                             f'<p><a href="{href}">All the Lakeshore course records</a></p>'},
            {"id": "p1", "title": "Leaders through halfway", "date_published": "2025-10-19T09:12:00-04:00",
             "content_text": "The lead pack of six went through halfway in 1:03:10."},
        ],
    }).encode()


@pytest.mark.parametrize(
    ("field", "edit"),
    [
        ("title", {"title": "Course record falls in the women's race"}),
        ("time", {"time": "2025-10-19T10:51:00-04:00"}),
        ("author", {"author": "Hana Sato"}),
    ],
)
def test_an_update_names_exactly_the_field_that_changed(processor, conn, field, edit):
    first = processor.process(doc(_feed(), blog_id="marathon"))
    assert first.created == 2
    outcome = processor.process(doc(_feed(**edit), minutes=5, blog_id="marathon"))
    the_one_update(outcome, conn, duplicates=1, changes=[field])


def test_an_author_change_in_a_text_page_is_an_update_of_the_author_only(processor, conn):
    processor.process(doc(STORM.read_bytes()))
    edited = STORM.read_bytes().replace(b"11:20 , Daniel Okoro", b"11:20 , Daniel Okoro and Mira Quell")
    outcome = processor.process(doc(edited, minutes=5))
    the_one_update(outcome, conn, duplicates=21, changes=["author"])


def test_a_related_link_whose_only_change_is_tracking_parameters_is_a_duplicate(processor, conn):
    processor.process(doc(_feed(href="https://lakeshore.example/sport/records?utm_source=tw"), blog_id="marathon"))
    outcome = processor.process(doc(_feed(href="https://lakeshore.example/sport/records?utm_source=fb&gclid=x1"),
                                    minutes=5, blog_id="marathon"))
    assert (outcome.created, outcome.updated, outcome.duplicate) == (0, 0, 2)


def test_pre_read_is_the_post_read_the_span_entries_and_the_subscriptions_version_in_one_call(processor, conn):
    processor.process(doc(STORM.read_bytes()))
    committer, keys = processor.committer, Keys()
    index_key = keys.post_index("storm")
    post_keys = [keys.post("storm", m.decode()) for m in conn.zrange(index_key, 0, -1)] + [keys.post("storm", "nope")]
    scored = conn.zrange(index_key, 0, -1, withscores=True)
    lo, hi = int(scored[2][1]), int(scored[-3][1])
    sent = []
    real_execute = committer.redis.execute_command

    def counted(*args, **kwargs):
        sent.append(args[0])
        return real_execute(*args, **kwargs)

    committer.redis.execute_command = counted
    found = committer.pre_read(post_keys, index_key, (lo, hi))
    del committer.redis.execute_command
    assert sent in (["EVALSHA"], ["EVALSHA", "SCRIPT LOAD", "EVALSHA"])  # one round trip (after the script is known)
    assert found.posts == committer.read(post_keys)
    assert found.posts[-1].revision == 0  # a post never stored reads as new
    expected = [(m.decode(), int(s)) for m, s in conn.zrange(index_key, f"({lo}", f"({hi}", byscore=True, withscores=True)]
    assert found.in_span == expected and 0 < len(expected) < len(scored)  # strictly inside the span
    assert found.subscriptions_version == "0"  # no subscriptions yet
    conn.set(keys.subscriptions_version, 7)
    unspanned = committer.pre_read(post_keys, index_key, None)
    assert unspanned.in_span is None and unspanned.subscriptions_version == "7"


def test_pre_read_of_more_posts_than_one_script_call_reads_reads_them_all(processor, conn, monkeypatch):
    from workers import commit

    processor.process(doc(STORM.read_bytes()))
    keys = Keys()
    post_keys = [keys.post("storm", m.decode()) for m in conn.zrange(keys.post_index("storm"), 0, -1)]
    monkeypatch.setattr(commit, "_HMGET_MANY_CHUNK", 5)  # 22 posts: 5 in the script, 17 after it
    found = processor.committer.pre_read(post_keys, keys.post_index("storm"), None)
    assert found.posts == processor.committer.read(post_keys) and all(p.revision == 1 for p in found.posts)
