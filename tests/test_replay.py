"""A live page replayed poll by poll through real Redis and several worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from rq import Worker

from liveblog import stats
from producers.enqueue import submit
from tests.conftest import ROOT, SEEDS, cli_env
from tests.helpers import (
    STORM, assert_exactly_once, counters, replay_documents, stream_events, wait_for, wait_until_settled,
)

pytestmark = [pytest.mark.redis, pytest.mark.slow]

SEED = SEEDS / "independent-ukraine-live-2022-01-28.txt"
STORM_EDIT = ("the first named storm of the autumn", "the first named storm of this autumn")
CASES = {  # path, zone, edit, whether the first edited poll arrives before older unedited ones
    "storm-sample": (STORM, "Europe/London", STORM_EDIT, False),
    "storm-sample-edit-first": (STORM, "Europe/London", STORM_EDIT, True),
    "independent-seed": (SEED, "Europe/London", ("which shares over 600km of its border", "which shares more than 600km of its border"), False),
}


def workers(redis_url: str, processes: int, *extra: str, log=None, **env: str) -> subprocess.Popen:
    """``log``: an open file for the workers' stderr. The default, a pipe, is read only when
    the caller waits for the process: enough for a short run, while a long-running pool
    that fills the pipe's 64 KB blocks on its next log line."""
    return subprocess.Popen(
        [sys.executable, "-m", "liveblog.cli", "--log-format", "json", "worker", "--processes", str(processes), *extra],
        cwd=ROOT, env=cli_env(redis_url, **env), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if log is None else log,
        start_new_session=True,  # its own process group: see kill_group
    )


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a worker and whatever it started (RQ's scheduler runs in a child process that a
    SIGKILL of the worker alone would leave running against the test's Redis)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


def stop_pool(proc: subprocess.Popen, timeout: float = 60) -> None:
    """SIGTERM a worker pool (each process finishes its job and exits), then make sure the
    whole group is gone."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    finally:
        kill_group(proc)


@pytest.mark.parametrize("case", sorted(CASES))
def test_replayed_growing_page_publishes_each_post_once_and_each_edit_once(case, conn, settings, redis_url, tmp_path):
    path, tz, edit, edit_first = CASES[case]
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared is only beside the CI checkout)")
    docs = replay_documents(path.read_text(encoding="utf-8"), blog_id=case, tz=tz, edit=edit,
                            edit_arrives_first=edit_first)
    # Both processes ready before the first poll arrives: a warm worker commits a re-poll in
    # ~25 ms, so a burst pool's first process could drain the queue while the second starts.
    log_path = tmp_path / "workers.log"
    with log_path.open("wb") as log:
        proc = workers(redis_url, 2, log=log)
    try:
        assert wait_for(lambda: Worker.count(connection=conn) == 2, timeout=60, step=0.1), (
            log_path.read_text()[-2000:])
        accepted = sum(submit(conn, raw, settings) for raw in docs)
        wait_until_settled(conn, settings, timeout=180)
    finally:
        stop_pool(proc)
    assert proc.returncode == 0, log_path.read_text()[-2000:]

    expected_posts = {"storm-sample": 22, "storm-sample-edit-first": 22, "independent-seed": 52}[case]
    assert_exactly_once(stream_events(conn), posts=expected_posts, edits=1)
    report = stats.collect(conn, settings)
    assert report["reconciled"]["ok"], report
    c = counters(conn)
    assert c["documents_accepted"] == accepted == len({d.document_id for d in docs})
    assert c["documents_processed"] == accepted
    assert c["posts_created"] == expected_posts and c["posts_updated"] == 1
    finished_by = {conn.hget(key, "worker_name") for key in conn.scan_iter("rq:job:doc-*")}
    assert len(finished_by - {None}) == 2, "both worker processes took jobs"
