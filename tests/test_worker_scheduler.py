"""A SIGKILLed `liveblog worker` takes its RQ scheduler child with it.

RQ forks the scheduler (``with_scheduler=True``) and stops it only from the worker's
teardown, which a SIGKILL skips: the child used to run on as an orphan under PID 1,
holding the scheduler lock and moving jobs against a Redis nobody meant it to touch.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tests.conftest import ROOT, cli_env
from tests.helpers import wait_for
from tests.test_replay import kill_group

pytestmark = [pytest.mark.redis, pytest.mark.slow]

LOCK = "rq:scheduler-lock:liveblog-ingest"


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # exited, not yet reaped by PID 1
    except psutil.NoSuchProcess:
        return True


def test_sigkill_of_the_worker_alone_ends_its_scheduler_within_seconds(conn, redis_url, tmp_path):
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "liveblog.cli", "--log-format", "json", "worker"],
            cwd=ROOT, env=cli_env(redis_url, LIVEBLOG_MAINTENANCE_INTERVAL_S="1"),
            stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,  # cleanup can kill the group
        )
    try:
        parent = psutil.Process(worker.pid)
        assert wait_for(lambda: parent.children() and conn.exists(LOCK), timeout=60, step=0.1), (
            log_path.read_text()[-2000:])
        (scheduler,) = parent.children()
        assert scheduler.ppid() == worker.pid
        os.kill(worker.pid, signal.SIGKILL)  # the worker only, not its process group
        worker.wait(10)
        started = time.monotonic()
        assert wait_for(lambda: _gone(scheduler.pid), timeout=5, step=0.05), (
            f"scheduler {scheduler.pid} outlived its worker: {scheduler.status()}, ppid {scheduler.ppid()}")
        assert time.monotonic() - started < 5
        # it stopped the way a scheduler stops: the lock is released for the next worker's scheduler
        assert wait_for(lambda: not conn.exists(LOCK), timeout=3, step=0.05)
    finally:
        kill_group(worker)


def test_the_scheduler_loop_stops_when_its_parent_pid_changes(conn):
    """The watch that backs up PR_SET_PDEATHSIG (and stands in for it off Linux)."""
    from workers.worker import LiveblogScheduler

    scheduler = LiveblogScheduler(["liveblog-ingest"], connection=conn)
    scheduler._parent_pid = os.getppid()
    scheduler.heartbeat()
    assert scheduler._stop_requested is False
    scheduler._parent_pid = os.getppid() + 1_000_000  # as if the parent died and we were reparented
    scheduler.heartbeat()
    assert scheduler._stop_requested is True


def test_a_scheduler_whose_worker_died_before_it_started_releases_the_lock(conn, monkeypatch):
    """The worker takes the lock before it forks; a child that finds its parent already
    gone must still release it, or the next worker's scheduler waits out its TTL."""
    import workers.worker as worker_module
    from workers.worker import LiveblogScheduler

    scheduler = LiveblogScheduler(["liveblog-ingest"], connection=conn)
    assert scheduler.acquire_locks() and conn.exists(LOCK)
    scheduler._parent_pid = os.getppid() + 1_000_000
    monkeypatch.setattr(worker_module, "die_with_parent", lambda parent_pid, who="scheduler": False)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        scheduler.work()  # returns: its loop saw the stop request before doing anything
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert not conn.exists(LOCK)
    assert scheduler._stop_requested is True
