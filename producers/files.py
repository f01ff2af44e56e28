"""Files and stdin as sources: one file, one document."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from schemas.documents import MAX_DOCUMENT_CHARS, ParseOptions, RawDocument
from schemas.errors import UsageError

_SLUG = re.compile(r"[^a-z0-9]+")
# A file is read up to this many bytes and one more. A UTF-8 character takes at most 4 bytes, so a
# file larger than this is over MAX_DOCUMENT_CHARS whatever it holds: what is read of it is refused
# by ``submit`` as too large, never accepted cut short.
MAX_FILE_BYTES = 4 * MAX_DOCUMENT_CHARS


def blog_id_for(source: str) -> str:
    """Default blog id: the file name (or URL path) without extension, as a slug."""
    name = source.rstrip("/").rsplit("/", 1)[-1] or source
    stem = name.split(".", 1)[0] if "." in name else name
    return _SLUG.sub("-", stem.lower()).strip("-") or "blog"


def read_sources(
    sources: list[str], *, options: ParseOptions, blog_id: str | None = None
) -> Iterator[RawDocument]:
    for source in sources:
        if source == "-":
            data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
            yield _wrap(data, "stdin", blog_id or "stdin", datetime.now(timezone.utc), options)
            continue
        path = Path(source)
        if path.is_dir():
            folder = source.rstrip("/") or "/"
            raise UsageError(
                f"cannot read {source!r}: expected a readable file or '-', found a directory: name its files"
                f" (e.g. {folder}/*.txt), or use `liveblog produce --backfill {folder}` for an archive"
            )
        if not path.is_file():
            raise UsageError(f"cannot read {source!r}: expected a readable file or '-', found no such file")
        data = path.read_bytes() if path.stat().st_size <= MAX_FILE_BYTES else path.open("rb").read(MAX_FILE_BYTES + 1)
        fetched_at = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        yield _wrap(data, str(path), blog_id or blog_id_for(path.name), fetched_at, options)


def _wrap(data: bytes, source: str, blog_id: str, fetched_at: datetime, options: ParseOptions) -> RawDocument:
    # An oversized file is refused by ``producers.enqueue.submit`` (DocumentTooLarge) before it is accepted.
    return RawDocument.from_bytes(
        data[: MAX_FILE_BYTES + 1], blog_id=blog_id, source=source, fetched_at=fetched_at, options=options
    )
