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
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import redis.asyncio as aioredis

ENTRY_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
BLOG_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")
RETRY_MS = 1000  # how soon a browser reconnects after a dropped connection
MAX_ALERT_STREAMS = 64


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
) -> AsyncIterator[bytes]:
    """Yield SSE bytes forever: the backlog (or what follows ``last_id``), then new entries as they come."""
    yield f"retry: {RETRY_MS}\n\n".encode()
    alerts = await alert_streams(conn, prefix)
    cursors: dict[str, str] = {}
    if last_id is None:
        recent = await conn.xrevrange(stream, count=backlog) if backlog else []
        for entry_id, fields in reversed(recent):
            yield _post(entry_id, fields)
        cursors[stream] = _text(recent[0][0]) if recent else "0-0"
        for key in alerts:
            recent_alerts = await conn.xrevrange(key, count=backlog) if backlog else []
            for _, fields in reversed(recent_alerts):
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
                yield _post(entry_id, fields) if key == stream else _alert(key, fields)


def _post(entry_id: bytes | str, fields: dict[bytes, bytes]) -> bytes:
    return message(fields.get(b"event", b"{}").decode("utf-8", "replace"), event="post", id=_text(entry_id))


def _alert(key: str, fields: dict[bytes, bytes]) -> bytes:
    return message(json.dumps({"stream": key, "event_id": alert_event_id(fields)}), event="alert")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
