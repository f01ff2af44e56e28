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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from redis import Redis

from schemas.documents import RawDocument
from schemas.errors import UsageError
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
        if _ends_mid_line(self.path):  # a producer was killed appending: keep its cut-off line apart
            lines = "\n" + lines
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())

    def entries(self, on_torn: Callable[[str], None] | None = None) -> list[dict]:
        """Every entry. A line cut off mid-write - a producer killed while appending, to be
        expected after a crash - is skipped and told to ``on_torn``: the last line without its
        newline, or the start of an entry without its end that a later ``append`` put on a
        line of its own. Anything else that is not a ledger is a UsageError naming the file
        (and line): the audit must not pass over what it cannot read."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            raise UsageError(f"cannot read ledger {self.path}: expected a file written by "
                             "`liveblog produce --ledger`, found no such file") from None
        except IsADirectoryError:
            raise UsageError(f"cannot read ledger {self.path}: expected a file written by "
                             "`liveblog produce --ledger`, found a directory") from None
        except OSError as exc:
            raise UsageError(f"cannot read ledger {self.path}: {exc.strerror or exc}") from exc
        found = []
        with handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                entry = _entry(line)
                if entry is not None:
                    found.append(entry)
                elif _cut_off(line):
                    if on_torn:
                        on_torn(f"ledger {self.path}:{number}: skipped a line cut off mid-write (a producer"
                                f" stopped while appending it; the document it named is not checked): {_shown(line)}")
                else:
                    raise UsageError(f"ledger {self.path}:{number}: expected a JSON object with a document_id, one"
                                     f" per line as `liveblog produce --ledger` writes, found {_shown(line)}")
        return found


def _entry(line: bytes) -> dict | None:
    try:
        entry = json.loads(line)
    except ValueError:  # not JSON, or not UTF-8
        return None
    return entry if isinstance(entry, dict) and isinstance(entry.get("document_id"), str) else None


def _cut_off(line: bytes) -> bool:
    if not line.endswith(b"\n"):  # only the last line can lack it
        return True
    return line.startswith(b'{"document_id": ') and not line.rstrip().endswith(b"}")


def _ends_mid_line(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"
    except OSError:  # no file yet, or an empty one
        return False


def _shown(line: bytes, limit: int = 80) -> str:
    text = line.decode("utf-8", "replace").rstrip("\n")
    return repr(text if len(text) <= limit else text[:limit] + "...")


@dataclass(frozen=True)
class Audit:
    documents: int
    missing: list[dict]

    @property
    def ok(self) -> bool:
        return not self.missing


def audit(conn: Redis, ledger: Ledger, keys: Keys, on_torn: Callable[[str], None] | None = None) -> Audit:
    """Which ledger entries Redis no longer knows (their accept marker is gone)."""
    entries = list({e["document_id"]: e for e in ledger.entries(on_torn)}.values())
    with conn.pipeline(transaction=False) as pipe:
        for entry in entries:
            pipe.exists(keys.accepted(entry["document_id"]))
        present = pipe.execute()
    return Audit(documents=len(entries), missing=[e for e, p in zip(entries, present) if not p])
