"""Reading streams with consumer groups: claim what dead consumers left, report gaps, trim safely.

Redis keeps a consumer group's undelivered entries only while they are in the stream:
``MAXLEN ~`` trimming (the commit's retention policy, docs/channels.md) can remove
entries a slow group has not read. Nothing hides that: ``gaps`` compares what a group
has read with what the stream still holds (Redis 7 ``entries-read``), and ``safe_trim``
trims only what every group has already been delivered.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis


@dataclass(frozen=True)
class GroupState:
    stream: str
    group: str
    last_delivered: str
    pending: int
    lag: int | None  # entries not yet delivered; None when Redis cannot tell
    missed: int  # entries trimmed before this group read them (at least this many when Redis cannot count)


def ensure_group(conn: redis.Redis, stream: str, group: str) -> None:
    """Create the group at the start of the stream (it reads the backlog), once."""
    try:
        conn.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


@dataclass(frozen=True)
class Claimed:
    claimed: int  # entries taken over from consumers idle ``idle_ms`` or longer
    lost: tuple[str, ...]  # entry ids delivered, never acknowledged, and trimmed before they were claimed

    def warning(self, stream: str, group: str) -> str | None:
        """The gap report for ``lost`` (they are gone from the stream: nobody can read them now)."""
        if not self.lost:
            return None
        n = len(self.lost)
        return (f"group {group!r} on {stream}: {n} entr{'y' if n == 1 else 'ies'} delivered to a consumer and not "
                f"acknowledged {'was' if n == 1 else 'were'} trimmed before {'it was' if n == 1 else 'they were'} "
                f"claimed (first {self.lost[0]}); raise the stream's maxlen or restart dead consumers sooner")


def claim_idle(conn: redis.Redis, stream: str, group: str, consumer: str, idle_ms: int) -> Claimed:
    """Take over entries other consumers were given and did not ack for ``idle_ms`` (XAUTOCLAIM).

    They become this consumer's pending entries, which it reads first (XREADGROUP id 0).
    Pending entries the stream no longer holds (trimmed by retention) are dropped from the
    pending list by Redis 7 whatever their idle time; they are returned as ``lost``, to be reported.
    """
    claimed, lost, cursor = 0, [], "0-0"
    while True:
        # not JUSTID: redis-py then drops the cursor from the reply
        reply = conn.xautoclaim(stream, group, consumer, min_idle_time=idle_ms, start_id=cursor, count=100)
        cursor = reply[0]
        claimed += len(reply[1])
        lost += [_text(entry_id) for entry_id in (reply[2] if len(reply) > 2 else [])]
        if _text(cursor) == "0-0":
            return Claimed(claimed, tuple(lost))


def groups(conn: redis.Redis, stream: str) -> list[GroupState]:
    if not conn.exists(stream):
        return []
    info = conn.xinfo_stream(stream)
    length, added = int(info["length"]), int(info.get("entries-added") or info["length"])
    first = info.get("first-entry")
    first_id = _id(first[0]) if first else None
    out = []
    for g in conn.xinfo_groups(stream):
        last = _text(g["last-delivered-id"])
        lag = g.get("lag")
        read = g.get("entries-read")
        if read is not None:
            missed = max(0, (added - int(read)) - length)
        elif first_id and _id(last) < first_id and added > length:
            # Redis cannot count (a group created after a trim): from the stream's start, it missed
            # every entry trimmed; from a later position, at least one (Redis cannot say how many)
            missed = added - length if _id(last) == (0, 0) else 1
        else:
            missed = 0
        out.append(GroupState(stream, _text(g["name"]), last, int(g.get("pending", 0)),
                              None if lag is None else int(lag), missed))
    return out


def gap_warnings(conn: redis.Redis, stream: str) -> list[str]:
    return [
        f"group {g.group!r} on {stream}: {g.missed} entr{'y' if g.missed == 1 else 'ies'} trimmed before it read "
        f"{'them' if g.missed > 1 else 'it'} (last delivered {g.last_delivered}); raise the stream's maxlen or "
        "read faster"
        for g in groups(conn, stream) if g.missed
    ]


def safe_trim(conn: redis.Redis, stream: str, maxlen: int) -> tuple[int, int]:
    """Trim to ``maxlen`` entries, but never past an entry some group has not been
    delivered or has not acknowledged. Returns (removed, kept back for slow groups)."""
    if not conn.exists(stream) or int(conn.xlen(stream)) <= maxlen:
        return 0, 0
    floor: tuple[int, int] | None = None  # the oldest entry any group still needs
    for g in conn.xinfo_groups(stream):
        needed = _next(_id(g["last-delivered-id"]))
        pending = conn.xpending(stream, _text(g["name"]))
        if pending and pending.get("pending"):
            needed = min(needed, _id(pending["min"]))
        floor = needed if floor is None else min(floor, needed)
    if floor is not None:
        from_floor = conn.xrange(stream, min=f"{floor[0]}-{floor[1]}", max="+", count=maxlen + 1)
        if len(from_floor) > maxlen:  # the groups need more than maxlen entries: keep them all
            removed = int(conn.xtrim(stream, minid=f"{floor[0]}-{floor[1]}", approximate=False))
            return removed, int(conn.xlen(stream)) - maxlen
    return int(conn.xtrim(stream, maxlen=maxlen, approximate=False)), 0


def _id(value: object) -> tuple[int, int]:
    ms, seq = _text(value).split("-")
    return int(ms), int(seq)


def _next(entry: tuple[int, int]) -> tuple[int, int]:
    return entry[0], entry[1] + 1


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
