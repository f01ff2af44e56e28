"""`liveblog deadletter list|show|requeue` on a real redis-server: a dead-lettered document sent
back runs once, publishes its events once (with the ids it would have had), or is dead-lettered
again; a requeue issued twice, or by two operators at once, enqueues once; the counters reconcile."""

from __future__ import annotations

import json
import threading

import pytest
import redis
from rq.serializers import JSONSerializer

from liveblog import stats
from producers import deadletter as dl
from producers.enqueue import ingest_queue, submit
from schemas.keys import Keys
from tests.conftest import run_cli
from tests.helpers import STORM, PlainEnricher, assert_exactly_once, counters, doc, stream_events, wait_until_settled
from tests.reliability.test_kill import FAST_RECOVERY
from tests.test_replay import kill_group, stop_pool, workers
from workers import runtime
from workers.failpoints import EXIT_STATUS
from workers.worker import LiveblogWorker

pytestmark = [pytest.mark.redis, pytest.mark.reliability]


class ParserBug(Exception):
    pass


@pytest.fixture
def work(conn, settings):
    runtime.configure(settings, PlainEnricher())

    def run() -> None:
        LiveblogWorker([ingest_queue(conn, settings)], connection=conn, serializer=JSONSerializer).work(burst=True)

    yield run
    runtime.configure(settings)


@pytest.fixture
def buggy_parser(monkeypatch):
    """A parser bug on blog "broken" while ``on`` is set: the document is dead-lettered
    'internal error'; clearing it stands for the fix being deployed."""
    from workers import parsers

    real = parsers.PARSERS["text"]
    state = {"on": True}

    def parse(raw, body):
        if state["on"] and raw.blog_id == "broken":
            raise ParserBug("list index out of range")
        return real(raw, body)

    monkeypatch.setitem(parsers.PARSERS, "text", parse)
    return state


class FlakyEnricher(PlainEnricher):
    def enrich(self, post, context):
        if post.blog_id == "flaky":
            raise redis.TimeoutError("Timeout reading from socket")
        return super().enrich(post, context)


def _ids(conn) -> list[str]:
    return [entry_id.decode() for entry_id, _ in conn.xrange("liveblog:deadletter")]


def _reference_ids(conn, settings, work, raw) -> list[str]:
    """The event ids ``raw`` publishes when processed straight away on an empty Redis."""
    conn.flushall()
    assert submit(conn, raw, settings)
    work()
    return [e["id"] for e in stream_events(conn)]


def test_a_document_dead_lettered_by_a_since_fixed_bug_is_requeued_and_published_once(
        conn, settings, redis_url, work, buggy_parser):
    broken = doc(STORM.read_bytes(), blog_id="broken")
    bad = doc(b"A page with words.\n\nBut no time stamps at all.\n", blog_id="prose")
    assert submit(conn, broken, settings) and submit(conn, bad, settings)
    work()
    assert counters(conn)["documents_dead_lettered"] == 2
    listed = run_cli("deadletter", "list", "--json", redis_url=redis_url)
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["blog_id"], r["reason"]) for r in rows] == [("broken", "internal error"), ("prose", "no posts")]
    assert "raw" not in rows[0] and rows[0]["raw_truncated"] is False
    only = run_cli("deadletter", "list", "--reason", "internal error", redis_url=redis_url)
    assert only.returncode == 0 and only.stdout.decode().count("\n") == 1 and "broken" in only.stdout.decode()
    assert run_cli("deadletter", "list", "--blog", "nope", "--json", redis_url=redis_url).stdout == b""
    shown = run_cli("deadletter", "show", rows[0]["id"], redis_url=redis_url)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["raw"] == broken.encode()

    buggy_parser["on"] = False  # the fix is deployed
    requeued = run_cli("deadletter", "requeue", rows[0]["id"], redis_url=redis_url)
    assert requeued.returncode == 0, requeued.stderr
    assert broken.document_id in requeued.stdout.decode()
    report = stats.collect(conn, settings)
    assert report["jobs"]["queued"] == 1 and report["counters"]["documents_requeued"] == 1
    assert report["reconciled"]["ok"], stats.render(report)  # in flight, not dead-lettered, now
    assert _ids(conn) == [rows[1]["id"]]  # the entry left in the same step

    again = run_cli("deadletter", "requeue", rows[0]["id"], redis_url=redis_url)
    assert again.returncode == 4 and b"requeued already" in again.stderr
    assert ingest_queue(conn, settings).count == 1  # still the one job

    work()
    events = stream_events(conn)
    assert_exactly_once(events, posts=22, edits=0)
    c = counters(conn)
    assert (c["documents_accepted"], c["documents_processed"], c["documents_dead_lettered"],
            c["documents_requeued"]) == (2, 1, 2, 1)
    report = stats.collect(conn, settings)
    assert report["reconciled"]["ok"] and report["jobs"]["failed"] == 0, stats.render(report)
    assert "dead-lettered 1 (of 2, 1 requeued)" in stats.render(report)
    # deterministic: the ids the document would have published had it never failed
    assert [e["id"] for e in events] == _reference_ids(conn, settings, work, broken)


