"""A private redis-server on a free loopback port: for the benchmark and the test suite,
which must never use (let alone flush) a Redis somebody else runs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis


class RedisServerError(RuntimeError):
    """Raised when redis-server is missing or does not start."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """``extra`` arguments come last, so they override the defaults (e.g. ``--appendonly yes``)."""

    def __init__(self, workdir: Path, extra: list[str] | None = None) -> None:
        binary = os.environ.get("LIVEBLOG_REDIS_SERVER") or shutil.which("redis-server")
        if not binary:
            raise RedisServerError(
                "redis-server is not installed: run `make setup` (or apt-get install -y redis-server), "
                "or set LIVEBLOG_REDIS_SERVER to its path"
            )
        self.port = free_port()
        self.workdir = workdir
        self.args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                     "--dir", str(workdir), "--daemonize", "no", *(extra or [])]
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        """Start (or start again: same port, same directory, so an append-only file is replayed)."""
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
        raise RedisServerError(f"redis-server did not start on port {self.port}: {' '.join(self.args)}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
