"""Posts pushed one at a time, batched into documents: the producer for high-rate sources.

A CMS webhook, a wire feed or a message bus delivers posts one by one. Submitting each as
its own document costs one RQ job per post, the design ``liveblog bench`` calls naive: RQ's
bookkeeping (~3 ms and ~30 Redis commands a job here) and the per-document reads then
dominate the work. :class:`PostBatcher` holds each blog's pending posts and submits them
as one document when ``max_posts`` are pending or the oldest has waited ``max_wait_s``.

A batch is a JSON Feed 1.1 document (the ``json`` parser reads it like any feed) marked
``ParseOptions(snapshot=False)``: it holds some posts of the blog, not the page as it
stands, so the worker retracts nothing for what it lacks. Each post keeps the source's own
id, so the same post pushed again is a duplicate and a changed one an update, whichever
batch it lands in.

Nothing is accepted before its batch is submitted: a post is in the producer's memory until
then, and the caller flushes at the end of its input (``flush``) and on shutdown. Two
versions of one post in the same pending batch leave only the later one (``superseded``
counts the others): the document says how the post stood when the batch was sent.

A batch is also sent early, before the post that would take its document over the size limit
(``schemas.documents.MAX_DOCUMENT_CHARS``), so batching never makes a document that ``submit``
refuses. A single post over the limit is refused (``refused`` counts the documents,
``refused_posts`` their posts) and nothing of it is accepted.

Batches follow the input's order, so the same input with the same ``max_posts`` gives the
same documents. ``max_wait_s`` flushes by the clock (a source that goes quiet still gets
its posts out), which may cut a live stream differently on a replay; the events still
carry the same post ids, and a post's content decides its content hash, whatever its batch.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from schemas import documents
from schemas.documents import ParseOptions, PushedPost, RawDocument
from schemas.errors import DocumentTooLarge
from schemas.posts import rfc3339

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


@dataclass
class BatchCounts:
    posts: int = 0  # posts in submitted documents
    documents: int = 0  # documents submitted (accepted now or before)
    accepted: int = 0  # documents accepted now
    superseded: int = 0  # earlier versions replaced within one pending batch
    refused: int = 0  # documents refused by submit (over the size limit): nothing of them accepted
    refused_posts: int = 0  # the posts of those documents


@dataclass
class _Pending:
    since: float
    posts: dict[str, PushedPost] = field(default_factory=dict)  # by the source's id, in arrival order
    chars: dict[str, int] = field(default_factory=dict)  # by the source's id: the characters of its item
    total: int = 0  # the sum of ``chars``


class PostBatcher:
    """``submit(raw) -> bool`` (True: accepted now) is producers.enqueue.submit bound to a
    connection, or anything that takes a RawDocument."""

    def __init__(
        self,
        submit: Callable[[RawDocument], bool],
        *,
        max_posts: int = 50,
        max_wait_s: float = 0.25,
        source: str = "push",
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        if max_posts < 1:
            raise ValueError(f"max_posts: expected at least 1, found {max_posts}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s: expected a number of seconds >= 0, found {max_wait_s}")
        self.submit = submit
        self.max_posts = max_posts
        self.max_wait_s = max_wait_s
        self.source = source
        self.clock = clock
        self.now = now
        self.counts = BatchCounts()
        self._pending: dict[str, _Pending] = {}

    def add(self, post: PushedPost) -> list[RawDocument]:
        """Hold ``post``; returns the documents submitted because of it (its blog's batch, full, or
        sent first because this post would take its document over the size limit)."""
        sent = []
        pending = self._pending.get(post.blog_id)
        chars = _item_chars(post)
        if pending is not None:
            others = len(pending.posts) - (post.id in pending.posts)
            total = pending.total - pending.chars.get(post.id, 0) + chars
            if others and _document_chars(post.blog_id, total, others + 1) > documents.MAX_DOCUMENT_CHARS:
                sent.append(self._send(post.blog_id))
                pending = None
        if pending is None:
            pending = self._pending[post.blog_id] = _Pending(since=self.clock())
        if pending.posts.pop(post.id, None) is not None:
            pending.total -= pending.chars.pop(post.id)
            self.counts.superseded += 1
        pending.posts[post.id] = post
        pending.chars[post.id] = chars
        pending.total += chars
        if len(pending.posts) >= self.max_posts:
            sent.append(self._send(post.blog_id))
        return sent

    def due(self) -> list[RawDocument]:
        """Submit every batch whose oldest post has waited ``max_wait_s``. Asked after every
        line: the pending batches are in the order they were opened (a batch opens with its
        first post and leaves when sent), so only the late ones at the front are looked at."""
        now = self.clock()
        late = []
        for blog, pending in self._pending.items():
            if now - pending.since < self.max_wait_s:
                break
            late.append(blog)
        return [self._send(blog) for blog in late]

    def next_due_in(self) -> float | None:
        """Seconds until the next batch is due (0 if one is), None when nothing is pending."""
        oldest = next(iter(self._pending.values()), None)  # the first opened (see due)
        if oldest is None:
            return None
        return max(0.0, oldest.since + self.max_wait_s - self.clock())

    def flush(self) -> list[RawDocument]:
        """Submit every pending batch (end of input, shutdown)."""
        return [self._send(blog) for blog in list(self._pending)]

    def pending_posts(self) -> int:
        return sum(len(p.posts) for p in self._pending.values())

    def _send(self, blog_id: str) -> RawDocument:
        posts = list(self._pending.pop(blog_id).posts.values())
        raw = batch_document(blog_id, posts, source=f"{self.source}://{blog_id}", now=self.now)
        try:
            accepted = self.submit(raw)
        except DocumentTooLarge:  # one post over the limit on its own: nothing of it was accepted
            self.counts.refused += 1
            self.counts.refused_posts += len(posts)
            return raw
        self.counts.documents += 1
        self.counts.accepted += bool(accepted)
        self.counts.posts += len(posts)
        return raw


def _item_chars(post: PushedPost) -> int:
    """The characters ``post`` takes in its batch document (as ``batch_document`` writes it)."""
    return len(json.dumps(_item(post), ensure_ascii=False, sort_keys=True))


def _document_chars(blog_id: str, item_chars: int, items: int) -> int:
    """The characters of a batch document of ``items`` items taking ``item_chars`` in all (", " between them)."""
    empty = len(json.dumps({"version": JSON_FEED_VERSION, "title": blog_id, "items": []}, ensure_ascii=False))
    return empty + item_chars + 2 * max(items - 1, 0)


def batch_document(blog_id: str, posts: list[PushedPost], *, source: str,
                   now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> RawDocument:
    """One JSON Feed document holding ``posts`` (not a snapshot). Its ``fetched_at`` is the
    latest ``received_at`` of its posts when they all carry one (a replay of the same input
    makes the same document), else the time of the batch."""
    received = [p.received_at for p in posts]
    fetched_at = max(received) if received and all(r is not None for r in received) else now()  # type: ignore[type-var]
    feed = {
        "version": JSON_FEED_VERSION,
        "title": blog_id,
        "items": [_item(p) for p in posts],
    }
    body = json.dumps(feed, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return RawDocument.from_bytes(
        body, blog_id=blog_id, source=source, fetched_at=fetched_at, content_type="application/feed+json",
        options=ParseOptions(format="json", snapshot=False),
    )


def _item(post: PushedPost) -> dict:
    item = {"id": post.id, "title": post.title, "content_text": post.body, "date_published": rfc3339(post.published_at)}
    if post.author:
        item["authors"] = [{"name": post.author}]
    return item
