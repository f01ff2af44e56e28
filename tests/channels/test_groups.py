"""Consumer groups on the event streams: every group reads every event once across a crash,
gaps left by retention are reported, and trimming never drops what a group has not read."""

from __future__ import annotations

import json

import pytest

from liveblog import consume
from tests.conftest import SAMPLES, run_cli

pytestmark = pytest.mark.redis
STORM = SAMPLES / "storm-live-2024-10-12.txt"


def ndjson(out: bytes) -> list[dict]:
    return [json.loads(line) for line in out.decode().splitlines()]


@pytest.fixture
def produced(redis_url, conn):
    assert run_cli("produce", str(STORM), "--tz", "Europe/London", redis_url=redis_url).returncode == 0
    assert run_cli("worker", "--burst", redis_url=redis_url).returncode == 0
    return [json.loads(f[b"event"]) for _, f in conn.xrange("liveblog:events")]


def test_two_groups_each_read_every_event_exactly_once_across_a_consumer_crash(redis_url, conn, produced):
    stream = "liveblog:events"
    first = ndjson(run_cli("tail", "--group", "desk", "--consumer", "a", "--count", "5", redis_url=redis_url).stdout)
    # consumer "a" takes four more and dies before processing (or acknowledging) them
    taken = conn.xreadgroup("desk", "a", {stream: ">"}, count=4)[0][1]
    assert len(taken) == 4 and conn.xpending(stream, "desk")["pending"] == 4
    rest = ndjson(run_cli("tail", "--group", "desk", "--consumer", "b", "--claim-idle-ms", "0",
                          redis_url=redis_url).stdout)
    other = ndjson(run_cli("tail", "--group", "archive", redis_url=redis_url).stdout)
    ids = [e["id"] for e in produced]
    # b claims a's four, reads them first (its own pending), then the rest: each event once, in order
    assert [e["id"] for e in first + rest] == ids
    assert [e["id"] for e in other] == ids
    assert conn.xpending(stream, "desk")["pending"] == 0
    assert ndjson(run_cli("tail", "--group", "desk", redis_url=redis_url).stdout) == []


def test_entries_idle_less_than_claim_idle_ms_stay_with_their_consumer(redis_url, conn, produced):
    consume.ensure_group(conn, "liveblog:events", "desk")
    conn.xreadgroup("desk", "a", {"liveblog:events": ">"}, count=3)
    rest = ndjson(run_cli("tail", "--group", "desk", "--consumer", "b", redis_url=redis_url).stdout)  # 60 s default
    assert len(rest) == len(produced) - 3
    assert conn.xpending("liveblog:events", "desk")["pending"] == 3


@pytest.mark.reliability
def test_a_group_behind_the_retention_is_told_how_many_entries_it_missed(redis_url, conn, produced):
    consume.ensure_group(conn, "liveblog:events", "slow")
    conn.xreadgroup("slow", "a", {"liveblog:events": ">"}, count=2)
    conn.xack("liveblog:events", "slow", *[i for i, _ in conn.xrange("liveblog:events", count=2)])
    conn.xtrim("liveblog:events", maxlen=10, approximate=False)  # what MAXLEN ~ does to a slow reader
    (state,) = consume.groups(conn, "liveblog:events")
    assert state.missed == len(produced) - 2 - 10
    stats = run_cli("stats", redis_url=redis_url)
    assert f"gap        group 'slow' on liveblog:events: {len(produced) - 12} entries trimmed".encode() in stats.stdout
    tail = run_cli("tail", "--group", "slow", redis_url=redis_url)
    assert len(ndjson(tail.stdout)) == 10
    assert f"{len(produced) - 12} entries trimmed before it read them".encode() in tail.stderr


def test_trim_keeps_what_a_group_has_not_read(redis_url, conn, produced):
    consume.ensure_group(conn, "liveblog:events", "slow")
    conn.xreadgroup("slow", "a", {"liveblog:events": ">"}, count=6)  # delivered, not acknowledged
    removed, kept = consume.safe_trim(conn, "liveblog:events", 5)
    assert removed == 0 and kept == len(produced) - 5
    conn.xack("liveblog:events", "slow", *[i for i, _ in conn.xrange("liveblog:events", count=6)])
    trim = run_cli("trim", "--maxlen", "5", redis_url=redis_url)
    assert trim.returncode == 0 and b"trimmed 6 entries" in trim.stderr
    assert conn.xlen("liveblog:events") == len(produced) - 6
    consume.ensure_group(conn, "liveblog:events", "late")  # reads from 0: the oldest entry left is its floor
    assert consume.safe_trim(conn, "liveblog:events", 5) == (0, len(produced) - 6 - 5)
    conn.xgroup_destroy("liveblog:events", "late")
    conn.xgroup_destroy("liveblog:events", "slow")
    assert consume.safe_trim(conn, "liveblog:events", 5) == (len(produced) - 6 - 5, 0)


@pytest.mark.reliability
def test_a_group_created_after_a_trim_is_told_every_entry_it_will_never_see(redis_url, conn, produced):
    conn.xtrim("liveblog:events", maxlen=10, approximate=False)
    consume.ensure_group(conn, "liveblog:events", "late")  # from the start of what is left
    (state,) = consume.groups(conn, "liveblog:events")
    assert state.missed == len(produced) - 10  # was 1: Redis cannot count for such a group


def test_entries_a_dead_consumer_held_that_were_trimmed_before_the_claim_are_reported(redis_url, conn, produced):
    """Delivered to "a", never acknowledged, then trimmed: XAUTOCLAIM drops them from the
    group's pending list (Redis 7) and tail used to say nothing; the events were lost silently."""
    stream = "liveblog:events"
    consume.ensure_group(conn, stream, "desk")
    taken = conn.xreadgroup("desk", "a", {stream: ">"}, count=3)[0][1]
    conn.xtrim(stream, minid=produced and _after(taken[-1][0]), approximate=False)  # retention took them
    result = run_cli("tail", "--group", "desk", "--consumer", "b", "--claim-idle-ms", "0", redis_url=redis_url)
    assert result.returncode == 0, result.stderr.decode()
    assert len(ndjson(result.stdout)) == len(produced) - 3
    assert ("gap: group 'desk' on liveblog:events: 3 entries delivered to a consumer and not acknowledged "
            "were trimmed before they were claimed") in result.stderr.decode()
    assert conn.xpending(stream, "desk")["pending"] == 0


def _after(entry_id: bytes) -> str:
    ms, seq = entry_id.decode().split("-")
    return f"{ms}-{int(seq) + 1}"
