"""Backfill: every file of an archive directory submitted once, in a fixed order.

Sorted order makes a backfill repeatable and resumable: re-running it after an
interruption offers the same documents again, and ``submit`` reports the ones
already accepted instead of enqueueing them twice (a file's document id depends
on its bytes and mtime only).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

import structlog
from redis import Redis

from producers.directory import list_files
from producers.enqueue import submit
from producers.files import read_sources
from producers.ledger import Ledger
from schemas.documents import ParseOptions
from schemas.errors import DocumentTooLarge, UsageError
from schemas.settings import Settings

log = structlog.get_logger("liveblog.backfill")


class Progress(Protocol):
    def update(self, n: int = 1) -> object: ...
    def close(self) -> object: ...


@dataclass
class BackfillResult:
    files: int = 0
    accepted: int = 0
    already: int = 0
    failed: int = 0
    refused: int = 0  # over the size limit: refused by ``submit``, never accepted
    errors: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # "path: reason" for each refused file
    document_ids: list[str] = field(default_factory=list)  # the documents accepted by this run, in order

    def add(self, other: BackfillResult) -> None:
        self.files += other.files
        self.accepted += other.accepted
        self.already += other.already
        self.failed += other.failed
        self.refused += other.refused
        self.errors += other.errors
        self.refusals += other.refusals
        self.document_ids += other.document_ids


class TextProgress:
    """A progress bar with no dependency: redrawn in place on a TTY, a line per 10% otherwise."""

    def __init__(self, total: int, stream: IO[str], *, label: str = "backfill", width: int = 30) -> None:
        self.total, self.stream, self.label, self.width = total, stream, label, width
        self.done = 0
        self.tty = stream.isatty()
        self._last_draw = 0.0
        self._last_decile = -1

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.tty and time.monotonic() - self._last_draw >= 0.1:
            self._draw("\r")
        elif not self.tty and self._decile() > self._last_decile:
            self._draw("", "\n")

    def close(self) -> None:
        if self.tty:
            self._draw("\r", "\n")
        elif self._decile() > self._last_decile:
            self._draw("", "\n")

    def _decile(self) -> int:
        return self.done * 10 // self.total if self.total else 10

    def _draw(self, start: str, end: str = "") -> None:
        share = self.done / self.total if self.total else 1.0
        filled = int(share * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"{start}{self.label} [{bar}] {self.done}/{self.total} files {share:4.0%}{end}")
        self.stream.flush()
        self._last_draw = time.monotonic()
        self._last_decile = self._decile()


def make_progress(total: int, stream: IO[str] | None = None) -> Progress:
    """tqdm when it is installed, else the built-in bar; both write to stderr."""
    stream = stream or sys.stderr
    try:
        from tqdm import tqdm
    except ImportError:
        return TextProgress(total, stream)
    return tqdm(total=total, file=stream, unit="file", desc="backfill")


def backfill(
    conn: Redis,
    directory: Path,
    settings: Settings,
    *,
    options: ParseOptions,
    blog_id: str | None = None,
    pattern: str = "*",
    progress: Progress | None = None,
    ledger: Ledger | None = None,
) -> BackfillResult:
    """Submit every file under ``directory`` matching ``pattern``; the counts say what was new.

    With a ``ledger``, every document offered is appended to it, as ``liveblog produce --ledger``
    does, so ``liveblog stats --ledger`` can name what a Redis crash lost."""
    files = list(list_files(directory, pattern))
    if not files:
        raise UsageError(f"nothing to backfill in {str(directory)!r}: expected files, found none")
    bar = progress or make_progress(len(files))
    result = BackfillResult(files=len(files))
    try:
        for path in files:
            _one(conn, path, settings, options, blog_id, result, ledger)
            bar.update(1)
    finally:
        bar.close()
    log.info("backfill_done", directory=str(directory), files=result.files, accepted=result.accepted,
             already=result.already, failed=result.failed, refused=result.refused)
    return result


def _one(
    conn: Redis, path: Path, settings: Settings, options: ParseOptions, blog_id: str | None, result: BackfillResult,
    ledger: Ledger | None,
) -> None:
    try:
        raw = next(read_sources([str(path)], options=options, blog_id=blog_id))
    except (OSError, UsageError) as exc:
        result.failed += 1
        result.errors.append(f"{path}: {exc}")
        return
    try:
        accepted = submit(conn, raw, settings)
    except DocumentTooLarge as exc:  # never accepted: nothing in Redis, nothing in the ledger
        result.refused += 1
        result.refusals.append(f"{path}: {exc}")
        return
    if accepted:
        result.accepted += 1
        result.document_ids.append(raw.document_id)
    else:
        result.already += 1
    if ledger is not None:
        ledger.append([raw])