def test_a_requeued_document_that_fails_again_is_dead_lettered_again_and_the_counters_reconcile(
        conn, settings, work, buggy_parser):
    broken = doc(STORM.read_bytes(), blog_id="broken")
    assert submit(conn, broken, settings)
    work()
    (first,) = _ids(conn)
    dl.requeue(conn, settings, first)
    work()  # the bug is still there
    letters = list(dl.letters(conn, Keys()))
    assert [(x.fields["document_id"], x.fields["reason"]) for x in letters] == [(broken.document_id, "internal error")]
    assert letters[0].id != first
    c = counters(conn)
    assert (c["documents_dead_lettered"], c["documents_requeued"], c.get("documents_processed", 0)) == (2, 1, 0)
    assert stats.collect(conn, settings)["reconciled"]["ok"]
    assert not conn.exists("liveblog:events")


def test_a_document_out_of_retries_on_transient_errors_is_requeued_with_all_only_for_its_reason(
        conn, settings, redis_url):
    settings = settings.model_copy(update={"job_retries": 1, "retry_intervals_s": (0,)})
    flaky = doc(STORM.read_bytes(), blog_id="flaky")
    assert submit(conn, flaky, settings)
    assert submit(conn, doc(b"no stamps here\n", blog_id="prose"), settings)
    runtime.configure(settings, FlakyEnricher())
    try:
        LiveblogWorker([ingest_queue(conn, settings)], connection=conn, serializer=JSONSerializer).work(burst=True)
    finally:
        runtime.configure(settings)
    assert sorted(x.fields["reason"] for x in dl.letters(conn, Keys())) == ["failed after retries", "no posts"]
    result = run_cli("deadletter", "requeue", "--all", "--reason", "failed after retries", redis_url=redis_url)
    assert result.returncode == 0, result.stderr
    assert [x.fields["reason"] for x in dl.letters(conn, Keys())] == ["no posts"]
    runtime.configure(settings, PlainEnricher())  # Redis answers again
    try:
        LiveblogWorker([ingest_queue(conn, settings)], connection=conn, serializer=JSONSerializer).work(burst=True)
    finally:
        runtime.configure(settings)
    assert_exactly_once(stream_events(conn), posts=22, edits=0)
    report = stats.collect(conn, settings)
    assert report["reconciled"]["ok"] and report["counters"]["documents_processed"] == 1, stats.render(report)


