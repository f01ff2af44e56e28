"""A worker dies right after its commit, before RQ marks the job done: the retry publishes nothing."""

from __future__ import annotations


import pytest

from liveblog import stats
from producers.enqueue import submit
from tests.helpers import STORM, assert_exactly_once, counters, doc, stream_events, wait_until_settled
from tests.reliability.test_kill import FAST_RECOVERY
from tests.test_replay import kill_group, stop_pool, workers
from workers.failpoints import EXIT_STATUS

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.reliability]


def test_crash_between_commit_and_job_done_publishes_nothing_twice(conn, settings, redis_url):
    edited = STORM.read_bytes().replace(b"the first named storm of the autumn", b"the first named storm of this autumn")
    for i, data in enumerate([STORM.read_bytes(), edited]):
        assert submit(conn, doc(data, minutes=i), settings)
    crashing = workers(redis_url, 1, LIVEBLOG_FAILPOINTS="after_commit", **FAST_RECOVERY)
    crashing.wait(60)
    kill_group(crashing)  # its scheduler process outlives an os._exit
    assert crashing.returncode == EXIT_STATUS, crashing.stderr.read().decode()[-2000:]
    assert counters(conn)["documents_processed"] == 1  # committed ...
    assert stats.collect(conn, settings)["jobs"]["started"] == 1  # ... but RQ still thinks it runs
    survivor = workers(redis_url, 1, **FAST_RECOVERY)
    try:
        wait_until_settled(conn, settings, timeout=90)
    finally:
        stop_pool(survivor, 30)  # SIGTERM, then the whole group whatever happened
    c = counters(conn)
    assert c["documents_accepted"] == 2 and c["documents_processed"] == 2
    assert_exactly_once(stream_events(conn), posts=22, edits=1)
