"""A document over the size limit is refused by every producer before it is accepted.

Accepting it would lose it: the worker refuses it and its dead-letter entry keeps only its
first 1,000,000 characters. So ``submit`` refuses it (DocumentTooLarge, naming the limit and
the size found) before any Redis command: no accept marker, no counter, no job, and
``liveblog stats`` still reconciles. Most tests lower the limit (``schemas.documents``
holds it); one submits a real 20,000,001-character document to the real redis-server, and
one runs ``liveblog produce`` on such a file.
"""

from __future__ import annotations

import http.client
import json
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from liveblog import stats
from producers import poll
from producers.backfill import backfill
from producers.batch import PostBatcher
from producers.directory import WatchConfig, watch_once
from producers.enqueue import ingest_queue, submit
from producers.fetch import FetchResult
from producers.ingest_http import IngestConfig, make_server
from schemas import documents
from schemas.documents import MAX_DOCUMENT_CHARS, ParseOptions, PushedPost, RawDocument
from schemas.errors import DocumentTooLarge, InputRejected
from schemas.settings import Settings
from tests.conftest import run_cli

AT = datetime(2025, 3, 4, 9, 0, tzinfo=timezone.utc)
PAGE = "Headline\n\nUpdate one\n\n11:20 , Reporter\n\nBody text.\n"
LIMIT = 200  # the lowered limit of most tests


@pytest.fixture
def small_limit(monkeypatch) -> int:
    monkeypatch.setattr(documents, "MAX_DOCUMENT_CHARS", LIMIT)
    return LIMIT


def raw_of(data: bytes, source: str = "page.txt") -> RawDocument:
    return RawDocument.from_bytes(data, blog_id="storm", source=source, fetched_at=AT, options=ParseOptions(format="text"))


def padded(chars: int) -> bytes:
    return (PAGE + "x" * (chars - len(PAGE))).encode()


def test_submit_refuses_a_document_over_the_limit_and_writes_nothing(fake_conn, small_limit) -> None:
    settings = Settings()
    with pytest.raises(DocumentTooLarge) as refused:
        submit(fake_conn, raw_of(padded(LIMIT + 1)), settings)
    assert isinstance(refused.value, InputRejected)
    assert str(refused.value) == "document too large: expected at most 200 characters, found 201 characters"
    assert fake_conn.keys("*") == []  # no marker, no counter, no job
    assert submit(fake_conn, raw_of(padded(LIMIT)), settings) is True  # at the limit: accepted
    assert ingest_queue(fake_conn, settings).count == 1


def test_a_body_that_is_not_utf8_is_measured_in_bytes(fake_conn, small_limit) -> None:
    with pytest.raises(DocumentTooLarge) as refused:
        submit(fake_conn, raw_of(b"\xff" * (LIMIT + 1)), Settings())
    assert refused.value.expected == "at most 200 bytes (the document is not UTF-8 text)"
    assert refused.value.found == "201 bytes"
    assert fake_conn.keys("*") == []
    for n in (LIMIT, LIMIT - 1, LIMIT - 2):  # every base64 padding, exactly counted
        assert raw_of(b"\xfe" * n).size() == (n, "bytes")
        raw_of(b"\xfe" * n).check_size()


def test_a_refused_document_leaves_the_counters_reconciled(conn, settings, small_limit) -> None:
    submit(conn, raw_of(padded(50)), settings)
    with pytest.raises(DocumentTooLarge):
        submit(conn, raw_of(padded(LIMIT + 1), source="big.txt"), settings)
    result = stats.collect(conn, settings)
    assert result["counters"]["documents_accepted"] == 1 and result["jobs"]["queued"] == 1
    assert result["reconciled"]["ok"]


def test_real_limit_on_the_real_redis_server(conn, settings) -> None:
    over = raw_of(b"x" * (MAX_DOCUMENT_CHARS + 1))
    with pytest.raises(DocumentTooLarge, match="expected at most 20,000,000 characters, found 20,000,001 characters"):
        submit(conn, over, settings)
    assert conn.dbsize() == 0


