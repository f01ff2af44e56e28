"""Redis with appendfsync everysec loses the last writes before a machine crash.

Killing only the redis-server process loses nothing under everysec (the append-only file
is already in the operating system's cache); a power cut loses what was not yet fsynced.
The test simulates that by cutting the tail off the append-only file before the restart.
Whatever is lost is lost consistently (accept marker, job and counter together), the
producer's ledger names exactly the lost documents, and producing them again restores the
stream with every post exactly once.
"""

from __future__ import annotations

import json

import pytest

from liveblog import stats
from liveblog.connect import connect
from producers.enqueue import ingest_queue, submit
from producers.ledger import Ledger, audit
from schemas.keys import Keys
from schemas.settings import Settings
from tests.conftest import RedisServer, run_cli
from tests.reliability.conftest import record
from tests.helpers import STORM, assert_exactly_once, counters, gave_up, replay_documents, stream_events
from tests.test_replay import workers

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.reliability]


def _incr_aof(workdir):
    (incr,) = (workdir / "appendonlydir").glob("*.incr.aof")
    return incr


def lose_unsynced_tail(workdir, keep: float = 0.6, *, keep_bytes: int | None = None) -> bytes:
    """What a power cut does to an everysec append-only file: the last writes never reached
    the disk. Keeps ``keep_bytes`` bytes, or the fraction ``keep``; returns what was cut."""
    incr = _incr_aof(workdir)
    data = incr.read_bytes()
    at = keep_bytes if keep_bytes is not None else int(len(data) * keep)
    incr.write_bytes(data[:at])
    return data[at:]


def test_a_crash_under_everysec_is_detected_by_the_ledger_and_repaired_by_producing_again(tmp_path):
    server = RedisServer(tmp_path, extra=["--appendonly", "yes", "--appendfsync", "everysec"]).start()
    settings = Settings(redis_url=server.url)
    conn = connect(settings)
    ledger = Ledger(tmp_path / "ledger.jsonl")
    docs = replay_documents(STORM.read_text(encoding="utf-8"), blog_id="storm", tz="Europe/London",
                            edit=("the first named storm of the autumn", "the first named storm of this autumn"))
    unique = list({d.document_id: d for d in docs}.values())
    try:
        for raw in unique:
            submit(conn, raw, settings)
            ledger.append([raw])
        server.proc.kill()
        server.proc.wait(10)
        lose_unsynced_tail(tmp_path)
        server.start()

        found = audit(conn, ledger, Keys())
        kept = found.documents - len(found.missing)
        assert found.documents == len(unique) and 0 < len(found.missing) < len(unique)
        assert counters(conn).get("documents_accepted", 0) == kept  # the counter lost what the markers lost
        assert ingest_queue(conn, settings).count == kept  # and so did the queue: no orphan either way
        checked = run_cli("stats", "--json", "--ledger", str(ledger.path), redis_url=server.url)
        report = json.loads(checked.stdout)
        assert len(report["ledger"]["missing"]) == len(found.missing)
        assert checked.returncode == (1 if found.missing else 0)

        missing = {e["document_id"] for e in found.missing}
        for raw in unique:  # the repair: produce the same sources again
            if raw.document_id in missing:
                assert submit(conn, raw, settings)
        assert audit(conn, ledger, Keys()).ok
        proc = workers(server.url, 2, "--burst")
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert stats.collect(conn, settings)["reconciled"]["ok"]
        assert_exactly_once(stream_events(conn), posts=22, edits=1)
        record(f"redis_crash_everysec[lost {len(found.missing)} of {found.documents}, restored]", conn)
    finally:
        server.stop()


def test_a_power_cut_under_everysec_while_workers_commit_loses_nothing_and_publishes_nothing_twice(tmp_path):
    """As above, but with two workers committing when the power goes, and the cut in the
    middle of what they wrote: the lost tail holds commits and RQ's bookkeeping of them, cut
    at an arbitrary byte. A commit is one script, so it is either whole or gone (Redis drops
    a truncated last transaction on load); a job whose commit was lost is still queued or
    started and runs again, a job whose commit survived finds its document done. After the
    restart the workers settle with every post exactly once."""
    from liveblog.connect import connect as connect_
    from tests.helpers import wait_for, wait_until_settled
    from tests.reliability.test_kill import FAST_RECOVERY
    from tests.test_replay import stop_pool

    server = RedisServer(tmp_path, extra=["--appendonly", "yes", "--appendfsync", "everysec"]).start()
    settings = Settings(redis_url=server.url, retry_intervals_s=(0,), job_retries=20)
    conn = connect_(settings)
    ledger = Ledger(tmp_path / "ledger.jsonl")
    replays = [
        replay_documents(STORM.read_text(encoding="utf-8"), blog_id=blog, tz="Europe/London",
                         edit=("the first named storm of the autumn", "the first named storm of this autumn"))
        for blog in ("storm", "storm-syndicated")
    ]
    unique = list({d.document_id: d for pair in zip(*replays) for d in pair}.values())
    for raw in unique:
        submit(conn, raw, settings)
        ledger.append([raw])
    submitted_bytes = _incr_aof(tmp_path).stat().st_size  # Redis writes the AOF before it replies
    with (tmp_path / "workers.log").open("wb") as log:
        pool = workers(server.url, 2, log=log, **FAST_RECOVERY)
    try:
        assert wait_for(lambda: counters(conn).get("documents_processed", 0) >= len(unique) // 3, timeout=90)
        processed_before = counters(conn)["documents_processed"]
        assert processed_before < len(unique), "the replay ran out before the power cut"
        server.proc.kill()
        server.proc.wait(10)
        written = _incr_aof(tmp_path).stat().st_size
        # cut in the middle of what the workers wrote: the lost tail holds commits (their
        # event XADDs) and RQ's records of finished jobs, but no accepted document
        cut = lose_unsynced_tail(tmp_path, keep_bytes=submitted_bytes + (written - submitted_bytes) // 2)
        lost_events = cut.count(b"$15\r\nliveblog:events\r\n")
        assert lost_events > 0, "the cut must take committed events with it"
        server.start()  # the workers reconnect by themselves

        assert audit(conn, ledger, Keys()).ok  # the cut spared every accepted document
        wait_until_settled(conn, settings, timeout=150)
        assert stats.collect(conn, settings)["jobs"]["failed"] == 0 and gave_up(conn) == 0
        events = stream_events(conn)
        for blog in ("storm", "storm-syndicated"):
            assert_exactly_once([e for e in events if e["data"]["blog"]["id"] == blog], posts=22, edits=1)
        record(f"power_cut_everysec_with_workers[{processed_before} of {len(unique)} processed at the cut, "
               f"{lost_events} event writes cut, restored by re-running their jobs]", conn)
    finally:
        try:
            stop_pool(pool)
        finally:
            server.stop()
