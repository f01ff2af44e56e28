"""A job that stalls past its timeout, and a worker asked to stop mid-job."""

from __future__ import annotations

import signal
import time

import pytest
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from liveblog import stats
from producers.enqueue import ingest_queue, submit
from tests.helpers import STORM, PlainEnricher, big_page, counters, doc, gave_up, wait_for
from tests.test_replay import kill_group, stop_pool, workers
from workers import runtime
from workers.worker import LiveblogWorker

pytestmark = [pytest.mark.redis, pytest.mark.reliability]


class StallingEnricher(PlainEnricher):
    """Stalls on one blog's posts, the way a pathological document or a hung call would."""

    def enrich(self, post, context):
        if post.blog_id == "stuck":
            time.sleep(5)
        return super().enrich(post, context)


def test_a_job_that_stalls_past_its_timeout_is_retried_then_dead_lettered(conn, settings):
    settings = settings.model_copy(update={"job_timeout_s": 1, "job_timeout_per_mb_s": 0, "job_retries": 1})
    runtime.configure(settings, StallingEnricher())
    try:
        assert submit(conn, doc(STORM.read_bytes(), blog_id="stuck"), settings)
        assert submit(conn, doc(STORM.read_bytes(), blog_id="fine"), settings)
        LiveblogWorker([ingest_queue(conn, settings)], connection=conn, serializer=JSONSerializer).work(burst=True)
    finally:
        runtime.configure(settings)
    letters = [{k.decode(): v.decode() for k, v in f.items()} for _, f in conn.xrange("liveblog:deadletter")]
    assert [(x["blog_id"], x["reason"]) for x in letters] == [("stuck", "timed out")]
    assert "job timeout (1s)" in letters[0]["expected"]
    c = counters(conn)
    assert c["documents_dead_lettered"] == 1 and c["documents_processed"] == 1
    assert conn.xlen("liveblog:events") == 22  # the other blog went through
    assert stats.collect(conn, settings)["reconciled"]["ok"]


@pytest.mark.slow
def test_sigterm_lets_the_current_job_finish_then_the_worker_exits_cleanly(conn, settings, redis_url):
    posts = 800
    assert submit(conn, doc(big_page(posts).encode(), blog_id="big"), settings)
    proc = workers(redis_url, 1)
    try:
        registry = StartedJobRegistry(queue=ingest_queue(conn, settings))
        assert wait_for(lambda: registry.count == 1, timeout=30), "the job never started"
        proc.send_signal(signal.SIGTERM)
        assert registry.count == 1, "the job must still be running when the signal arrives"
        _, err = proc.communicate(timeout=60)
    finally:
        kill_group(proc)  # whatever happened, no worker of this test outlives it
    assert proc.returncode == 0, err.decode()[-2000:]
    c = counters(conn)
    assert c["documents_processed"] == 1 and c["posts_created"] == posts
    assert conn.xlen("liveblog:events") == posts
    report = stats.collect(conn, settings)
    assert report["jobs"]["started"] == 0 and report["jobs"]["failed"] == 0 and report["reconciled"]["ok"]


@pytest.mark.slow
def test_a_real_worker_whose_job_hangs_is_stopped_by_the_timeout_and_the_retry_publishes_once(
        conn, settings, redis_url, tmp_path):
    """In a real `liveblog worker` process (the test above runs RQ in-process): the first job
    hangs, RQ's timeout ends it, the retry processes the document, and the worker keeps
    serving the next one."""
    from tests.helpers import assert_exactly_once, stream_events, wait_until_settled
    from tests.test_replay import kill_group

    assert submit(conn, doc(STORM.read_bytes(), blog_id="hung"), settings)
    assert submit(conn, doc(STORM.read_bytes(), blog_id="after"), settings)
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        proc = workers(redis_url, 1, log=log, LIVEBLOG_FAILPOINTS="stall_once", LIVEBLOG_JOB_TIMEOUT_S="2",
                       LIVEBLOG_JOB_RETRIES="2", LIVEBLOG_RETRY_INTERVALS_S="0", LIVEBLOG_MAINTENANCE_INTERVAL_S="1")
    started = time.monotonic()
    try:
        wait_until_settled(conn, settings, timeout=60)
        elapsed = time.monotonic() - started
    finally:
        stop_pool(proc, 30)
    lines = log_path.read_text()
    assert proc.returncode == 0, lines[-2000:]
    assert lines.count('"job_timeout_retry"') == 1, lines[-3000:]
    assert elapsed >= 2, "the hung job must have run into its 2 s timeout"
    c = counters(conn)
    assert c["documents_accepted"] == 2 and c["documents_processed"] == 2
    assert c.get("documents_dead_lettered", 0) == 0 and conn.xlen("liveblog:deadletter") == 0
    events = stream_events(conn)
    for blog in ("hung", "after"):
        assert_exactly_once([e for e in events if e["data"]["blog"]["id"] == blog], posts=22, edits=0)
    assert stats.collect(conn, settings)["jobs"]["failed"] == 0 and gave_up(conn) == 0
