"""Redis comes back empty under a running pool (restarted without persistence, a failover to a
replica that missed the last writes, FLUSHALL): the workers keep serving, and `liveblog health`
and the `liveblog_workers` gauge must see them again instead of reporting no worker for ever."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest
from rq import Worker

from liveblog import health, metrics, stats
from producers.enqueue import submit
from tests.helpers import STORM, assert_exactly_once, doc, stream_events, wait_for, wait_until_settled
from tests.test_replay import stop_pool, workers

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.reliability]


def test_workers_register_again_after_redis_lost_everything(conn, settings, redis_url, tmp_path):
    with (tmp_path / "pool.log").open("wb") as log:
        pool = workers(redis_url, 2, log=log, LIVEBLOG_MAINTENANCE_INTERVAL_S="1")
    try:
        assert wait_for(lambda: health.check(conn, settings).workers == 2, timeout=60), "the pool never came up"
        conn.flushall()  # what a redis-server restarted without persistence holds: nothing
        assert health.check(conn, settings).workers == 0
        came_back = wait_for(lambda: health.check(conn, settings).workers == 2, timeout=30, step=0.2)
        report = health.check(conn, settings)
        assert came_back, f"two live workers, and health says: {health.render(report)}"
        assert report.ok
        assert {w.get_state() for w in Worker.all(connection=conn)} <= {"idle", "busy"}
        assert "liveblog_workers 2.0" in generate_latest(metrics.registry(conn, settings)).decode()
        # and they still serve: a document accepted after the loss is published once
        assert submit(conn, doc(STORM.read_bytes(), blog_id="after-loss"), settings)
        wait_until_settled(conn, settings, timeout=60)
    finally:
        stop_pool(pool, 30)
    assert_exactly_once(stream_events(conn), posts=22, edits=0)
    assert stats.collect(conn, settings)["reconciled"]["ok"]
