"""Shared fixtures: a private redis-server per test session, never the machine's own.

The real-server tests fail (never skip) when redis-server cannot be started:
set LIVEBLOG_REDIS_SERVER to its path if it is not on PATH.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from schemas.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SEEDS = ROOT.parent / "shared" / "seeds"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, workdir: Path, extra: list[str] | None = None) -> None:
        binary = os.environ.get("LIVEBLOG_REDIS_SERVER") or shutil.which("redis-server")
        if not binary:
            pytest.fail("redis-server is not installed: run `make setup` (or apt-get install -y redis-server)")
        self.port = free_port()
        self.workdir = workdir
        self.args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                     "--dir", str(workdir), "--daemonize", "no", *(extra or [])]
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        pytest.fail(f"redis-server did not start on port {self.port}: {' '.join(self.args)}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


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
