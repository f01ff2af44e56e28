"""`liveblog health`: 0 healthy, 1 unhealthy with the reason, 3 when Redis cannot be reached."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone

import pytest
from rq.serializers import JSONSerializer

from liveblog import health
from producers.enqueue import ingest_queue, submit
from tests.conftest import free_port
from tests.helpers import STORM, doc
from workers.worker import LiveblogWorker
from tests.test_replay import kill_group

pytestmark = pytest.mark.redis


@pytest.fixture
def liveblog(monkeypatch):
    """``liveblog.cli.main`` with the ops commands registered (a no-op once cli.py registers them)."""
    from liveblog import cli, ops_cli

    original = cli.build_parser

    def build() -> argparse.ArgumentParser:
        parser = original()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if "health" not in sub.choices:
            ops_cli.add_commands(sub)
        return parser

    monkeypatch.setattr(cli, "build_parser", build)
    for name, handler in ops_cli.COMMANDS.items():
        monkeypatch.setitem(cli.COMMANDS, name, handler)
    return cli.main


@pytest.fixture
def live_worker(conn, settings):
    """A worker registered in Redis as RQ does at start-up, without running jobs."""
    worker = LiveblogWorker([ingest_queue(conn, settings)], connection=conn, serializer=JSONSerializer)
    worker.register_birth()
    yield worker
    worker.register_death()


def test_unreachable_redis_exits_3(liveblog, monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    assert liveblog(["health"]) == 3
    assert "cannot reach Redis" in capsys.readouterr().err


def test_no_worker_alive_is_unhealthy_with_the_reason(liveblog, redis_url, monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert liveblog(["health"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("unhealthy: workers 0")
    assert "no worker is alive on queue 'liveblog-ingest'" in out


def test_a_live_worker_and_an_empty_queue_is_healthy(liveblog, redis_url, live_worker, monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert liveblog(["health", "--local"]) == 0  # the worker runs on this host
    assert capsys.readouterr().out.startswith("healthy: workers 1, queued 0, queue lag 0.0s")


def test_queue_lag_over_the_threshold_is_unhealthy(liveblog, conn, settings, redis_url, live_worker, monkeypatch,
                                                   capsys):
    monkeypatch.setenv("REDIS_URL", redis_url)
    submit(conn, doc(STORM.read_bytes()), settings)
    assert liveblog(["health", "--max-queue-lag-s", "0"]) == 1
    assert "queue lag" in capsys.readouterr().out
    assert liveblog(["health", "--max-queued", "0"]) == 1
    assert "1 documents queued, more than the allowed 0" in capsys.readouterr().out
    assert liveblog(["health", "--max-queue-lag-s", "60", "--max-queued", "5"]) == 0


def test_lag_is_the_age_of_the_oldest_queued_job(conn, settings, live_worker):
    submit(conn, doc(STORM.read_bytes()), settings)
    later = datetime.now(timezone.utc) + timedelta(seconds=90)
    report = health.check(conn, settings, max_queue_lag_s=60, max_heartbeat_age_s=120, now=later)
    assert 89 < report.queue_lag_s < 92
    assert report.ok is False and len(report.reasons) == 1


def test_local_check_ignores_workers_of_other_hosts(conn, settings, live_worker):
    assert health.check(conn, settings, local_host=live_worker.hostname).ok
    elsewhere = health.check(conn, settings, local_host="another-container")
    assert elsewhere.workers == 0
    assert elsewhere.reasons == ["no worker is alive on host 'another-container' on queue 'liveblog-ingest': "
                                 "start `liveblog worker`"]


def test_json_output_carries_the_reasons(liveblog, redis_url, monkeypatch, capsys):
    import json

    monkeypatch.setenv("REDIS_URL", redis_url)
    assert liveblog(["health", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["workers"] == 0 and report["reasons"]


def _backdate_heartbeat(conn, worker, seconds: float, *, state: str | None = None) -> None:
    from rq.utils import utcformat

    stamp = datetime.now(timezone.utc) - timedelta(seconds=seconds)
    conn.hset(worker.key, "last_heartbeat", utcformat(stamp))
    if state is not None:
        conn.hset(worker.key, "state", state)


def test_a_worker_whose_heartbeat_is_stale_counts_as_dead_and_is_named(liveblog, conn, settings, redis_url,
                                                                       live_worker, monkeypatch, capsys):
    # RQ keeps a dead worker's key for minutes; its heartbeat says it stopped long ago.
    _backdate_heartbeat(conn, live_worker, 60)
    report = health.check(conn, settings)
    limit = health.default_max_heartbeat_age_s(settings)
    assert report.workers == 0 and report.dead_workers == [live_worker.name]
    assert len(report.reasons) == 1
    reason = report.reasons[0]
    assert reason.startswith("no worker is alive on queue 'liveblog-ingest': start `liveblog worker`")
    assert f"worker {live_worker.name!r} last heartbeat 60s ago, more than {limit:g}s: presumed dead" in reason
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert liveblog(["health"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("unhealthy: workers 0 (1 silent, presumed dead)") and live_worker.name in out
    assert liveblog(["health", "--max-heartbeat-age-s", "120"]) == 0
    capsys.readouterr()
    assert liveblog(["health", "--json"]) == 1
    import json

    assert json.loads(capsys.readouterr().out)["dead_workers"] == [live_worker.name]


def test_the_default_heartbeat_limit_follows_the_workers_heartbeat_interval(conn, settings):
    from workers import runtime
    from workers.worker import LiveblogWorker, heartbeat_interval_s

    runtime.configure(settings)
    worker = LiveblogWorker([ingest_queue(conn, settings)], connection=conn, serializer=JSONSerializer)
    assert worker.dequeue_timeout == heartbeat_interval_s(settings) == settings.maintenance_interval_s
    assert health.default_max_heartbeat_age_s(settings) == max(
        health.HEARTBEAT_MISSES * heartbeat_interval_s(settings), health.MIN_HEARTBEAT_AGE_S)
    slow = settings.model_copy(update={"maintenance_interval_s": 30})
    assert health.default_max_heartbeat_age_s(slow) == 90


def test_a_dead_worker_next_to_a_live_one_is_a_note_not_a_failure(conn, settings, live_worker):
    other = LiveblogWorker([ingest_queue(conn, settings)], connection=conn, serializer=JSONSerializer)
    other.register_birth()
    try:
        _backdate_heartbeat(conn, other, 600)
        report = health.check(conn, settings)
        assert report.ok and report.workers == 1 and report.dead_workers == [other.name]
        assert report.notes == [f"worker {other.name!r} last heartbeat 600s ago, more than "
                                f"{health.default_max_heartbeat_age_s(settings):g}s: presumed dead"]
        assert health.render(report).startswith("healthy: workers 1 (1 silent, presumed dead), queued 0")
    finally:
        other.register_death()


def test_a_busy_worker_is_allowed_its_job_timeout_without_a_heartbeat(conn, settings, live_worker):
    # A SimpleWorker does not heartbeat while its job runs: RQ's own allowance is the job
    # timeout plus the grace, so health allows that on top of the idle limit.
    idle_limit = health.default_max_heartbeat_age_s(settings)
    allowed = idle_limit + settings.job_timeout_s + settings.abandoned_grace_s
    _backdate_heartbeat(conn, live_worker, allowed - 5, state="busy")
    assert health.check(conn, settings).workers == 1
    _backdate_heartbeat(conn, live_worker, allowed + 5, state="busy")
    report = health.check(conn, settings)
    assert report.workers == 0 and report.dead_workers == [live_worker.name]
    assert f"more than {allowed:g}s (busy: job timeout {settings.job_timeout_s}s + grace" in report.reasons[0]


def test_a_sigkilled_worker_process_is_reported_dead_within_seconds(conn, settings, redis_url, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT, cli_env
    from tests.helpers import wait_for

    name = f"health-probe-{os.getpid()}"
    with (tmp_path / "worker.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "liveblog.cli", "--log-format", "json", "worker", "--name", name],
            cwd=ROOT, env=cli_env(redis_url, LIVEBLOG_MAINTENANCE_INTERVAL_S="1"), stdout=subprocess.DEVNULL,
            stderr=log, start_new_session=True,
        )
    try:
        def alive() -> bool:
            return health.check(conn, settings, max_heartbeat_age_s=3).workers == 1

        assert wait_for(alive, timeout=60, step=0.2), (tmp_path / "worker.log").read_text()[-2000:]
        time.sleep(4)  # longer than the limit: an idle worker keeps heartbeating
        assert alive(), "an idle worker stopped heartbeating"
        os.kill(proc.pid, signal.SIGKILL)  # no chance to register its death
        proc.wait(10)
        assert conn.sismember("rq:workers", f"rq:worker:{name}")  # RQ still lists it ...
        started = time.monotonic()
        assert wait_for(lambda: not alive(), timeout=10, step=0.2)  # ... health does not
        assert time.monotonic() - started < 6
        report = health.check(conn, settings, max_heartbeat_age_s=3)
        assert report.dead_workers == [name] and f"worker {name!r} last heartbeat" in report.reasons[0]
    finally:
        kill_group(proc)
