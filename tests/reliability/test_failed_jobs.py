"""A job RQ gives up on (transient errors on every attempt, or a worker killed on every attempt)
ends in the dead letter with its raw input and a reason, never only in RQ's failed registry."""

from __future__ import annotations

import json
import time

import pytest
import redis
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from liveblog import stats
from producers.enqueue import ingest_queue, submit
from tests.helpers import STORM, PlainEnricher, counters, doc, wait_for
from tests.test_replay import kill_group, stop_pool, workers
from workers import runtime
from workers.worker import LiveblogWorker

pytestmark = [pytest.mark.redis, pytest.mark.reliability]


class FlakyEnricher(PlainEnricher):
    """Times out talking to Redis on one blog's posts, on every attempt."""

    def enrich(self, post, context):
        if post.blog_id == "flaky":
            raise redis.TimeoutError("Timeout reading from socket")
        return super().enrich(post, context)


def _letters(conn) -> list[dict[str, str]]:
    return [{k.decode(): v.decode() for k, v in f.items()} for _, f in conn.xrange("liveblog:deadletter")]


def test_a_job_out_of_retries_on_transient_errors_is_dead_lettered_with_its_raw_input(conn, settings):
    settings = settings.model_copy(update={"job_retries": 1, "retry_intervals_s": (0,)})
    runtime.configure(settings, FlakyEnricher())
    flaky = doc(STORM.read_bytes(), blog_id="flaky")
    try:
        assert submit(conn, flaky, settings)
        assert submit(conn, doc(STORM.read_bytes(), blog_id="fine"), settings)
        LiveblogWorker([ingest_queue(conn, settings)], connection=conn, serializer=JSONSerializer).work(burst=True)
    finally:
        runtime.configure(settings)
    letters = _letters(conn)
    assert [(x["blog_id"], x["document_id"]) for x in letters] == [("flaky", flaky.document_id)]
    assert letters[0]["reason"] == "failed after retries"
    assert "TimeoutError" in letters[0]["found"]
    assert json.loads(letters[0]["raw"]) == flaky.encode()  # what `requeue` needs: the payload whole
    report = stats.collect(conn, settings)
    assert report["jobs"]["failed"] == 0, "RQ's failed registry is not a place a document may end"
    assert report["counters"]["documents_dead_lettered"] == 1 and report["counters"]["documents_processed"] == 1
    assert report["reconciled"]["ok"]


@pytest.mark.slow
def test_a_job_whose_worker_is_killed_on_its_last_attempt_is_dead_lettered(conn, settings, redis_url, tmp_path):
    """A poison document that kills its worker (the OOM killer, a segfault in a C extension) on
    every attempt: once no retry is left, RQ's maintenance moves it to the failed registry; it
    must reach the dead letter, where an operator looks and from where it can be requeued."""
    poison = doc(STORM.read_bytes(), blog_id="poison")
    assert submit(conn, poison, settings.model_copy(update={"job_retries": 0}))
    env = {"LIVEBLOG_JOB_TIMEOUT_S": "2", "LIVEBLOG_JOB_TIMEOUT_PER_MB_S": "0", "LIVEBLOG_ABANDONED_GRACE_S": "0",
           "LIVEBLOG_MAINTENANCE_INTERVAL_S": "1"}
    registry = StartedJobRegistry(queue=ingest_queue(conn, settings))
    with (tmp_path / "first.log").open("wb") as log:
        first = workers(redis_url, 1, log=log, LIVEBLOG_FAILPOINTS="stall_once", **env)
    try:
        assert wait_for(lambda: registry.count == 1, timeout=60), "the job never started"
        time.sleep(0.2)
    finally:
        kill_group(first)  # killed mid-job, with no retry left
    with (tmp_path / "second.log").open("wb") as log:
        second = workers(redis_url, 1, log=log, **env)
    try:
        assert wait_for(lambda: conn.xlen("liveblog:deadletter") == 1, timeout=60), (
            stats.render(stats.collect(conn, settings)))
    finally:
        stop_pool(second, 30)
    letters = _letters(conn)
    assert [(x["blog_id"], x["document_id"], x["reason"]) for x in letters] == [
        ("poison", poison.document_id, "failed after retries")]
    assert "AbandonedJobError" in letters[0]["found"]
    assert json.loads(letters[0]["raw"]) == poison.encode()
    assert counters(conn)["documents_dead_lettered"] == 1
    report = stats.collect(conn, settings)
    assert report["jobs"]["failed"] == 0 and report["reconciled"]["ok"]
