"""Redis connections are built here, at entry points only."""

from __future__ import annotations

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from schemas.errors import RedisUnavailable
from schemas.settings import Settings


# Every command survives a Redis restart or failover of up to about half a minute: it is
# retried with exponential backoff (50 ms doubling to 1 s). Retrying is safe here because
# every write liveblog makes is idempotent by construction (done markers, accept markers).
RECONNECT_ATTEMPTS = 30
TRANSIENT_ERRORS = [redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError]


def _retry(attempts: int) -> Retry:
    return Retry(ExponentialBackoff(cap=1.0, base=0.05), attempts)


def connect(settings: Settings, *, wait_for_redis: bool = False) -> redis.Redis:
    """A client for ``REDIS_URL``. Unreachable at start is an error (exit 3), unless
    ``wait_for_redis``; once connected, outages are ridden out with backoff."""
    if not settings.redis_url:
        raise RedisUnavailable("no Redis configured: set REDIS_URL (for example redis://localhost:6379/0)")
    try:
        conn = redis.Redis.from_url(
            settings.redis_url, health_check_interval=30, socket_connect_timeout=5,
            retry=_retry(RECONNECT_ATTEMPTS if wait_for_redis else 0), retry_on_error=TRANSIENT_ERRORS,
        )
        conn.ping()
        conn.set_retry(_retry(RECONNECT_ATTEMPTS))
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
