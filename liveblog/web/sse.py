"""Server-Sent Events from Redis streams, resumable by ``Last-Event-ID``.

Each event of ``liveblog:events`` (or one blog's stream) becomes one SSE message whose
``id:`` is the stream entry id, so a browser that reconnects sends it back as
``Last-Event-ID`` and XREAD continues right after it: nothing is lost or repeated across
a reconnect while the entry is still in the (trimmed) stream.

Alert streams (``<prefix>:alerts:*``) are optional: each entry names the event it is
about (field ``event_id``, or the event JSON in ``event``) and becomes an ``alert``
message without an ``id:`` (SSE keeps the last id, so the resume position stays on the
event stream). On a resume the alert cursors restart at the millisecond of
``Last-Event-ID``; an alert seen twice only highlights a card twice.

With ``blog`` (``/events?blog=X``) only alerts about that blog's events are sent: the blog
is read from the event JSON the commit script writes with each alert (``data.blog.id``,
else ``source``); an alert carrying only ``event_id`` is sent when that id is one of the
posts this connection has sent, and dropped otherwise (its blog cannot be told).
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import AsyncIterator

import redis.asyncio as aioredis

ENTRY_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
BLOG_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")
RETRY_MS = 1000  # how soon a browser reconnects after a dropped connection
MAX_ALERT_STREAMS = 64
MAX_SENT_IDS = 10_000  # event ids of posts sent on a blog connection, to place id-only alerts


def message(data: str, *, event: str | None = None, id: str | None = None) -> bytes:
    """One SSE message; a line break in ``data`` becomes another ``data:`` line, as the spec requires."""
    lines = []
    if id is not None:
        lines.append(f"id: {id}")
    if event is not None:
        lines.append(f"event: {event}")
    lines += [f"data: {line}" for line in data.splitlines() or [""]]
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def alert_event_id(fields: dict[bytes, bytes]) -> str | None:
    if b"event_id" in fields:
        return fields[b"event_id"].decode("utf-8", "replace")
    if b"event" in fields:
        try:
            return str(json.loads(fields[b"event"])["id"])
        except (ValueError, KeyError, TypeError):
            return None
    return None


def alert_blog(fields: dict[bytes, bytes]) -> str | None:
    """The blog of the event an alert is about, from its event JSON; None when it has none."""
    try:
        event = json.loads(fields[b"event"])
    except (KeyError, ValueError, TypeError):
        return None
    if not isinstance(event, dict):
        return None
    data = event.get("data")
    blog = data.get("blog") if isinstance(data, dict) else None
    if isinstance(blog, dict) and isinstance(blog.get("id"), str):
        return blog["id"]
    source = event.get("source")
    if isinstance(source, str) and source.startswith("liveblog:"):
        return source.removeprefix("liveblog:")
    return None


class _BlogFilter:
    """Which alerts belong on a ``?blog=`` connection (see the module docstring)."""

    def __init__(self, blog: str) -> None:
        self.blog = blog
        self._order: deque[str] = deque()
        self._sent: set[str] = set()

    def sent(self, fields: dict[bytes, bytes]) -> None:
        event_id = alert_event_id(fields)  # a post entry has the event JSON in 'event' too
        if event_id is None or event_id in self._sent:
            return
        self._order.append(event_id)
        self._sent.add(event_id)
        if len(self._order) > MAX_SENT_IDS:
            self._sent.discard(self._order.popleft())

    def wants(self, fields: dict[bytes, bytes]) -> bool:
        blog = alert_blog(fields)
        if blog is not None:
            return blog == self.blog
        return alert_event_id(fields) in self._sent


async def alert_streams(conn: aioredis.Redis, prefix: str) -> list[str]:
    """The alert streams that exist now (a bounded SCAN; new ones are found on the next connection)."""
    found = []
    async for key in conn.scan_iter(match=f"{prefix}:alerts:*", count=1000, _type="STREAM"):
        found.append(key.decode() if isinstance(key, bytes) else key)
        if len(found) >= MAX_ALERT_STREAMS:
            break
    return sorted(found)


async def follow(
    conn: aioredis.Redis,
    stream: str,
    *,
    prefix: str,
    last_id: str | None,
    backlog: int,
    block_ms: int,
    blog: str | None = None,
) -> AsyncIterator[bytes]:
    """Yield SSE bytes forever: the backlog (or what follows ``last_id``), then new entries as they come.

    ``blog``: send only the alerts about that blog's events (``stream`` is then the blog's stream).
    """
    only = _BlogFilter(blog) if blog is not None else None

    def post(entry_id: bytes | str, fields: dict[bytes, bytes]) -> bytes:
        if only is not None:
            only.sent(fields)
        return _post(entry_id, fields)

    def wanted(fields: dict[bytes, bytes]) -> bool:
        return only is None or only.wants(fields)

    yield f"retry: {RETRY_MS}\n\n".encode()
    alerts = await alert_streams(conn, prefix)
    cursors: dict[str, str] = {}
    if last_id is None:
        recent = await conn.xrevrange(stream, count=backlog) if backlog else []
        for entry_id, fields in reversed(recent):
            yield post(entry_id, fields)
        cursors[stream] = _text(recent[0][0]) if recent else "0-0"
        for key in alerts:
            recent_alerts = await conn.xrevrange(key, count=backlog) if backlog else []
            for _, fields in reversed(recent_alerts):
                if wanted(fields):
                    yield _alert(key, fields)
            cursors[key] = _text(recent_alerts[0][0]) if recent_alerts else "0-0"
    else:
        cursors[stream] = last_id
        cursors.update({key: f"{last_id.split('-')[0]}-0" for key in alerts})
    while True:
        rows = await conn.xread(cursors, count=500, block=block_ms)
        if not rows:
            yield b": ping\n\n"  # keeps proxies from closing the connection; finds gone clients
            continue
        for key, entries in rows:
            key = _text(key)
            for entry_id, fields in entries:
                cursors[key] = _text(entry_id)
                if key == stream:
                    yield post(entry_id, fields)
                elif wanted(fields):
                    yield _alert(key, fields)


def _post(entry_id: bytes | str, fields: dict[bytes, bytes]) -> bytes:
    return message(fields.get(b"event", b"{}").decode("utf-8", "replace"), event="post", id=_text(entry_id))


def _alert(key: str, fields: dict[bytes, bytes]) -> bytes:
    return message(json.dumps({"stream": key, "event_id": alert_event_id(fields)}), event="alert")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
