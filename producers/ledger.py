"""The producer's own record of what Redis acknowledged, to detect what a Redis crash lost.

With ``appendfsync everysec`` a Redis crash can lose the last second of writes. It loses them
consistently — the accept marker, the job and the counter go together — so Redis alone cannot
see the hole. The ledger can: ``liveblog produce --ledger FILE`` appends one line per
accepted document (fsynced), and ``liveblog stats --ledger FILE`` names the documents whose
accept marker is gone. Producing the same sources again restores them (same document ids).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from redis import Redis

from schemas.documents import RawDocument
from schemas.keys import Keys


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, docs: list[RawDocument]) -> None:
        if not docs:
            return
        lines = "".join(
            json.dumps({"document_id": d.document_id, "source": d.source, "fetched_at": d.fetched_at.isoformat()})
            + "\n"
            for d in docs
        )
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())

    def entries(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]


@dataclass(frozen=True)
class Audit:
    documents: int
    missing: list[dict]

    @property
    def ok(self) -> bool:
        return not self.missing


def audit(conn: Redis, ledger: Ledger, keys: Keys) -> Audit:
    """Which ledger entries Redis no longer knows (their accept marker is gone)."""
    entries = list({e["document_id"]: e for e in ledger.entries()}.values())
    with conn.pipeline(transaction=False) as pipe:
        for entry in entries:
            pipe.exists(keys.accepted(entry["document_id"]))
        present = pipe.execute()
    return Audit(documents=len(entries), missing=[e for e, p in zip(entries, present) if not p])
