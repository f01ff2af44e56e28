"""Polling live pages: conditional GETs on a schedule that lives in Redis.

Why the schedule is in Redis and not in a process: a poller restarted (deploy,
crash, reboot) must carry on where it stopped, with the same ETags and the same
back-off, and two pollers must never fetch the same URL twice at once.

- ``{prefix}:poll:due`` is a sorted set, member = URL, score = when it is next
  due (ms since the epoch). A poller takes only due members, and taking one
  moves its score forward by a lease, so a poller killed mid-fetch loses
  nothing: the URL comes due again when the lease runs out.
- ``{prefix}:poll:{sha256(url)[:16]}`` is a hash per URL: the conditional-GET
  validators (etag, last_modified), body_sha256, next_due_ms, failures,
  last_status, last_error, last_polled_ms, and the URL's poll config.
- ``{prefix}:poll:host:{host}`` holds when a host may next be fetched, so
  pages on one host are spaced by ``host_interval_s`` across all pollers.

A 200 with a new body is wrapped in a RawDocument and handed to ``submit``; a
304 (or a 200 whose body did not change) enqueues nothing; a failure backs off
exponentially with jitter. Counters go to the stats hash: polls_ok,
polls_unchanged, polls_not_modified, polls_failed, polls_deferred.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from urllib.parse import urlsplit

import structlog
from redis import Redis

from producers.enqueue import submit
from producers.fetch import FetchError, FetchLimits, FetchRejected, FetchResult, fetch
from producers.files import blog_id_for
from schemas.documents import ParseOptions, RawDocument
from schemas.errors import DocumentTooLarge, UsageError
from schemas.keys import Keys
from schemas.settings import Settings

log = structlog.get_logger("liveblog.poll")

DEFAULT_EVERY_S = 30.0
DEFAULT_HOST_INTERVAL_S = 5.0
DEFAULT_MAX_BACKOFF_S = 3600.0
INTERVAL_JITTER = 0.1  # a schedule of many pages spreads out instead of firing in step
BACKOFF_JITTER = 0.25
CLAIM_LEASE_S = 120.0  # longer than any fetch (FetchLimits.total_timeout_s) plus the submit

Fetcher = Callable[..., FetchResult]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str, *, allow_zero: bool = False) -> float:
    """Seconds in "30s", "5m", "1h", "1h30m" or a bare number of seconds."""
    cleaned = text.strip().lower()
    try:
        seconds = float(cleaned)
    except ValueError:
        parts = _DURATION_PART.findall(cleaned)
        if not parts or "".join(n + u for n, u in parts) != cleaned:
            raise UsageError(f"invalid duration {text!r}: expected a number and a unit, such as 30s, 5m or 1h") from None
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise UsageError(f"invalid duration {text!r}: expected more than zero")
    return seconds


@dataclass(frozen=True)
class PollConfig:
    """How one URL is polled; stored with its state so a restarted poller needs no flags."""

    every_s: float = DEFAULT_EVERY_S
    blog_id: str | None = None
    options: ParseOptions = field(default_factory=ParseOptions)
    allow_private: bool = False
    host_interval_s: float = DEFAULT_HOST_INTERVAL_S
    max_backoff_s: float = DEFAULT_MAX_BACKOFF_S
    limits: FetchLimits = field(default_factory=FetchLimits)

    def to_json(self) -> str:
        return json.dumps(
            {
                "every_s": self.every_s, "blog_id": self.blog_id, "options": self.options.model_dump(mode="json"),
                "allow_private": self.allow_private, "host_interval_s": self.host_interval_s,
                "max_backoff_s": self.max_backoff_s,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> PollConfig:
        data = json.loads(text)
        return cls(**{**data, "options": ParseOptions.model_validate(data.get("options") or {})})


@dataclass(frozen=True)
class PollOutcome:
    url: str
    status: str  # ok | unchanged | not-modified | failed | deferred
    next_due_ms: int
    http_status: int | None = None
    document_id: str | None = None
    accepted: bool = False
    error: str | None = None


@dataclass(frozen=True)
class PollKeys:
    prefix: str = "liveblog"

    @property
    def due(self) -> str:
        return f"{self.prefix}:poll:due"

    def state(self, url: str) -> str:
        return f"{self.prefix}:poll:{hashlib.sha256(url.encode('utf-8')).hexdigest()[:16]}"

    def host(self, host: str) -> str:
        return f"{self.prefix}:poll:host:{host}"


# Take the due URLs (all of them, or only those in ARGV[4..]) and lease them in one step,
# so two pollers sharing the schedule never fetch the same URL at the same time.
_TAKE_DUE = """
local now, lease, limit = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local taken = {}
if #ARGV > 3 then
  for i = 4, #ARGV do
    local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
    if score and tonumber(score) <= now and #taken < limit then table.insert(taken, ARGV[i]) end
  end
