"""Pushed posts batched into documents (producers/batch.py, `liveblog push`)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from liveblog import stats
from producers.batch import PostBatcher, batch_document
from schemas.documents import ParseOptions, PushedPost, RawDocument
from schemas.errors import DecodeError
from tests.conftest import ROOT, cli_env, run_cli
from tests.helpers import PlainEnricher, counters, stream_events, wait_for
from workers.parsers import parse
from workers.pipeline import DocumentProcessor

T = datetime(2025, 3, 4, 9, 0, tzinfo=timezone.utc)


def pushed(blog: str, n: int, *, minutes: int | None = None, title: str | None = None, received: bool = True) -> PushedPost:
    at = T + timedelta(minutes=n if minutes is None else minutes)
    return PushedPost(blog_id=blog, id=f"{blog}-{n}", title=title or f"Update {n} from the {blog} desk",
                      body=f"Paragraph {n} of the {blog} coverage, with a detail of its own.", author="Desk",
                      published_at=at, received_at=at + timedelta(seconds=30) if received else None)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_batch_is_sent_when_it_is_full_per_blog_in_arrival_order() -> None:
    sent: list[RawDocument] = []
    batcher = PostBatcher(lambda raw: sent.append(raw) or True, max_posts=3, max_wait_s=60, clock=Clock())
    for n in range(4):
        batcher.add(pushed("a", n))
        batcher.add(pushed("b", n))
    assert [d.blog_id for d in sent] == ["a", "b"]  # each blog's first three
    assert batcher.pending_posts() == 2
    batcher.flush()
    assert [d.blog_id for d in sent] == ["a", "b", "a", "b"]
    assert (batcher.counts.posts, batcher.counts.documents, batcher.counts.accepted) == (8, 4, 4)
    ids = [item["id"] for item in json.loads(sent[0].body)["items"]]
    assert ids == ["a-0", "a-1", "a-2"]


def test_a_quiet_blog_is_sent_once_its_oldest_post_has_waited(monkeypatch) -> None:
    sent: list[RawDocument] = []
    clock = Clock()
    batcher = PostBatcher(lambda raw: sent.append(raw) or True, max_posts=50, max_wait_s=0.25, clock=clock)
    batcher.add(pushed("a", 0))
    clock.now = 0.2
    batcher.add(pushed("b", 0))
    assert batcher.due() == [] and batcher.next_due_in() == pytest.approx(0.05)
    clock.now = 0.3
    assert [d.blog_id for d in batcher.due()] == ["a"]  # b has waited 0.1 s only
    assert batcher.next_due_in() == pytest.approx(0.15)
    clock.now = 0.5
    assert [d.blog_id for d in batcher.due()] == ["b"]
    assert batcher.next_due_in() is None


def test_a_batch_is_a_json_feed_that_is_not_a_snapshot_and_parses_to_its_posts() -> None:
    posts = [pushed("a", n) for n in range(3)]
    raw = batch_document("a", posts, source="push://a")
    assert raw.options == ParseOptions(format="json", snapshot=False)
    assert raw.fetched_at == posts[-1].received_at  # the latest arrival: a replay makes the same document
    assert batch_document("a", posts, source="push://a").document_id == raw.document_id
    doc = parse(raw)
    assert [p.title for p in sorted(doc.posts, key=lambda p: p.published_at)] == [p.title for p in posts]
    assert [p.author for p in doc.posts] == ["Desk"] * 3
    assert len({p.post_id for p in doc.posts}) == 3 and all(p.post_id.startswith("s-") for p in doc.posts)
    again = parse(batch_document("a", [pushed("a", 1)], source="push://a"))
    assert again.posts[0].post_id in {p.post_id for p in doc.posts}  # the source's id names the post in any batch
    # without received_at the batch is stamped with the time it is sent
    stamped = batch_document("a", [pushed("a", 0, received=False)], source="push://a", now=lambda: T + timedelta(hours=1))
    assert stamped.fetched_at == T + timedelta(hours=1)


def test_a_later_version_in_the_same_pending_batch_replaces_the_earlier() -> None:
    sent: list[RawDocument] = []
    batcher = PostBatcher(lambda raw: sent.append(raw) or True, max_posts=10, max_wait_s=60, clock=Clock())
    batcher.add(pushed("a", 0, title="First version of the headline here"))
    batcher.add(pushed("a", 1))
    batcher.add(pushed("a", 0, title="Second version of the headline here"))
    batcher.flush()
    items = json.loads(sent[0].body)["items"]
    assert [(i["id"], i["title"]) for i in items] == [("a-1", "Update 1 from the a desk"),
                                                      ("a-0", "Second version of the headline here")]
    assert batcher.counts.superseded == 1 and batcher.counts.posts == 2


def test_options_made_before_snapshot_existed_keep_their_document_ids() -> None:
    raw = RawDocument.from_bytes(b"12:31 , Ana\n\nBody.\n", blog_id="b", source="s.txt", fetched_at=T)
    digest = hashlib.sha256()
    for part in ("b", "s.txt", T.isoformat(), '{"format":"auto","tz":"UTC","date":null,"json_mapping":null}'):
        digest.update(part.encode("utf-8") + b"\x1f")
    digest.update(b"12:31 , Ana\n\nBody.\n")
    assert raw.document_id == digest.hexdigest()[:32]
    assert "snapshot" not in raw.encode()["options"]  # what a worker without the option reads
    partial = RawDocument.from_bytes(b"{}", blog_id="b", source="s", fetched_at=T, options=ParseOptions(snapshot=False))
    assert partial.encode()["options"]["snapshot"] is False
    assert RawDocument.decode(partial.encode()).options.snapshot is False


@pytest.mark.parametrize("line, found", [
    (b'{"blog_id": "a", "id": "1", "title": "T"}', "published_at: Field required"),
    (b'{"blog_id": "a", "id": "1", "title": "T", "published_at": "2025-03-04T09:00:00"}', "UTC offset"),
    (b'{"blog_id": "a", "id": "1", "published_at": "2025-03-04T09:00:00Z"}', "a title or a body"),
    (b'{"blog_id": "", "id": "1", "title": "T", "published_at": "2025-03-04T09:00:00Z"}', "blog_id"),
    (b"[1, 2]", "Input should be an object"),
    (b"\xff\xfe not text", "Invalid JSON"),
    # in year 10000 or year 0 once in UTC: was an OverflowError out of push, losing the batch before it
    (b'{"blog_id": "a", "id": "3", "title": "T", "published_at": "9999-12-31T23:59:59-12:00"}', "years 1-9999"),
    (b'{"blog_id": "a", "id": "3", "title": "T", "published_at": "0001-01-01T00:00:00+14:00"}', "years 1-9999"),
])
def test_a_line_that_is_not_a_pushed_post_names_what_was_expected(line: bytes, found: str) -> None:
    with pytest.raises(DecodeError) as caught:
        PushedPost.decode_line(line)
    assert "expected one JSON object per line with 'blog_id', 'id', 'published_at'" in str(caught.value)
    assert found in caught.value.found


def test_a_batch_retracts_nothing_it_lacks_where_a_snapshot_would(conn, settings) -> None:
    processor = DocumentProcessor(conn, settings, PlainEnricher())
    first = [pushed("a", n, minutes=m) for n, m in ((0, 0), (1, 5), (2, 10))]
    later = [pushed("a", n, minutes=m) for n, m in ((3, 2), (4, 12))]  # spans 9:02-9:12: lacks 9:05 and 9:10
    assert processor.process(batch_document("a", first, source="push://a")).created == 3
    outcome = processor.process(batch_document("a", later, source="push://a"))
    assert (outcome.created, outcome.retracted) == (2, 0)
    # the same posts as a page snapshot: the two it no longer shows inside its span are taken down
    page = json.loads(batch_document("a", later, source="push://a").body)
    snapshot = RawDocument.from_bytes(json.dumps(page).encode(), blog_id="a", source="page", fetched_at=T + timedelta(hours=1),
                                      options=ParseOptions(format="json"))
    assert processor.process(snapshot).retracted == 2


def test_push_command_batches_lines_skips_bad_ones_and_every_post_is_published(conn, settings, redis_url, tmp_path) -> None:
    lines = [json.loads(pushed(blog, n).model_dump_json()) for n in range(5) for blog in ("a", "b")]
    source = tmp_path / "posts.ndjson"
    source.write_text("\n".join([json.dumps(x) for x in lines[:4]] + ["", "{not json", json.dumps(lines[4])]
                                + [json.dumps(x) for x in lines[5:]]) + "\n")
    proc = run_cli("push", str(source), "--max-posts", "2", redis_url=redis_url)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert f"{source}:6: invalid pushed post: expected one JSON object per line" in err
    assert "pushed 10 posts in 6 documents (accepted 6, already accepted 0)" in err and "1 of 11 lines rejected" in err
    assert len(proc.stdout.split()) == 6  # the accepted document ids
    again = run_cli("push", str(source), "--max-posts", "2", redis_url=redis_url)
    assert "accepted 0, already accepted 6" in again.stderr.decode()
    work = run_cli("worker", "--burst", redis_url=redis_url, timeout=180)
    assert work.returncode == 0, work.stderr.decode()[-2000:]
    events = stream_events(conn)
    assert len(events) == 10 and {e["type"] for e in events} == {"liveblog.post.created"}
    report = stats.collect(conn, settings)
    assert report["reconciled"]["ok"], report
    assert counters(conn).get("posts_retracted", 0) == 0  # batches lacking each other's posts take nothing down


def test_push_from_a_quiet_pipe_sends_the_batch_before_the_input_ends(conn, redis_url) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "liveblog.cli", "push", "--max-wait", "100ms"], cwd=ROOT,
                            env=cli_env(redis_url), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write((pushed("a", 0).model_dump_json() + "\n").encode())
        proc.stdin.write(pushed("a", 1).model_dump_json().encode())  # no newline yet: not a line
        proc.stdin.flush()
        assert wait_for(lambda: counters(conn).get("documents_accepted", 0) == 1, timeout=20), "nothing was sent"
        proc.stdin.write(b"\n")
        proc.stdin.close()
        proc.wait(20)
        err = proc.stderr.read()
    finally:
        proc.kill()
    assert proc.returncode == 0, err.decode()
    assert "pushed 2 posts in 2 documents" in err.decode()
    assert counters(conn)["documents_accepted"] == 2


def test_push_sends_what_it_holds_when_asked_to_stop(conn, redis_url) -> None:
    import signal

    clients = len(conn.client_list())
    proc = subprocess.Popen([sys.executable, "-m", "liveblog.cli", "push", "--max-wait", "1h"], cwd=ROOT,
                            env=cli_env(redis_url), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write((pushed("a", 0).model_dump_json() + "\n" + pushed("b", 0).model_dump_json() + "\n").encode())
        proc.stdin.flush()
        # it connects to Redis, then reads stdin at once; nothing is due for an hour
        assert wait_for(lambda: len(conn.client_list()) > clients, timeout=30), "push never connected"
        time.sleep(0.5)
        assert counters(conn).get("documents_accepted", 0) == 0
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        err = proc.stderr.read().decode()
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "pushed 2 posts in 2 documents (accepted 2" in err
    assert counters(conn)["documents_accepted"] == 2


def test_an_overlong_line_is_refused_without_being_held_whole() -> None:
    from liveblog.producer_cli import _capped_lines

    chunks = [b"short one\nlong", b"x" * 40, b"x" * 40, b"x\nafter\n", b"tail"]
    lines = list(_capped_lines(iter(chunks), limit=32))
    assert lines == [b"short one", b"long" + b"x" * 29, b"after", b"tail"]  # the long line cut at limit + 1
    assert list(_capped_lines(iter([b"a\n", b"", b"b"]), limit=32)) == [b"a", b"b"]


def test_push_refuses_a_line_over_the_limit_and_keeps_the_others(conn, redis_url, tmp_path) -> None:
    from liveblog.producer_cli import MAX_PUSH_LINE_BYTES

    source = tmp_path / "posts.ndjson"
    with source.open("wb") as out:
        out.write(pushed("a", 0).model_dump_json().encode() + b"\n")
        out.write(b'{"blog_id": "a", "body": "' + b"x" * (MAX_PUSH_LINE_BYTES + 10) + b'"}\n')
        out.write(pushed("a", 1).model_dump_json().encode() + b"\n")
    proc = run_cli("push", str(source), redis_url=redis_url)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert f"{source}:2: line too long: expected at most {MAX_PUSH_LINE_BYTES:,} bytes per post" in err
    assert "pushed 2 posts in 1 documents" in err and "1 of 3 lines rejected" in err
