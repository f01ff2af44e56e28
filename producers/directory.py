"""A watched directory as a source: each new or changed file becomes a document.

Polling mtimes rather than inotify keeps it portable (network mounts, containers,
macOS) and simple; a pass over a few thousand files costs milliseconds.

What was seen lives in Redis (``{prefix}:watch:{sha256(dir)[:16]}``: relative
path -> "mtime_ns:size"), so a restarted watcher carries on without offering
every file again. Even if that state were lost nothing would run twice: a
file's document id depends on its bytes and mtime, and ``submit`` enqueues a
document id once.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from redis import Redis

from producers.enqueue import submit
from producers.files import read_sources
from schemas.documents import ParseOptions
from schemas.errors import DocumentTooLarge, UsageError
from schemas.settings import Settings

log = structlog.get_logger("liveblog.watch")

DEFAULT_SETTLE_S = 1.0  # a file written less than this ago may still be growing: next pass
DEFAULT_INTERVAL_S = 2.0
TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".swp", ".crdownload", "~")


@dataclass(frozen=True)
class WatchConfig:
    options: ParseOptions = field(default_factory=ParseOptions)
    blog_id: str | None = None
    settle_s: float = DEFAULT_SETTLE_S
    pattern: str = "*"  # a glob matched at any depth, such as "*.html"


@dataclass
class WatchPass:
    """What one pass over the directory did."""

    submitted: int = 0
    already: int = 0
    unchanged: int = 0
    settling: int = 0
    failed: int = 0
    refused: int = 0  # over the size limit: never accepted (offered again only once the file changes)
    document_ids: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # "relative path: reason"


def list_files(directory: Path, pattern: str = "*") -> Iterator[Path]:
    """Regular files under ``directory`` matching ``pattern``, in a fixed order, skipping hidden
    and temporary ones (editors and downloaders write those before the real file appears)."""
    if not directory.is_dir():
        raise UsageError(f"cannot read {str(directory)!r}: expected a directory, found none")
    for path in sorted(directory.rglob(pattern)):
        relative = path.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts) or path.name.endswith(TEMPORARY_SUFFIXES):
            continue
        if path.is_file():
            yield path


def state_key(settings: Settings, directory: Path) -> str:
    digest = hashlib.sha256(str(directory.resolve()).encode("utf-8")).hexdigest()[:16]
    return f"{settings.key_prefix}:watch:{digest}"


def watch_once(
    conn: Redis, directory: Path, settings: Settings, config: WatchConfig, *, now: Callable[[], float] = time.time
) -> WatchPass:
    """One pass: submit every file whose mtime or size differs from what was seen last."""
    key = state_key(settings, directory)
    seen = {k.decode(): v.decode() for k, v in conn.hgetall(key).items()}
    result, present = WatchPass(), set()
    for path in list_files(directory, config.pattern):
        relative = str(path.relative_to(directory))
        present.add(relative)
        try:
            st = path.stat()
        except OSError:
            continue  # removed between listing and stat: the next pass settles it
        signature = f"{st.st_mtime_ns}:{st.st_size}"
        if seen.get(relative) == signature:
            result.unchanged += 1
        elif now() - st.st_mtime < config.settle_s:
            result.settling += 1
        else:
            _offer(conn, path, settings, config, result)
            conn.hset(key, relative, signature)
    gone = [name for name in seen if name not in present]
    if gone:  # a file deleted and created again is new
        conn.hdel(key, *gone)
    return result


def _offer(conn: Redis, path: Path, settings: Settings, config: WatchConfig, result: WatchPass) -> None:
    try:
        raw = next(read_sources([str(path)], options=config.options, blog_id=config.blog_id))
    except (OSError, UsageError) as exc:
        result.failed += 1
        log.warning("watch_read_failed", path=str(path), error=str(exc))
        return
    try:
        accepted = submit(conn, raw, settings)
    except DocumentTooLarge as exc:
        result.refused += 1
        result.refusals.append(f"{path}: {exc}")
        log.warning("watch_refused", path=str(path), reason=exc.reason, expected=exc.expected, found=exc.found)
        return
    if accepted:
        result.submitted += 1
        result.document_ids.append(raw.document_id)
        log.info("watch_submitted", path=str(path), document_id=raw.document_id, blog_id=raw.blog_id)
    else:
        result.already += 1


def watch(
    conn: Redis,
    directory: Path,
    settings: Settings,
    config: WatchConfig,
    stop_event: threading.Event,
    *,
    interval_s: float = DEFAULT_INTERVAL_S,
    on_pass: Callable[[WatchPass], None] | None = None,
) -> None:
    """Pass after pass until ``stop_event`` is set."""
    while not stop_event.is_set():
        result = watch_once(conn, directory, settings, config)
        if on_pass:
            on_pass(result)
        stop_event.wait(interval_s)
