"""Shared fixtures: a private redis-server per test session, never the machine's own.

The real-server tests fail (never skip) when redis-server cannot be started:
set LIVEBLOG_REDIS_SERVER to its path if it is not on PATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from liveblog.redis_server import PrivateRedis, RedisServerError, free_port  # noqa: F401 - free_port is shared
from schemas.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SEEDS = ROOT.parent / "shared" / "seeds"


class RedisServer(PrivateRedis):
    """The shared private redis-server; a missing or broken one fails the test, never skips it."""

    def __init__(self, workdir: Path, extra: list[str] | None = None) -> None:
        try:
            super().__init__(workdir, extra)
        except RedisServerError as exc:
            pytest.fail(str(exc))

    def start(self) -> RedisServer:
        try:
            return super().start()  # type: ignore[return-value]
        except RedisServerError as exc:
            pytest.fail(str(exc))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()  # our private server only; the machine's own Redis is never touched
    return redis_server.url


@pytest.fixture
def conn(redis_url: str) -> redis.Redis:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return Settings(redis_url=redis_url, job_timeout_s=20, abandoned_grace_s=1, maintenance_interval_s=1,
                    retry_intervals_s=(0, 0, 0, 0, 0))


@pytest.fixture
def fake_conn():
    import fakeredis

    return fakeredis.FakeRedis()


def cli_env(redis_url: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RQ_REDIS_URL")}
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_cli(*args: str, redis_url: str | None = None, input: bytes | None = None, timeout: float = 120,
            **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "liveblog.cli", *args], cwd=ROOT, env=cli_env(redis_url, **env), input=input,
        capture_output=True, timeout=timeout,
    )
