"""`liveblog worker --processes N` keeps its pool: a dead child is started again (with a
backoff, logged), SIGTERM still stops them all, and a SIGKILLed supervisor leaves no
orphans - its children finish their job and exit. Real processes, generous timeouts."""

from __future__ import annotations

import json
import os
import signal

import psutil
import pytest
from rq import Worker
from rq.registry import StartedJobRegistry

from liveblog.cli import RESTART_MAX_S, restart_delay
from producers.enqueue import ingest_queue, submit
from tests.helpers import STORM, counters, doc, wait_for
from tests.test_replay import kill_group, workers

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ENV = {"LIVEBLOG_MAINTENANCE_INTERVAL_S": "1", "LIVEBLOG_ABANDONED_GRACE_S": "1"}


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _children(pool) -> set[int]:
    """The pool's live worker processes (its direct children; their schedulers are theirs)."""
    try:
        return {c.pid for c in psutil.Process(pool.pid).children() if c.status() != psutil.STATUS_ZOMBIE}
    except psutil.NoSuchProcess:
        return set()


def _log_events(path, event: str) -> list[dict]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if row.get("event") == event:
            out.append(row)
    return out


def test_the_restart_backoff_doubles_for_a_crash_loop_and_is_capped():
    assert [restart_delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert restart_delay(30) == RESTART_MAX_S


def test_a_killed_child_is_started_again_and_sigterm_still_stops_the_whole_pool(conn, redis_url, tmp_path, settings):
    log_path = tmp_path / "pool.log"
    with log_path.open("wb") as log:
        pool = workers(redis_url, 2, log=log, **ENV)
    try:
        assert wait_for(lambda: len(_children(pool)) == 2 and Worker.count(connection=conn) == 2, timeout=90,
                        step=0.2), log_path.read_text()[-2000:]
        first = _children(pool)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)  # the OOM killer's way
        assert wait_for(lambda: len(_children(pool)) == 2 and _children(pool) != first, timeout=60, step=0.2), (
            log_path.read_text()[-2000:])
        (restarted,) = _log_events(log_path, "worker_restarting")
        assert restarted["pid"] == victim and restarted["signal"] == "SIGKILL" and restarted["delay_s"] == 1.0
        # killed again soon after its start: a crash loop, so the next start waits longer
        second = _children(pool) - first
        os.kill(second.pop(), signal.SIGKILL)
        assert wait_for(lambda: len(_log_events(log_path, "worker_restarting")) == 2, timeout=60, step=0.2)
        assert _log_events(log_path, "worker_restarting")[1]["delay_s"] == 2.0
        assert wait_for(lambda: len(_children(pool)) == 2, timeout=60, step=0.2)
        # the pool is whole and works: a document is processed
        assert wait_for(lambda: Worker.count(connection=conn) >= 2, timeout=90, step=0.2)
        assert submit(conn, doc(STORM.read_bytes()), settings)
        assert wait_for(lambda: counters(conn).get("documents_processed", 0) == 1, timeout=90, step=0.2)

        everyone = _children(pool)
        pool.send_signal(signal.SIGTERM)
        assert pool.wait(90) == 0, log_path.read_text()[-2000:]
        assert wait_for(lambda: all(_gone(pid) for pid in everyone), timeout=30, step=0.2)
        assert len(_log_events(log_path, "worker_restarting")) == 2  # nothing restarted on the way out
    finally:
        kill_group(pool)


def test_a_sigkilled_supervisor_leaves_no_orphans_and_its_children_finish_their_job(
        conn, redis_url, tmp_path, settings):
    """The first job a child takes hangs 4 s (failpoint stall_once): the supervisor is killed
    meanwhile; the child finishes that job, publishes it, and exits with its pool sibling."""
    log_path = tmp_path / "pool.log"
    with log_path.open("wb") as log:
        pool = workers(redis_url, 2, log=log, LIVEBLOG_FAILPOINTS="stall_once", LIVEBLOG_FAILPOINT_STALL_S="4",
                       LIVEBLOG_JOB_TIMEOUT_S="120", **ENV)
    try:
        assert wait_for(lambda: len(_children(pool)) == 2 and Worker.count(connection=conn) == 2, timeout=90,
                        step=0.2), log_path.read_text()[-2000:]
        children = _children(pool)
        assert submit(conn, doc(STORM.read_bytes()), settings)
        started = StartedJobRegistry(queue=ingest_queue(conn, settings))
        assert wait_for(lambda: started.count == 1, timeout=60, step=0.1), log_path.read_text()[-2000:]
        os.kill(pool.pid, signal.SIGKILL)  # the supervisor alone, not its process group
        pool.wait(10)
        assert wait_for(lambda: all(_gone(pid) for pid in children), timeout=90, step=0.2), (
            "children outlived their supervisor: " + log_path.read_text()[-2000:])
        # the job in hand was finished, not abandoned: published once, nothing left started
        assert counters(conn).get("documents_processed", 0) == 1
        assert conn.xlen("liveblog:events") == 22 and started.count == 0
        assert wait_for(lambda: Worker.count(connection=conn) == 0, timeout=30, step=0.2)  # deregistered cleanly
    finally:
        kill_group(pool)
