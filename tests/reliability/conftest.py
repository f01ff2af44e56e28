"""Record what each fault scenario ended with, for the README's reliability table.

After every test of this folder that used the private Redis (`conn`), its counters are
appended to test-artifacts/reliability.jsonl: documents accepted / processed /
dead-lettered, posts created / updated / duplicate, events published, and lost =
accepted − processed − dead-lettered (0 when the laws hold).
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT

LEDGER = ROOT / "test-artifacts" / "reliability.jsonl"


def record(name: str, conn) -> None:
    raw = {k.decode(): int(v) for k, v in conn.hgetall("liveblog:stats").items()}
    get = lambda key: raw.get(key, 0)  # noqa: E731
    row = {
        "scenario": name,
        "accepted": get("documents_accepted"),
        "processed": get("documents_processed"),
        "dead_lettered": get("documents_dead_lettered"),
        "created": get("posts_created"),
        "updated": get("posts_updated"),
        "duplicates": get("posts_duplicate") + get("posts_stale"),
        "published": get("events_published"),
        "stream": int(conn.xlen("liveblog:events")) if conn.exists("liveblog:events") else 0,
    }
    # documents handed to the job directly (hostile-input tests) were never "accepted"
    row["lost"] = row["accepted"] - row["processed"] - row["dead_lettered"] if row["accepted"] else None
    LEDGER.parent.mkdir(exist_ok=True)
    with LEDGER.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Right after a scenario passes, before its fixtures are torn down, note its counters."""
    result = yield
    conn = item.funcargs.get("conn") if hasattr(item, "funcargs") else None
    if conn is not None:
        record(item.name, conn)
    return result
