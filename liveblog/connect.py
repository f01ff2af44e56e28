"""Redis connections are built here, at entry points only."""

from __future__ import annotations

import codecs

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from schemas.errors import RedisUnavailable, UsageError
from schemas.settings import Settings

try:
    import hiredis
except ImportError:  # redis[hiredis] is a dependency; without it redis-py packs in Python
    hiredis = None


# Every command survives a Redis restart or failover of up to about half a minute: it is
# retried with exponential backoff (50 ms doubling to 1 s). Retrying is safe here because
# every write liveblog makes is idempotent by construction (done markers, accept markers).
RECONNECT_ATTEMPTS = 30
TRANSIENT_ERRORS = [redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError]


_ENCODER = redis.connection.Encoder("utf-8", "strict", False)  # redis-py's default
_BUFFER_CUTOFF = 6000  # redis-py's own (AbstractConnection._buffer_cutoff)


class CommandPacker:
    """Packs a command for the wire with one call to hiredis.

    redis-py's own packer with hiredis checks every argument for a memoryview, then encodes
    each one in Python (a generator step and a method call with up to four type tests)
    before hiredis packs them. liveblog's script calls carry hundreds of arguments - keys,
    hashes, event JSON - and a re-polled page sends ~600 of them, so that per-argument
    Python was ~7 % of a worker's samples on re-polls (docs/performance.md). hiredis takes
    str (as UTF-8), bytes, memoryview, int and float itself; anything it refuses (bool,
    None, bytearray, other objects) and a command name with a space (``CLIENT SETNAME``)
    go through redis-py's packer unchanged, so the bytes on the wire and the errors raised
    are the same (tests/test_connect.py holds the two side by side). str is encoded strictly as
    UTF-8, which is what redis-py's default encoder does: only connections built with that
    encoder get this packer (``client_options``)."""

    def __init__(self) -> None:
        # built as redis-py builds its own (Connection._construct_command_packer)
        self._fallback = redis.connection.HiredisRespSerializer(
            redis.connection.PythonRespSerializer(_BUFFER_CUTOFF, _ENCODER.encode).pack, _ENCODER.encode
        ).pack

    def pack(self, *args):
        name = args[0]
        if type(name) is str and " " not in name:
            try:
                return [hiredis.pack_command(args)]
            except TypeError:  # an argument hiredis does not take: redis-py's way, its error
                pass
        return self._fallback(*args)


def client_options(url: str) -> dict:
    """Keyword arguments for ``redis.Redis`` that every liveblog connection to a real server
    uses: the command packer above, when hiredis is installed and the connection encodes text
    as redis-py does by default (strict UTF-8; a ``REDIS_URL`` may ask for another encoding
    with ``?encoding=``, and then keeps redis-py's packer)."""
    if hiredis is None:
        return {}
    query = redis.connection.parse_url(url)
    if not _is_utf8(str(query.get("encoding", "utf-8"))) or query.get("encoding_errors", "strict") != "strict":
        return {}
    return {"command_packer": CommandPacker()}


def _is_utf8(encoding: str) -> bool:
    """Whether ``encoding`` names UTF-8 (any of Python's spellings); an unknown name is left
    to redis-py, which reports it."""
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


def _retry(attempts: int) -> Retry:
    return Retry(ExponentialBackoff(cap=1.0, base=0.05), attempts)


def connect(settings: Settings, *, wait_for_redis: bool = False) -> redis.Redis:
    """A client for ``REDIS_URL``. Unreachable at start is an error (exit 3), unless
    ``wait_for_redis``; once connected, outages are ridden out with backoff. A URL that is
    malformed is the operator's to fix, not an outage: a usage error (exit 2)."""
    if not settings.redis_url:
        raise RedisUnavailable("no Redis configured: set REDIS_URL (for example redis://localhost:6379/0)")
    _check_url(settings.redis_url)
    try:
        conn = redis.Redis.from_url(
            settings.redis_url, health_check_interval=30, socket_connect_timeout=5,
            retry=_retry(RECONNECT_ATTEMPTS if wait_for_redis else 0), retry_on_error=TRANSIENT_ERRORS,
            **client_options(settings.redis_url),
        )
    except ValueError as exc:  # redis-py's URL parser: a port, database or option it cannot read
        raise UsageError(f"invalid REDIS_URL {_redact(settings.redis_url)}: {exc}") from exc
    try:
        conn.ping()
        conn.set_retry(_retry(RECONNECT_ATTEMPTS))
    except (redis.ConnectionError, redis.TimeoutError, ValueError) as exc:
        raise RedisUnavailable(f"cannot reach Redis at {_redact(settings.redis_url)}: {exc}") from exc
    return conn


def _check_url(url: str) -> None:
    """The schemes redis-py takes; its own error for another would be reported as Redis
    being unreachable."""
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in ("redis", "rediss", "unix"):
        raise UsageError(f"invalid REDIS_URL {_redact(url)}: expected redis://, rediss:// or unix://, "
                         f"found {scheme + '://' if sep else 'no scheme'}")


def embedded() -> redis.Redis:
    """An in-process Redis (fakeredis with Lua) for runs with no REDIS_URL."""
    import fakeredis

    return fakeredis.FakeRedis()


def _redact(url: str) -> str:
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1) if "://" in url else ("redis", url)
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
