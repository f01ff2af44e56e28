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
    report = health.check(conn, settings, max_queue_lag_s=60, now=later)
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
