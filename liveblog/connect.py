"""Redis connections are built here, at entry points only."""

from __future__ import annotations

import redis

from schemas.errors import RedisUnavailable
from schemas.settings import Settings


def connect(settings: Settings) -> redis.Redis:
    if not settings.redis_url:
        raise RedisUnavailable("no Redis configured: set REDIS_URL (for example redis://localhost:6379/0)")
    try:
        conn = redis.Redis.from_url(settings.redis_url, health_check_interval=30, socket_connect_timeout=5)
        conn.ping()
    except (redis.ConnectionError, redis.TimeoutError, ValueError) as exc:
        raise RedisUnavailable(f"cannot reach Redis at {_redact(settings.redis_url)}: {exc}") from exc
    return conn


def embedded() -> redis.Redis:
    """An in-process Redis (fakeredis with Lua) for runs with no REDIS_URL."""
    import fakeredis

    return fakeredis.FakeRedis()


def _redact(url: str) -> str:
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1) if "://" in url else ("redis", url)
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
