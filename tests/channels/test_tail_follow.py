"""`liveblog tail --follow --group NAME` as a running process: events committed while it runs
arrive as NDJSON, in stream order, each once; it stops on SIGINT and its group resumes after
what it printed."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import ROOT, cli_env, run_cli
from tests.dedup.pages import FILLER, FLOOD, OTHER_FLOOD, page, post
from tests.helpers import PlainEnricher, stream_events
from workers.pipeline import DocumentProcessor

pytestmark = pytest.mark.redis
ARRIVAL_BUDGET_S = 5.0  # a follower blocks 5 s per read; a new entry wakes it at once


class Follower:
    """A `liveblog tail` subprocess whose stdout lines are collected by a thread."""

    def __init__(self, redis_url: str, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "liveblog.cli", "tail", *args], cwd=ROOT,
                                     env=cli_env(redis_url), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def read(self, count: int, timeout_s: float) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        out = []
        while len(out) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.proc.poll() is not None and self.lines.empty():
                raise AssertionError(f"{len(out)} of {count} events in {timeout_s}s "
                                     f"(exit {self.proc.poll()}, stderr {self.proc.stderr.read() if self.proc.poll() is not None else ''!r})")
            try:
                line = self.lines.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                continue
            out.append(json.loads(line))  # every line is one JSON object: NDJSON, not the TTY format
        return out

    def stop(self, timeout_s: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout_s)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def follower(redis_url):
    started: list[Follower] = []

    def start(*args: str) -> Follower:
        started.append(Follower(redis_url, *args))
        return started[-1]

    yield start
    for f in started:
        f.stop()


def test_follow_with_a_group_prints_new_events_as_ndjson_and_resumes_after_them(conn, settings, redis_url, follower):
    processor = DocumentProcessor(conn, settings, PlainEnricher())
    a = post("a", 6, "River Tessel bursts its banks at Keldby", FLOOD)
    b = post("b", 7, "Sallow End rescue", OTHER_FLOOD)
    processor.process(page([a], minutes_after=5))  # the backlog a new group starts with

    tail = follower("--follow", "--group", "live", "--consumer", "c1")
    [backlog] = tail.read(1, timeout_s=30)  # the process's start-up (imports) is the slow part
    assert backlog["data"]["post"]["title"] == "River Tessel bursts its banks at Keldby"

    processor.process(page([a, b], minutes_after=10))  # a new post while it follows
    committed = time.monotonic()
    [new] = tail.read(1, timeout_s=ARRIVAL_BUDGET_S)
    assert time.monotonic() - committed < ARRIVAL_BUDGET_S
    assert new["type"] == "liveblog.post.created" and new["data"]["post"]["title"] == "Sallow End rescue"

    edited = post("b", 7, "Sallow End rescue", OTHER_FLOOD + " All five are safe.")
    processor.process(page([a, edited, post("c", 8, "Valley notice", FILLER[0])], minutes_after=15))
    later = tail.read(2, timeout_s=ARRIVAL_BUDGET_S)
    assert [(e["type"], e["data"]["post"]["title"], e["data"]["post"]["revision"]) for e in later] == [
        ("liveblog.post.created", "Valley notice", 1), ("liveblog.post.updated", "Sallow End rescue", 2)]

    printed = [backlog, new, *later]
    assert [e["id"] for e in printed] == [e["id"] for e in stream_events(conn)]  # every event, once, in order
    stopped = time.monotonic()
    assert tail.stop() == 130  # SIGINT: a clean stop, no traceback
    assert time.monotonic() - stopped < 10
    assert b"Traceback" not in tail.proc.stderr.read()
    assert conn.xpending("liveblog:events", "live")["pending"] == 0  # each printed entry was acknowledged

    processor.process(page([a, edited, post("c", 8, "Valley notice", FILLER[0]),
                            post("d", 9, "Bus timetables", FILLER[2])], minutes_after=20))
    resumed = run_cli("tail", "--group", "live", redis_url=redis_url)
    assert [json.loads(line)["data"]["post"]["title"] for line in resumed.stdout.splitlines()] == ["Bus timetables"]


def test_follow_without_a_group_reads_from_the_start_and_keeps_waiting(conn, settings, follower):
    processor = DocumentProcessor(conn, settings, PlainEnricher())
    a = post("a", 6, "River Tessel bursts its banks at Keldby", FLOOD)
    processor.process(page([a], minutes_after=5))
    tail = follower("--follow", "--blog", "valley")
    assert [e["data"]["post"]["id"] for e in tail.read(1, timeout_s=30)]
    time.sleep(0.5)
    assert tail.proc.poll() is None  # still following an idle stream
    processor.process(page([a, post("b", 7, "Sallow End rescue", OTHER_FLOOD)], minutes_after=10))
    [new] = tail.read(1, timeout_s=ARRIVAL_BUDGET_S)
    assert new["data"]["blog"]["id"] == "valley" and new["data"]["post"]["title"] == "Sallow End rescue"
    assert tail.stop() == 130


def test_ctrl_c_while_an_entry_is_printed_waits_for_its_acknowledgement():
    # the interrupt lands between printing an entry and acknowledging it: it is raised only after
    import os

    from liveblog.tail_cli import _ctrl_c_after

    steps = []
    with pytest.raises(KeyboardInterrupt):
        with _ctrl_c_after():
            steps.append("printed")
            os.kill(os.getpid(), signal.SIGINT)
            steps.append("acknowledged")
    assert steps == ["printed", "acknowledged"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