def test_produce_refuses_the_oversized_file_accepts_the_rest_and_stats_reconcile(redis_url, tmp_path: Path) -> None:
    big, small = tmp_path / "big.txt", tmp_path / "small.txt"
    big.write_bytes(b"x" * (MAX_DOCUMENT_CHARS + 5))
    small.write_text(PAGE)
    ledger = tmp_path / "ledger.jsonl"
    produced = run_cli("produce", str(big), str(small), "--format", "text", "--ledger", str(ledger), redis_url=redis_url)
    err = produced.stderr.decode()
    assert produced.returncode == 4, err
    assert (f"liveblog: refused {big}: document too large: expected at most 20,000,000 characters, "
            "found 20,000,005 characters") in err
    assert "accepted 1, already accepted 0, refused 1" in err
    assert len(produced.stdout.split()) == 1  # the small file's id only
    assert [json.loads(line)["source"] for line in ledger.read_text().splitlines()] == [str(small)]
    checked = run_cli("stats", "--json", "--ledger", str(ledger), redis_url=redis_url)
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    assert json.loads(checked.stdout)["counters"]["documents_accepted"] == 1


def test_backfill_and_watch_count_a_refused_file(fake_conn, small_limit, tmp_path: Path) -> None:
    (tmp_path / "a-big.txt").write_bytes(padded(LIMIT + 1))
    (tmp_path / "b-small.txt").write_bytes(padded(50))
    settings = Settings()
    result = backfill(fake_conn, tmp_path, settings, options=ParseOptions(format="text"), progress=_NoBar())
    assert (result.accepted, result.refused, result.failed) == (1, 1, 0)
    assert result.refusals == [f"{tmp_path / 'a-big.txt'}: document too large: expected at most 200 characters, "
                               "found 201 characters"]
    fake_conn.flushall()
    seen = watch_once(fake_conn, tmp_path, settings, WatchConfig(options=ParseOptions(format="text")), now=lambda: 2e9)
    assert (seen.submitted, seen.refused) == (1, 1) and "document too large" in seen.refusals[0]
    assert ingest_queue(fake_conn, settings).count == 1


class _NoBar:
    def update(self, n: int = 1) -> None: ...
    def close(self) -> None: ...


def test_ingest_answers_413_with_the_reason(conn, settings, small_limit) -> None:
    server = make_server(conn, settings, IngestConfig(token="t" * 20, max_body_bytes=10_000), port=0)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        client = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
        client.request("POST", "/documents?blog_id=storm&format=text", body=padded(LIMIT + 1),
                       headers={"Authorization": "Bearer " + "t" * 20})
        response = client.getresponse()
        payload = json.loads(response.read())
        client.close()
    finally:
        server.shutdown()
        server.server_close()
    assert response.status == 413
    assert payload == {"error": "document too large: expected at most 200 characters, found 201 characters"}
    assert conn.dbsize() == 0


def test_poll_counts_an_oversized_page_as_a_failed_poll(fake_conn, small_limit) -> None:
    settings = Settings()
    served = FetchResult(status=200, body=padded(LIMIT + 1), url="https://blog.example/live")
    outcome = poll.poll_once(fake_conn, served.url, settings, poll.PollConfig(), fetcher=lambda url, **kw: served)
    assert outcome.status == "failed" and "document too large" in outcome.error
    assert ingest_queue(fake_conn, settings).count == 0
    counters = stats.collect(fake_conn, settings)["counters"]
    assert (counters["polls_failed"], counters["documents_accepted"]) == (1, 0)


def _post(n: int, body: str) -> PushedPost:
    return PushedPost(blog_id="wire", id=f"p{n}", title=f"Update {n}", body=body, published_at=AT)


def test_batches_are_cut_before_the_size_limit(small_limit, monkeypatch) -> None:
    monkeypatch.setattr(documents, "MAX_DOCUMENT_CHARS", 1_000)
    sent: list[RawDocument] = []
    batcher = PostBatcher(lambda raw: (raw.check_size(), sent.append(raw))[0] is None, max_posts=50, max_wait_s=60)
    for n in range(10):
        batcher.add(_post(n, "word " * 40))  # ~260 characters each in the document
    batcher.flush()
    assert len(sent) > 1 and all(raw.size()[0] <= 1_000 for raw in sent)
    assert [item["id"] for raw in sent for item in json.loads(raw.body)["items"]] == [f"p{n}" for n in range(10)]
    assert (batcher.counts.posts, batcher.counts.refused) == (10, 0)


def test_a_single_post_over_the_limit_is_refused_and_counted(fake_conn, small_limit) -> None:
    batcher = PostBatcher(lambda raw: submit(fake_conn, raw, Settings()), max_posts=50, max_wait_s=60)
    batcher.add(_post(1, "x" * (LIMIT + 1)))
    batcher.flush()
    assert (batcher.counts.refused, batcher.counts.refused_posts, batcher.counts.documents) == (1, 1, 0)
    assert fake_conn.keys("*") == []
