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
from tests.helpers import STORM, assert_exactly_once, counters, replay_documents, stream_events
from tests.test_replay import workers

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.reliability]


def lose_unsynced_tail(workdir, keep: float = 0.6) -> None:
    """What a power cut does to an everysec append-only file: the last writes never reached the disk."""
    (incr,) = (workdir / "appendonlydir").glob("*.incr.aof")
    data = incr.read_bytes()
    incr.write_bytes(data[: int(len(data) * keep)])


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