def test_two_requeues_at_once_enqueue_one_job_and_publish_one_set_of_events(conn, settings, redis_url, work,
                                                                            buggy_parser):
    broken = doc(STORM.read_bytes(), blog_id="broken")
    assert submit(conn, broken, settings)
    work()
    (entry,) = _ids(conn)
    buggy_parser["on"] = False
    # two operators' commands at once
    import subprocess
    import sys

    from tests.conftest import ROOT, cli_env

    procs = [subprocess.Popen([sys.executable, "-m", "liveblog.cli", "deadletter", "requeue", entry], cwd=ROOT,
                              env=cli_env(redis_url), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    codes = sorted(p.wait(120) for p in procs)
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert codes == [0, 4]
    work()
    assert_exactly_once(stream_events(conn), posts=22, edits=0)
    queue = ingest_queue(conn, settings)
    assert queue.count == 0 and counters(conn)["documents_requeued"] == 1
    assert stats.collect(conn, settings)["reconciled"]["ok"]


def test_eight_concurrent_requeues_of_one_entry_make_one_job(conn, settings, work, buggy_parser):
    broken = doc(STORM.read_bytes(), blog_id="broken")
    assert submit(conn, broken, settings)
    work()
    (entry,) = _ids(conn)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def go() -> None:
        client = redis.Redis.from_url(settings.redis_url)
        barrier.wait()
        try:
            dl.requeue(client, settings, entry)
            outcomes.append("ok")
        except dl.NotRequeued as exc:
            outcomes.append(exc.found)
        finally:
            client.close()

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes).count("ok") == 1, outcomes
    assert all("requeued already" in o for o in outcomes if o != "ok"), outcomes  # not "its job is queued"
    assert ingest_queue(conn, settings).count == 1
    buggy_parser["on"] = False
    work()
    assert_exactly_once(stream_events(conn), posts=22, edits=0)
    assert stats.collect(conn, settings)["reconciled"]["ok"]


def test_entries_that_cannot_be_requeued_are_refused_with_the_reason_and_kept(conn, settings, redis_url, work,
                                                                              buggy_parser):
    broken = doc(STORM.read_bytes(), blog_id="broken")
    assert submit(conn, broken, settings)
    work()
    (entry,) = _ids(conn)
    fields = {k.decode(): v.decode() for k, v in conn.xrange("liveblog:deadletter")[0][1].items()}
    cut = conn.xadd("liveblog:deadletter", {**fields, "raw": fields["raw"][:100], "raw_truncated": "true",
                                            "raw_chars": str(len(fields["raw"]))}).decode()
    refused = conn.xadd("liveblog:deadletter", {"document_id": "job-x", "blog_id": "unknown", "reason": "job refused",
                                                "raw": "os.system('id')"}).decode()
    copy = conn.xadd("liveblog:deadletter", fields).decode()  # a second entry of the same document
    result = run_cli("deadletter", "requeue", cut, refused, redis_url=redis_url)
    assert result.returncode == 4
    err = result.stderr.decode()
    assert "raw input cut to its first 100" in err and "refused RQ job" in err, err
    assert "not requeued 2" in err
    assert _ids(conn) == [entry, cut, refused, copy]
    listed = run_cli("deadletter", "list", redis_url=redis_url).stdout.decode()
    assert "[raw truncated: cannot requeue]" in listed

    buggy_parser["on"] = False
    dl.requeue(conn, settings, entry)
    with pytest.raises(dl.NotRequeued, match="is queued"):  # the document's job waits: not twice
        dl.requeue(conn, settings, copy)
    work()
    with pytest.raises(dl.NotRequeued, match="already committed"):
        dl.requeue(conn, settings, copy)
    assert_exactly_once(stream_events(conn), posts=22, edits=0)

    assert run_cli("deadletter", "show", "not-an-id", redis_url=redis_url).returncode == 2
    assert run_cli("deadletter", "show", "1-0", redis_url=redis_url).returncode == 4


@pytest.mark.slow
def test_a_worker_killed_during_the_requeued_job_publishes_its_events_once(conn, settings, redis_url, work,
                                                                          buggy_parser):
    edited = STORM.read_bytes().replace(b"the first named storm of the autumn", b"the first named storm of this autumn")
    first, broken = doc(STORM.read_bytes(), blog_id="broken"), doc(edited, minutes=1, blog_id="broken")
    buggy_parser["on"] = False
    assert submit(conn, first, settings)
    work()
    buggy_parser["on"] = True
    assert submit(conn, broken, settings)  # the edit meets the bug: dead-lettered
    work()
    (entry,) = _ids(conn)
    dl.requeue(conn, settings, entry)
    crashing = workers(redis_url, 1, LIVEBLOG_FAILPOINTS="after_commit", **FAST_RECOVERY)
    crashing.wait(120)
    kill_group(crashing)
    assert crashing.returncode == EXIT_STATUS, crashing.stderr.read().decode()[-2000:]
    assert stats.collect(conn, settings)["jobs"]["started"] == 1  # committed, RQ still thinks it runs
    survivor = workers(redis_url, 1, **FAST_RECOVERY)
    try:
        wait_until_settled(conn, settings, timeout=120)
    finally:
        stop_pool(survivor, 30)
    c = counters(conn)
    assert (c["documents_accepted"], c["documents_processed"], c["documents_requeued"]) == (2, 2, 1)
    assert_exactly_once(stream_events(conn), posts=22, edits=1)
    assert conn.xlen("liveblog:deadletter") == 0


def test_delete_drops_entries_without_requeueing_and_the_counters_still_reconcile(conn, settings, redis_url, work,
                                                                                 buggy_parser):
    broken = doc(STORM.read_bytes(), blog_id="broken")
    other = doc(b"A page with words.\n\nBut no time stamps at all.\n", blog_id="prose")
    assert submit(conn, broken, settings) and submit(conn, other, settings)
    work()
    first, second = _ids(conn)
    refused = conn.xadd("liveblog:deadletter", {"document_id": "job-x", "blog_id": "unknown", "reason": "job refused",
                                                "raw": "os.system('id')"}).decode()  # counted jobs_refused, not here
    assert run_cli("deadletter", "delete", redis_url=redis_url).returncode == 2  # neither ids nor --all
    assert run_cli("deadletter", "delete", first, "--all", redis_url=redis_url).returncode == 2
    assert run_cli("deadletter", "delete", first, "--reason", "x", redis_url=redis_url).returncode == 2
    assert run_cli("deadletter", "delete", "not-an-id", redis_url=redis_url).returncode == 2

    deleted = run_cli("deadletter", "delete", first, refused, redis_url=redis_url)
    assert deleted.returncode == 0, deleted.stderr
    assert broken.document_id in deleted.stdout.decode() and b"deleted 2" in deleted.stderr
    assert _ids(conn) == [second]
    c = counters(conn)
    assert (c["documents_dead_lettered"], c["documents_discarded"], c.get("documents_requeued", 0)) == (2, 1, 0)
    report = stats.collect(conn, settings)
    assert report["reconciled"]["ok"], stats.render(report)
    assert "dead-lettered 2 (of 2, 1 deleted)" in stats.render(report)  # ended dead-lettered: 1 kept, 1 deleted
    assert ingest_queue(conn, settings).count == 0  # nothing was requeued

    again = run_cli("deadletter", "delete", first, second, redis_url=redis_url)  # one gone, one there
    assert again.returncode == 4 and b"deleted or requeued already" in again.stderr and b"not deleted 1" in again.stderr
    assert _ids(conn) == [] and counters(conn)["documents_discarded"] == 2
    assert stats.collect(conn, settings)["reconciled"]["ok"]
    assert run_cli("deadletter", "delete", "--all", redis_url=redis_url).returncode == 0  # nothing to delete
    with pytest.raises(dl.NotDeleted):
        dl.delete(conn, Keys(), second)
