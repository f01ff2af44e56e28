"""Processes racing on near-duplicates: one original, one repeat, every time.

Each round, four processes commit two near-duplicate documents (an original in one
blog, a syndicated copy in another; each document delivered twice, as a redelivered
job would be). Every process waits at a barrier, pre-checks, then lingers before its
first commit so that all of them have read the empty index before anyone writes:
the commit script must detect the bucket change and make the loser re-plan.
"""

from __future__ import annotations

import multiprocessing as mp
import time

import pytest
import redis

from schemas.settings import Settings
from tests.dedup.pages import FLOOD, page, post
from tests.helpers import PlainEnricher, stream_events
from workers.pipeline import DocumentProcessor  # imported before forking: children start warm

pytestmark = pytest.mark.redis

ROUNDS = 10
PROCESSES = 4


def _documents():
    original = page([post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD)], minutes_after=5, blog="valley")
    copy = page([post("s", 6.2, "Flooding hits Keldby as Tessel overtops", FLOOD + "\n\nReporting by Northern Wire.",
                      blog="coast")], minutes_after=5, blog="coast")
    return [original, copy]


def _worker(url: str, settings_json: str, which: int, barrier, results) -> None:
    processor = DocumentProcessor(redis.Redis.from_url(url), Settings.model_validate_json(settings_json),
                                  PlainEnricher())
    real_commit, calls = processor.committer.commit, []

    def lingering_commit(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.2)  # everyone has pre-checked by now
        return real_commit(**kwargs)

    processor.committer.commit = lingering_commit
    document = _documents()[which % 2]
    barrier.wait(timeout=30)
    outcome = processor.process(document)
    results.put((which, outcome.status, outcome.commit_attempts))


def test_racing_near_duplicates_give_one_original_and_one_repeat(conn, settings, redis_url):
    ctx = mp.get_context("fork")
    for round_no in range(ROUNDS):
        conn.flushall()
        barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
        procs = [ctx.Process(target=_worker, args=(redis_url, settings.model_dump_json(), i, barrier, results))
                 for i in range(PROCESSES)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0, f"round {round_no}: worker exited with {p.exitcode}"
        outcomes = [results.get(timeout=5) for _ in procs]
        created = [e["data"] for e in stream_events(conn) if e["type"] == "liveblog.post.created"]
        originals = [d for d in created if d["repeat_of"] is None]
        repeats = [d for d in created if d["repeat_of"] is not None]
        assert len(created) == 2, f"round {round_no}: {len(created)} created events"
        assert len(originals) == 1 and len(repeats) == 1, f"round {round_no}: {created}"
        assert repeats[0]["repeat_of"] == originals[0]["post"]["id"]
        assert repeats[0]["story_id"] == originals[0]["story_id"]
        assert any(attempts > 1 for _, status, attempts in outcomes if status == "committed"), outcomes
