"""Redis goes away in the middle of a replay and comes back: workers and producers ride it out.

With ``appendfsync always`` a crash (SIGKILL) loses nothing Redis acknowledged. With
``everysec`` a crash may lose the last second of writes — consistently, since the job, the
accept marker and the counter are written in one transaction — and re-running the producer
restores them; a clean restart (SIGTERM, which fsyncs) loses nothing, which is what runs here.
"""

from __future__ import annotations

import signal
import time

import pytest
import redis

from liveblog import stats
from liveblog.connect import connect
from producers.enqueue import submit
from schemas.settings import Settings
from tests.conftest import RedisServer
from tests.helpers import (
    STORM, assert_exactly_once, counters, gave_up, replay_documents, stream_events, wait_for, wait_until_settled,
)
from tests.reliability.conftest import record
from tests.reliability.test_kill import FAST_RECOVERY
from tests.test_replay import stop_pool, workers

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.reliability]


@pytest.mark.parametrize(("fsync", "stop"), [("always", signal.SIGKILL), ("everysec", signal.SIGTERM)])
def test_redis_restarted_mid_replay_loses_nothing_and_publishes_nothing_twice(fsync, stop, tmp_path):
    server = RedisServer(tmp_path, extra=["--appendonly", "yes", "--appendfsync", fsync]).start()
    settings = Settings(redis_url=server.url, retry_intervals_s=(0,), job_retries=20)
    conn = connect(settings)
    docs = replay_documents(STORM.read_text(encoding="utf-8"), blog_id="storm", tz="Europe/London",
                            edit=("the first named storm of the autumn", "the first named storm of this autumn"))
    first, rest = docs[: len(docs) // 2], docs[len(docs) // 2 :]
    accepted = sum(submit(conn, raw, settings) for raw in first)
    with (tmp_path / "workers.log").open("wb") as log:  # a file, not a pipe nobody reads while it runs
        pool = workers(server.url, 2, log=log, **FAST_RECOVERY)
    try:
        assert wait_for(lambda: counters(conn).get("documents_processed", 0) >= 3, timeout=60)
        server.proc.send_signal(stop)
        server.proc.wait(20)
        time.sleep(1.0)
        server.start()  # same port, same directory: the append-only file is replayed
        accepted += sum(submit(conn, raw, settings) for raw in rest)  # the producer reconnects by itself

        wait_until_settled(conn, settings, timeout=150)
        c = counters(conn)
        assert c["documents_accepted"] == accepted
        assert c["documents_processed"] + c.get("documents_dead_lettered", 0) == accepted
        assert stats.collect(conn, settings)["jobs"]["failed"] == 0 and gave_up(conn) == 0
        assert_exactly_once(stream_events(conn), posts=22, edits=1)
        record(f"redis_restart[{fsync}]", conn)
    finally:
        try:
            stop_pool(pool)
        finally:
            server.stop()
            redis.Redis.close(conn)
