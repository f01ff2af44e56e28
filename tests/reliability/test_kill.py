"""SIGKILL a worker in the middle of a replay, again and again: nothing lost, nothing twice."""

from __future__ import annotations

import random
import time

import pytest

from liveblog import stats
from producers.enqueue import submit
from tests.helpers import (
    STORM, assert_exactly_once, counters, gave_up, replay_documents, stream_events, wait_for, wait_until_settled,
)
from tests.test_replay import kill_group, stop_pool, workers

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.reliability]

# Abandoned jobs come back fast: job timeout 6 s + 1 s grace, registry maintenance every second.
FAST_RECOVERY = {
    "LIVEBLOG_JOB_TIMEOUT_S": "6",
    "LIVEBLOG_ABANDONED_GRACE_S": "1",
    "LIVEBLOG_MAINTENANCE_INTERVAL_S": "1",
    "LIVEBLOG_JOB_RETRIES": "20",
    "LIVEBLOG_RETRY_INTERVALS_S": "0",
}




def test_sigkilled_workers_lose_nothing_and_duplicate_nothing(conn, settings, redis_url, tmp_path):
    # Two blogs' replays, one poll of each in turn (a poller's order): enough documents that
    # four workers, each killed shortly after it makes progress, cannot use them all up
    # (a warm worker commits a re-poll in ~25 ms).
    replays = [
        replay_documents(STORM.read_text(encoding="utf-8"), blog_id=blog, tz="Europe/London",
                         edit=("the first named storm of the autumn", "the first named storm of this autumn"),
                         edit_arrives_first=blog == "storm-syndicated")  # one replay's swap crosses the edit
        for blog in ("storm", "storm-syndicated")
    ]
    docs = [d for pair in zip(*replays) for d in pair]
    accepted = sum(submit(conn, raw, settings) for raw in docs)
    rng = random.Random(20240127)
    kills = 0
    for _ in range(4):
        proc = workers(redis_url, 1, **FAST_RECOVERY)
        before = counters(conn).get("documents_processed", 0)
        progressed = wait_for(lambda: counters(conn).get("documents_processed", 0) > before, timeout=30)
        time.sleep(rng.uniform(0.0, 0.1))  # then die at a random point of a later job
        kill_group(proc)
        kills += 1
        assert progressed, "the worker never committed a document before being killed"
        assert counters(conn).get("documents_processed", 0) < accepted, "the replay ran out before the kills did"
    # a last worker picks up the queue and, after the job timeout, the jobs the killed ones abandoned
    with (tmp_path / "survivor.log").open("wb") as log:  # a file, not a pipe nobody reads while it runs
        survivor = workers(redis_url, 1, log=log, **FAST_RECOVERY)
    try:
        wait_until_settled(conn, settings, timeout=120)
    finally:
        stop_pool(survivor, 30)
    assert kills == 4
    report = stats.collect(conn, settings)
    assert report["jobs"]["failed"] == 0 and gave_up(conn) == 0
    c = counters(conn)
    assert c["documents_processed"] + c.get("documents_dead_lettered", 0) == accepted
    events = stream_events(conn)
    for blog in ("storm", "storm-syndicated"):
        assert_exactly_once([e for e in events if e["data"]["blog"]["id"] == blog], posts=22, edits=1)
