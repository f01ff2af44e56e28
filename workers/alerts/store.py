"""Subscriptions in Redis, and the worker's per-process cache of them.

Every change writes the hash and moves ``subscriptions:version`` in one MULTI/EXEC.
A worker re-reads the version once per commit attempt (one GET) and reloads the set only
when it moved, so a change is seen by the next job; the commit script re-checks the version,
so a plan made with a stale set conflicts and is re-planned instead of committing alerts
for a subscription that was just removed (or missing one just added).
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from schemas.keys import Keys
from schemas.subscriptions import Subscription


def save(conn: Redis, keys: Keys, subscription: Subscription) -> bool:
    """Add or replace; True when the name was new."""
    with conn.pipeline(transaction=True) as pipe:
        pipe.hset(keys.subscriptions, subscription.name, subscription.to_store())
        pipe.incr(keys.subscriptions_version)
        added, _ = pipe.execute()
    return bool(added)


def remove(conn: Redis, keys: Keys, name: str) -> bool:
    with conn.pipeline(transaction=True) as pipe:
        pipe.hdel(keys.subscriptions, name)
        pipe.incr(keys.subscriptions_version)
        removed, _ = pipe.execute()
    return bool(removed)


def load(conn: Redis, keys: Keys) -> tuple[str, list[Subscription]]:
    """The version and the subscriptions as of that version (read together in MULTI)."""
    with conn.pipeline(transaction=True) as pipe:
        pipe.get(keys.subscriptions_version)
        pipe.hgetall(keys.subscriptions)
        version, rows = pipe.execute()
    subs = [Subscription.model_validate_json(rows[name]) for name in sorted(rows)]
    return _text(version), subs


def get(conn: Redis, keys: Keys, name: str) -> Subscription | None:
    raw = conn.hget(keys.subscriptions, name)
    return Subscription.model_validate_json(raw) if raw else None


@dataclass
class SubscriptionCache:
    """One per worker process: reloads only when the version counter moved."""

    conn: Redis
    keys: Keys
    version: str | None = None
    subscriptions: tuple[Subscription, ...] = ()

    def current(self, version: str | None = None) -> tuple[str, tuple[Subscription, ...]]:
        """The subscriptions as of ``version`` (the counter's value, read by the caller along
        with other state), or as of now when it is not given."""
        now = version if version is not None else _text(self.conn.get(self.keys.subscriptions_version))
        if now != self.version:
            now, subs = load(self.conn, self.keys)
            self.version, self.subscriptions = now, tuple(subs)
        return self.version, self.subscriptions  # type: ignore[return-value]


def _text(value: object) -> str:
    if value is None:
        return "0"
    return value.decode() if isinstance(value, bytes) else str(value)
