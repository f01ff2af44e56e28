"""Post identity: a key stable across polls and edits, and a hash of the content."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime
from functools import lru_cache

from schemas.posts import rfc3339
from workers.normalize import fingerprint_text

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def _digest(*parts: str, size: int = 16) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()[:size]


@lru_cache(maxsize=8192)
def normalized_title(title: str) -> str:
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", title).casefold()).strip()


def post_key(blog_id: str, *, source_id: str | None, published_at: datetime, title: str, occurrence: int = 0,
             approximate: bool = False) -> str:
    """The source's own id when it has one; else blog + stamp + normalized title.

    ``occurrence`` separates two posts of one page that share stamp and title. ``approximate``:
    the time was computed from a relative stamp ("2 hours ago") and moves from poll to poll, so
    it is left out (blog + normalized title + occurrence, counted from the oldest post).
    """
    stamp = "~" if approximate else rfc3339(published_at) or ""
    return _post_key(blog_id, source_id or "", stamp, title, occurrence)


@lru_cache(maxsize=8192)
def _post_key(blog_id: str, source_id: str, stamp: str, title: str, occurrence: int) -> str:
    """Cached by the strings hashed: a re-polled page asks again for every post it still shows."""
    if source_id:
        return "s-" + _digest(blog_id, "source", source_id)
    return "t-" + _digest(blog_id, stamp, normalized_title(title), str(occurrence))


def content_hash(*, title: str, body: str, author: str | None, published_at: datetime) -> str:
    """What counts as an edit: title, body, author, time - not quotes, dashes, spacing or the
    tracking parameters of links (``workers.normalize.fingerprint_text``). Related links are not
    hashed at all: a changed "read more" pointer is not an edit of the post."""
    return _digest(
        fingerprint_text(title), fingerprint_text(body), fingerprint_text(author or ""),
        rfc3339(published_at) or "", size=32,
    )
