"""Which previously seen posts a snapshot no longer shows because they were taken down.

A live page is paginated: older posts scroll off the bottom and, on the first page,
nothing newer than the newest post exists yet. So a post is only *retracted* when
the snapshot still shows posts both older and newer than it - it lies strictly inside
the snapshot's time span - and nothing newer than this snapshot has seen it since.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Known:
    """A post the blog's index remembers: its key, time, last sighting and state."""

    key: str
    published_ms: int
    seen_ms: int
    revision: int
    retracted: bool


def span(published_ms: list[int]) -> tuple[int, int] | None:
    """The snapshot's time span, or None when it cannot bracket anything (< 2 posts)."""
    if len(published_ms) < 2:
        return None
    return min(published_ms), max(published_ms)


def missing(known: list[Known], present: set[str], snapshot_span: tuple[int, int] | None, fetched_ms: int) -> list[Known]:
    """Posts to retract, ordered by time then key (so event order is deterministic).

    Skipped: posts outside the span (scrolled off, or not yet published when the page
    was fetched), posts already retracted, posts seen by a newer snapshot (this one is
    stale for them), and index entries whose post state has expired.
    """
    if snapshot_span is None:
        return []
    low, high = snapshot_span
    out = [
        k for k in known
        if low < k.published_ms < high and k.key not in present and not k.retracted
        and k.revision > 0 and k.seen_ms < fetched_ms
    ]
    return sorted(out, key=lambda k: (k.published_ms, k.key))