else
  taken = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
end
for _, url in ipairs(taken) do redis.call('ZADD', KEYS[1], 'XX', lease, url) end
return taken
"""

# A host slot: 0 when this caller may fetch now (and the next slot is booked), else ms to wait.
_HOST_SLOT = """
local free_at = tonumber(redis.call('GET', KEYS[1]) or '0')
local now, gap = tonumber(ARGV[1]), tonumber(ARGV[2])
if free_at > now then return free_at - now end
redis.call('SET', KEYS[1], now + gap, 'PX', gap + 60000)
return 0
"""


def now_ms() -> int:
    return int(time.time() * 1000)


def register(conn: Redis, settings: Settings, url: str, config: PollConfig, *, at_ms: int | None = None) -> None:
    """Add ``url`` to the schedule, due now unless it is already scheduled (restarts keep their place)."""
    keys = PollKeys(settings.key_prefix)
    with conn.pipeline(transaction=True) as pipe:
        pipe.hset(keys.state(url), mapping={"url": url, "config": config.to_json()})
        pipe.zadd(keys.due, {url: at_ms if at_ms is not None else now_ms()}, nx=True)
        pipe.execute()


def forget(conn: Redis, settings: Settings, url: str) -> bool:
    """Remove ``url`` from the schedule and drop its state; True when it was scheduled."""
    keys = PollKeys(settings.key_prefix)
    with conn.pipeline(transaction=True) as pipe:
        pipe.zrem(keys.due, url)
        pipe.delete(keys.state(url))
        removed, _ = pipe.execute()
    return bool(removed)


def load_config(conn: Redis, settings: Settings, url: str) -> PollConfig:
    return stored_config(conn, settings, url) or PollConfig()


def stored_config(conn: Redis, settings: Settings, url: str) -> PollConfig | None:
    """The config ``url`` was scheduled with, or None when it is not on the schedule."""
    keys = PollKeys(settings.key_prefix)
    if conn.zscore(keys.due, url) is None:
        return None
    stored = conn.hget(keys.state(url), "config")
    return PollConfig.from_json(stored) if stored else None


_DOCUMENT_FIELDS = ("format", "tz", "date")


def with_overrides(base: PollConfig, given: dict) -> PollConfig:
    """``base`` with the options a command line gave explicitly; the others keep their value.

    A page's time zone, format and blog id belong to the page: a command that names a
    scheduled URL without ``--tz`` must not re-parse it in UTC (every post of a text page
    would come back an hour off, as new posts)."""
    options = base.options.model_copy(update={k: given[k] for k in _DOCUMENT_FIELDS if k in given})
    rest = {k: v for k, v in given.items() if k not in _DOCUMENT_FIELDS}
    return replace(base, options=options, **rest)


def take_due(
    conn: Redis, settings: Settings, at_ms: int, *, urls: Iterable[str] = (), limit: int = 16,
    lease_s: float = CLAIM_LEASE_S,
) -> list[str]:
    """Lease and return the URLs due at ``at_ms`` (only among ``urls`` when given)."""
    keys = PollKeys(settings.key_prefix)
    args = [at_ms, at_ms + int(lease_s * 1000), limit, *urls]
    return [u.decode("utf-8") if isinstance(u, bytes) else u for u in conn.eval(_TAKE_DUE, 1, keys.due, *args)]


def poll_once(
    conn: Redis,
    url: str,
    settings: Settings,
    config: PollConfig | None = None,
    *,
    at_ms: int | None = None,
    fetcher: Fetcher = fetch,
    rng: random.Random | None = None,
    scheduled: bool = True,
) -> PollOutcome:
    """One conditional GET of ``url``; submits a document only when the page changed.

    ``scheduled=False`` (``--once`` on a URL no poller schedules) keeps the URL's validators
    for the next such check, for the dedup window, but does not put it on the schedule."""
    at_ms = now_ms() if at_ms is None else at_ms
    config = config or load_config(conn, settings, url)
    rng = rng or random.Random()
    keys = PollKeys(settings.key_prefix)
    state = {k.decode(): v.decode() for k, v in conn.hgetall(keys.state(url)).items()}
    wait_ms = _host_wait_ms(conn, keys, url, at_ms, config.host_interval_s)
    record = functools.partial(_record, scheduled=scheduled)
    if wait_ms:
        return record(conn, settings, url, PollOutcome(url, "deferred", at_ms + wait_ms), {}, "polls_deferred")
    try:
        result = fetcher(
            url, etag=state.get("etag") or None, last_modified=state.get("last_modified") or None,
            allow_private=config.allow_private, limits=config.limits,
        )
    except FetchError as exc:
        return _failed(conn, settings, url, config, state, exc, at_ms, rng, scheduled=scheduled)
    due = at_ms + _jittered_ms(config.every_s, INTERVAL_JITTER, rng)
    fields = {
        "failures": 0, "last_status": result.status, "last_error": "", "last_polled_ms": at_ms,
        "etag": result.etag or state.get("etag", ""),
        "last_modified": result.last_modified or state.get("last_modified", ""),
    }
    if result.not_modified:
        return record(conn, settings, url, PollOutcome(url, "not-modified", due, 304), fields, "polls_not_modified")
    digest = hashlib.sha256(result.body).hexdigest()
    if digest == state.get("body_sha256"):  # a server that ignores conditional requests
        return record(conn, settings, url, PollOutcome(url, "unchanged", due, result.status), fields, "polls_unchanged")
    raw = _document(url, result, config, at_ms)
    try:
        accepted = submit(conn, raw, settings)
    except DocumentTooLarge as exc:  # a size cap, like the fetcher's: nothing accepted, the URL backs off
        refused = FetchRejected(f"page from {url} refused: {exc}", url=url, status=result.status)
        return _failed(conn, settings, url, config, state, refused, at_ms, rng, scheduled=scheduled)
    fields["body_sha256"] = digest
    outcome = PollOutcome(url, "ok", due, result.status, document_id=raw.document_id, accepted=accepted)
    return record(conn, settings, url, outcome, fields, "polls_ok")


def _document(url: str, result: FetchResult, config: PollConfig, at_ms: int) -> RawDocument:
    return RawDocument.from_bytes(
        result.body,
        blog_id=config.blog_id or blog_id_for(url),
        source=url,
        fetched_at=datetime.fromtimestamp(at_ms / 1000, timezone.utc),
        content_type=result.content_type,
        etag=result.etag,
        options=config.options,
    )


def backoff_s(failures: int, config: PollConfig, rng: random.Random) -> float:
    """2×, 4×, 8×… every_s after 1, 2, 3… failures, up to max_backoff_s, each ±25% so that
    pollers failing together (one host down) do not retry in step."""
    base = min(config.every_s * 2 ** min(failures, 32), config.max_backoff_s)
    return base * rng.uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER)


def _failed(
    conn: Redis, settings: Settings, url: str, config: PollConfig, state: dict, exc: FetchError, at_ms: int,
    rng: random.Random, *, scheduled: bool = True,
) -> PollOutcome:
    failures = int(state.get("failures") or 0) + 1
    due = at_ms + int(backoff_s(failures, config, rng) * 1000)
    fields = {"failures": failures, "last_status": exc.status or "", "last_error": str(exc)[:500], "last_polled_ms": at_ms}
    log.warning("poll_failed", url=url, failures=failures, error=str(exc), retry_in_s=round((due - at_ms) / 1000, 1))
    outcome = PollOutcome(url, "failed", due, exc.status, error=str(exc))
    return _record(conn, settings, url, outcome, fields, "polls_failed", scheduled=scheduled)


def _record(conn: Redis, settings: Settings, url: str, outcome: PollOutcome, fields: dict, counter: str, *,
            scheduled: bool = True) -> PollOutcome:
    """State, next due time and counter in one transaction, so `stats` and the schedule agree."""
    keys = PollKeys(settings.key_prefix)
    with conn.pipeline(transaction=True) as pipe:
        pipe.hset(keys.state(url), mapping={**fields, "url": url, "next_due_ms": outcome.next_due_ms})
        if scheduled:
            pipe.zadd(keys.due, {url: outcome.next_due_ms})
        else:
            pipe.expire(keys.state(url), settings.dedup_window_s)
        pipe.hincrby(Keys(settings.key_prefix).stats, counter, 1)
        pipe.execute()
    log.debug("poll_done", url=url, status=outcome.status, http_status=outcome.http_status,
              document_id=outcome.document_id, next_due_ms=outcome.next_due_ms)
    return outcome


def _host_wait_ms(conn: Redis, keys: PollKeys, url: str, at_ms: int, interval_s: float) -> int:
    gap_ms = int(interval_s * 1000)
    if gap_ms <= 0:
        return 0
    host = (urlsplit(url).hostname or "").lower()
    return int(conn.eval(_HOST_SLOT, 1, keys.host(host), at_ms, gap_ms))


def _jittered_ms(seconds: float, spread: float, rng: random.Random) -> int:
    return int(seconds * rng.uniform(1 - spread, 1 + spread) * 1000)


def run_poller(
    conn: Redis,
    urls: list[str],
    every_s: float | None,
    stop_event: threading.Event,
    *,
    settings: Settings,
    config: PollConfig | None = None,
    idle_s: float = 1.0,
    on_outcome: Callable[[PollOutcome], None] | None = None,
    given: dict | None = None,
) -> None:
    """The scheduler loop of ``liveblog poll``: its own process, reading due URLs from Redis.

    With ``urls`` it registers them (keeping any existing schedule) and polls only
    them; with none it resumes every URL registered before, each with its stored config.
    ``given``: the options the command line named; a URL scheduled before keeps its stored
    config for the others (see with_overrides). Without it, ``config`` replaces the stored one.
    """
    base = config or PollConfig()
    if every_s is not None:
        base = replace(base, every_s=every_s)
    configs = {}
    for url in urls:
        configs[url] = with_overrides(stored_config(conn, settings, url) or base, given) if given is not None else base
        register(conn, settings, url, configs[url])
    while not stop_event.is_set():
        due = take_due(conn, settings, now_ms(), urls=urls)
        for position, url in enumerate(due):
            if stop_event.is_set():
                _release(conn, settings, due[position:])
                return
            outcome = poll_once(conn, url, settings, configs.get(url))
            if on_outcome:
                on_outcome(outcome)
        if not due:
            stop_event.wait(_sleep_s(conn, settings, urls, idle_s))


def run_once(
    conn: Redis, urls: list[str], settings: Settings, config: PollConfig, *, sleep: Callable[[float], None] = time.sleep,
    given: dict | None = None,
) -> list[PollOutcome]:
    """``--once``: poll each URL now, waiting out per-host politeness rather than skipping.

    A one-off check changes no schedule: a URL a poller schedules is fetched with its stored
    config (with the options ``given`` on top, for this poll only) and keeps it; any other URL
    is polled with ``config`` and not added to the schedule."""
    outcomes = []
    for url in urls:
        stored = stored_config(conn, settings, url)
        this = config if stored is None else with_overrides(stored, given or {})
        outcome = poll_once(conn, url, settings, this, scheduled=stored is not None)
        while outcome.status == "deferred":
            sleep(max(outcome.next_due_ms - now_ms(), 0) / 1000)
            outcome = poll_once(conn, url, settings, this, scheduled=stored is not None)
        outcomes.append(outcome)
    return outcomes


def _release(conn: Redis, settings: Settings, urls: list[str]) -> None:
    """Hand leased but unpolled URLs back to the schedule, due now."""
    if urls:
        conn.zadd(PollKeys(settings.key_prefix).due, {u: now_ms() for u in urls}, xx=True)


def _sleep_s(conn: Redis, settings: Settings, urls: list[str], idle_s: float) -> float:
    """Until the next URL is due, at most ``idle_s`` (so new registrations are noticed)."""
    due_key = PollKeys(settings.key_prefix).due
    if urls:
        scores = [s for s in conn.zmscore(due_key, urls) if s is not None]
    else:
        scores = [s for _, s in conn.zrange(due_key, 0, 0, withscores=True)]
    if not scores:
        return idle_s
    return min(max((min(scores) - now_ms()) / 1000, 0.05), idle_s)


def poll_status(conn: Redis, settings: Settings) -> list[dict]:
    """Every scheduled URL with its state, soonest due first (for ``liveblog poll --status``)."""
    keys = PollKeys(settings.key_prefix)
    rows = []
    for member, score in conn.zrange(keys.due, 0, -1, withscores=True):
        url = member.decode("utf-8")
        state = {k.decode(): v.decode() for k, v in conn.hgetall(keys.state(url)).items()}
        rows.append(
            {
                "url": url,
                "next_due": datetime.fromtimestamp(score / 1000, timezone.utc).isoformat(),
                "failures": int(state.get("failures") or 0),
                "last_status": state.get("last_status") or None,
                "last_error": state.get("last_error") or None,
                "etag": state.get("etag") or None,
                "last_modified": state.get("last_modified") or None,
            }
        )
    return rows
