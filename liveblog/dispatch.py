"""`liveblog dispatch`: deliver alerts to webhooks, signed per Standard Webhooks.

At-least-once with an idempotency key: each alert stream is read with a consumer group;
an alert is acknowledged only after its delivery is settled (sent, or dead-lettered after
``webhook_attempts``), in the same MULTI/EXEC that logs the outcome and moves the
``alerts_sent`` / ``alerts_failed`` counters. A dispatcher that dies leaves its alerts
pending and another one claims them (XAUTOCLAIM), so a receiver may see an alert twice:
``webhook-id`` is the alert id, the same on every attempt, for it to drop repeats.

Retries wait ``base * 2**(attempt-1)`` seconds, capped at ``webhook_backoff_max_s``, times
a random factor in [0.5, 1] (jitter, so failing receivers are not hit in lockstep); while
one alert waits, others are delivered. Requests run on a thread pool, one in flight per
subscription, so a slow receiver delays only its own subscription. Targets are checked like polled URLs
(producers.fetch): a host resolving to a private, loopback or link-local address is
refused unless ``--allow-private``, and the connection goes to the checked address.
The signing secret is never logged or written anywhere but the subscription.
"""

from __future__ import annotations

import argparse
import collections
import heapq
import http.client
import json
import os
import random
import socket
import signal
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone

import redis
import structlog
from standardwebhooks.webhooks import Webhook

from liveblog import connect as connecting
from liveblog import consume
from producers import fetch
from schemas.keys import Keys
from schemas.settings import Settings
from schemas.subscriptions import FOLLOWUP_TITLE, Subscription, alert_body, secret_problem
from workers.alerts.store import SubscriptionCache

log = structlog.get_logger("liveblog.dispatch")
GROUP = "dispatch"
DELIVERY_THREADS = 16  # receivers waited on at once; each subscription has at most one request in flight


class TargetRejected(fetch.FetchRejected):
    """Raised when a delivery can never succeed (a webhook URL breaking the fetch policy, an
    Apprise URL Apprise does not know, a secret that cannot sign): dead-lettered, never retried."""

    def __init__(self, message: str, *, url: str = "") -> None:  # not every refusal is about a URL
        super().__init__(message, url=url)


def check_target(url: str, *, allow_private: bool, resolver: fetch.Resolver = fetch.resolve) -> tuple[object, str]:
    """The parsed target and the address to connect to, checked as polled URLs are."""
    try:
        target = fetch._check_url(url)
        return target, fetch._pick_address(target.host, target.port, resolver, allow_private, url)
    except fetch.FetchRejected as exc:
        raise TargetRejected(str(exc).replace("fetch internal hosts", "deliver to internal hosts"), url=url) from exc


def deliver_from_now(conn: redis.Redis, stream: str, *, create: bool = True) -> None:
    """Start ``stream``'s dispatch group after its last entry, with nothing pending.

    For a subscription that starts delivering (new, subscribed again under an old name, or
    given its first webhook) and for one removed: alerts committed before that moment were
    for a rule or a target that is gone, and are not sent (the stream and its feed keep them).
    """
    try:
        if not create and not conn.exists(stream):
            return
        conn.xgroup_create(stream, GROUP, id="$", mkstream=True)
        return
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    conn.xgroup_setid(stream, GROUP, "$")
    while pending := conn.xpending_range(stream, GROUP, min="-", max="+", count=1000):
        conn.xack(stream, GROUP, *[p["message_id"] for p in pending])


def signed_headers(secret: str, alert_id: str, body: str, now: datetime) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": fetch.USER_AGENT,
        "webhook-id": alert_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(alert_id, now, body),
    }


def post(url: str, body: str, headers: dict[str, str], *, allow_private: bool, timeout_s: float) -> int:
    """POST once; the HTTP status, or an OSError/HTTPException when the exchange failed."""
    target, address = check_target(url, allow_private=allow_private)
    kind = fetch._PinnedHTTPSConnection if target.scheme == "https" else fetch._PinnedHTTPConnection
    conn = kind(target, address, timeout=timeout_s)
    try:
        conn.request("POST", target.path, body=body.encode("utf-8"), headers={"Host": target.host_header, **headers})
        response = conn.getresponse()
        response.read(64 * 1024)
        return response.status
    finally:
        conn.close()


def notify(sub: Subscription, fields: dict[str, str]) -> int:
    """Deliver through Apprise (the optional extra): 200 when every service took the message,
    502 when one refused it (retried like a webhook's 5xx). Apprise has no idempotency key, so
    a retry after a partial success can repeat a message on the services that had it."""
    try:
        import apprise
    except ImportError as exc:
        raise TargetRejected(
            "Apprise delivery needs the optional extra: pip install 'liveblog-stream[apprise]'"
        ) from exc
    event = json.loads(fields.get("event") or "{}")
    post = event.get("data", {}).get("post", {})
    targets = apprise.Apprise()
    for url in sub.notify_urls:
        if not targets.add(url.get_secret_value()):
            raise TargetRejected(f"an Apprise URL of {sub.name!r} is not one Apprise understands")
    body = f"{post.get('body', '')[:600]}\n\n{fields.get('rule', '')}".strip()
    title = f"[{sub.name}] {FOLLOWUP_TITLE.get(fields.get('kind', ''), '')}{post.get('title', 'liveblog alert')}"
    if fields.get("kind") == "retraction":
        body = f"Retracted (alert {fields.get('original_id', '')}): the post is no longer on the page."
    return 200 if targets.notify(title=title, body=body) else 502


def payload(fields: dict[str, str]) -> str:
    """The webhook body: the alert, with the event it is about (``alert_body``)."""
    return json.dumps(alert_body(fields), ensure_ascii=False, separators=(",", ":"))


def backoff_s(attempt: int, settings: Settings, rng: random.Random) -> float:
    return min(settings.webhook_backoff_max_s, settings.webhook_backoff_base_s * 2 ** (attempt - 1)) * rng.uniform(0.5, 1.0)


@dataclass(order=True)
class _Retry:
    due: float
    stream: str = field(compare=False)
    entry_id: str = field(compare=False)
    fields: dict = field(compare=False)
    attempts: int = field(compare=False)


class Dispatcher:
    """Reads and settles in one thread (every Redis write is here); the HTTP exchanges run on
    a pool, one at a time per subscription, in stream order: a receiver that hangs until the
    timeout holds back only its own subscription's alerts."""

    def __init__(self, conn: redis.Redis, settings: Settings, *, allow_private: bool = False,
                 consumer: str | None = None, claim_idle_ms: int = 60_000, rng: random.Random | None = None,
                 threads: int = DELIVERY_THREADS) -> None:
        self.conn, self.settings = conn, settings
        self.keys = Keys(settings.key_prefix)
        self.allow_private = allow_private
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.claim_idle_ms = claim_idle_ms
        self.rng = rng or random.Random()
        self.subscriptions = SubscriptionCache(conn, self.keys)
        self.retries: list[_Retry] = []
        self._streams: dict[str, Subscription] = {}
        self._next_claim = 0.0
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="liveblog-dispatch")
        self._queued: dict[str, collections.deque[tuple[str, dict[str, str], int]]] = {}  # per stream, in order
        self._inflight: dict[str, tuple[Future, str, dict[str, str], int]] = {}  # stream -> its one request
        self._closing = False
        self._stop = False

    def stop(self) -> None:
        """Ask ``run`` to return after its current round (from a signal handler: nothing else is touched)."""
        self._stop = True

    @property
    def busy(self) -> bool:
        """Deliveries queued or in flight (retries waiting for their time are in ``retries``)."""
        return bool(self._inflight) or any(self._queued.values())

    def run(self, *, burst: bool = False, block_ms: int = 1000) -> int:
        """Deliver until stopped; with ``burst``, until nothing is left to send or retry."""
        settled = 0
        self._refresh(first=True)
        try:
            while not self._stop:
                did = self.step(block_ms=0 if burst else block_ms)
                settled += did
                if burst and not did and not self.retries and not self.busy:
                    return settled
            return settled
        finally:  # stopped (SIGTERM, Ctrl-C): let the requests in flight finish and settle what they sent
            self._closing = True
            self._pool.shutdown(wait=True)
            self._collect()

    def step(self, *, block_ms: int = 1000) -> int:
        """One round: finished requests, due retries, then new (and claimed) alerts. Returns alerts settled."""
        settled = self._collect()
        self._refresh()
        now = time.monotonic()
        while self.retries and self.retries[0].due <= now:
            r = heapq.heappop(self.retries)
            settled += self._attempt(r.stream, r.entry_id, r.fields, r.attempts)
        wait = block_ms
        if self.retries:
            wait = max(1, min(block_ms, int((self.retries[0].due - time.monotonic()) * 1000)))
        if self._inflight:
            wait = max(1, min(wait, 20))  # come back soon for the answers
        if not self._streams:
            time.sleep(wait / 1000)
            return settled + self._collect()
        rows = self.conn.xreadgroup(GROUP, self.consumer, {s: ">" for s in self._streams}, count=50,
                                    block=wait or None)  # None: do not block (burst); 0 would block forever
        for stream, entries in rows or []:
            for entry_id, fields in entries:
                settled += self._attempt(_text(stream), _text(entry_id), _fields(fields), 0)
        return settled + self._collect()

    def _refresh(self, *, first: bool = False) -> None:
        """Follow subscription changes; claim what dead dispatchers left; re-read our own pending."""
        _, subs = self.subscriptions.current()
        wanted = {self.keys.alerts(s.name): s for s in subs if s.delivers}
        new = [s for s in wanted if s not in self._streams]
        self._streams = wanted
        for stream in new:
            consume.ensure_group(self.conn, stream, GROUP)
        waiting = {(r.stream, r.entry_id) for r in self.retries}
        waiting |= {(stream, entry_id) for stream, q in self._queued.items() for entry_id, _, _ in q}
        waiting |= {(stream, entry_id) for stream, (_, entry_id, _, _) in self._inflight.items()}
        claim_all = first or time.monotonic() >= self._next_claim  # a dispatcher may have died since
        if claim_all:
            self._next_claim = time.monotonic() + max(1.0, self.claim_idle_ms / 2000)
        for stream in (wanted if claim_all else new):
            claimed = consume.claim_idle(self.conn, stream, GROUP, self.consumer, self.claim_idle_ms)
            self._lost(stream, claimed.lost)
            for _, entries in self.conn.xreadgroup(GROUP, self.consumer, {stream: "0"}, count=1000) or []:
                for entry_id, fields in entries:
                    if (stream, _text(entry_id)) not in waiting:
                        self._attempt(stream, _text(entry_id), _fields(fields), 0)

    def _lost(self, stream: str, entry_ids: tuple[str, ...] | list[str]) -> None:
        """Alerts trimmed from their stream (``alert_stream_maxlen``) after a dispatcher took them
        and before one delivered them: gone, so never silently — logged and in the delivery log."""
        for entry_id in entry_ids:
            self.conn.xack(stream, GROUP, entry_id)
            self.conn.xadd(self.keys.deliveries, {
                "alert_id": "", "subscription": stream.rsplit(":", 1)[-1], "event_id": "", "entry_id": entry_id,
                "attempt": "0", "outcome": "lost", "status": "",
                "error": "trimmed from the alert stream before it was delivered", "at": datetime.now(timezone.utc).isoformat()})
            log.warning("alert_lost", stream=stream, entry_id=entry_id,
                        reason="trimmed from the alert stream before it was delivered; raise alert_stream_maxlen")

    def _attempt(self, stream: str, entry_id: str, fields: dict[str, str], attempts: int) -> int:
        """Queue one delivery attempt behind the subscription's earlier ones (settled at once
        when the subscription has gone)."""
        if not fields:  # a pending entry read again after retention trimmed it
            self._lost(stream, [entry_id])
            return 0
        if stream not in self._streams:  # unsubscribed (or webhook removed) while the alert waited
            return self._settle(stream, entry_id, fields, attempts, "dropped", None, "subscription has no webhook now")
        self._queued.setdefault(stream, collections.deque()).append((entry_id, fields, attempts))
        self._pump()
        return 0

    def _pump(self) -> None:
        """Start the next queued request of every subscription with none in flight."""
        if self._closing:  # what is still queued stays pending: redelivered on restart or claim
            return
        for stream, queue in self._queued.items():
            if queue and stream not in self._inflight:
                entry_id, fields, attempts = queue.popleft()
                sub = self._streams.get(stream)
                future = self._pool.submit(self._send, sub, fields) if sub else None
                if future is None:
                    future = Future()
                    future.set_result((None, "subscription has no webhook now", "dropped"))
                self._inflight[stream] = (future, entry_id, fields, attempts)

    def _send(self, sub: Subscription, fields: dict[str, str]) -> tuple[int | None, str | None, str | None]:
        """The HTTP exchange (on a pool thread, no Redis): (status, error, None | "permanent")."""
        status, error, permanent = None, None, None
        try:
            if sub.notify_urls:
                status = notify(sub, fields)
            else:
                problem = secret_problem(sub.webhook_secret.get_secret_value()) if sub.webhook_secret else \
                    "webhook secret: none stored"
                if problem:  # stored by hand or before secrets were checked: it can never sign
                    raise TargetRejected(f"{problem}; replace it with `liveblog subscribe add {sub.name} --secret ...`")
                body = payload(fields)
                headers = signed_headers(sub.webhook_secret.get_secret_value(), fields["id"], body,  # type: ignore[union-attr]
                                         datetime.now(timezone.utc))
                status = post(sub.webhook_url, body, headers, allow_private=self.allow_private,  # type: ignore[arg-type]
                              timeout_s=self.settings.webhook_timeout_s)
        except TargetRejected as exc:
            error, permanent = str(exc), "permanent"
        except (OSError, http.client.HTTPException, fetch.FetchError) as exc:  # refused, reset, timeout, DNS
            error = f"{type(exc).__name__}: {exc}"
        return status, error, permanent

    def _collect(self) -> int:
        """Settle, or schedule the retry of, every request that has finished."""
        settled = 0
        for stream, (future, entry_id, fields, attempts) in list(self._inflight.items()):
            if not future.done():
                continue
            del self._inflight[stream]
            try:
                status, error, kind = future.result()
            except Exception as exc:  # a bug in a delivery path: retried and logged, never fatal  # noqa: BLE001
                status, error, kind = None, f"{type(exc).__name__}: {exc}", None
            settled += self._outcome(stream, entry_id, fields, attempts + (kind != "dropped"), status, error, kind)
        self._pump()
        return settled

    def _outcome(self, stream: str, entry_id: str, fields: dict[str, str], attempts: int, status: int | None,
                 error: str | None, kind: str | None) -> int:
        if kind == "dropped":
            return self._settle(stream, entry_id, fields, attempts, "dropped", None, error)
        if status is not None and 200 <= status < 300:
            return self._settle(stream, entry_id, fields, attempts, "sent", status, None)
        error = error or f"HTTP {status}"
        if kind == "permanent" or attempts >= self.settings.webhook_attempts:
            return self._settle(stream, entry_id, fields, attempts, "dead-lettered", status, error)
        delay = backoff_s(attempts, self.settings, self.rng)
        self.conn.xadd(self.keys.deliveries, _log_entry(fields, attempts, "retry", status, error, delay))
        log.info("alert_retry", alert_id=fields["id"], subscription=fields["subscription"], attempt=attempts,
                 status=status, error=error, retry_in_s=round(delay, 3))
        heapq.heappush(self.retries, _Retry(time.monotonic() + delay, stream, entry_id, fields, attempts))
        return 0

    def _settle(self, stream: str, entry_id: str, fields: dict[str, str], attempts: int, outcome: str,
                status: int | None, error: str | None) -> int:
        """Log, count, dead-letter if need be, and acknowledge: together or not at all."""
        with self.conn.pipeline(transaction=True) as pipe:
            pipe.xadd(self.keys.deliveries, _log_entry(fields, attempts, outcome, status, error, None))
            if outcome == "sent":
                pipe.hincrby(self.keys.stats, "alerts_sent", 1)
            else:
                pipe.hincrby(self.keys.stats, "alerts_failed", 1)
                pipe.xadd(self.keys.alerts_dead_letter, {**fields, "reason": error or outcome, "attempts": attempts})
            pipe.xack(stream, GROUP, entry_id)
            pipe.execute()
        log.info("alert_delivered" if outcome == "sent" else "alert_dead_lettered", alert_id=fields["id"],
                 subscription=fields["subscription"], attempts=attempts, status=status, error=error)
        return 1


def _log_entry(fields: dict[str, str], attempts: int, outcome: str, status: int | None, error: str | None,
               retry_in_s: float | None) -> dict[str, str]:
    entry = {"alert_id": fields["id"], "subscription": fields["subscription"], "event_id": fields["event_id"],
             "attempt": str(attempts), "outcome": outcome, "status": str(status or ""), "error": error or "",
             "at": datetime.now(timezone.utc).isoformat()}
    if fields.get("kind"):  # a follow-up
        entry["kind"] = fields["kind"]
    if retry_in_s is not None:
        entry["retry_in_s"] = f"{retry_in_s:.3f}"
    return entry


def _fields(raw: dict) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def add_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dispatch", help="deliver alerts to subscribers' webhooks (signed, retried)")
    p.add_argument("--burst", action="store_true", help="exit when nothing is left to deliver or retry")
    p.add_argument("--allow-private", action="store_true", help="allow webhook targets on private/loopback addresses")
    p.add_argument("--consumer", help="consumer name (default: host-pid)")
    p.add_argument("--claim-idle-ms", type=int, default=60_000,
                   help="take over alerts another dispatcher left unacknowledged this long")


def cmd_dispatch(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    conn = connecting.connect(settings)
    dispatcher = Dispatcher(conn, settings, allow_private=args.allow_private, consumer=args.consumer,
                            claim_idle_ms=args.claim_idle_ms)
    # SIGTERM (docker stop, systemd, Kubernetes) stops like Ctrl-C: the round ends, the requests in
    # flight finish and are recorded, and the exit is clean (0); the default handler killed the process
    # with them, so their alerts were sent again by the next dispatcher
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: dispatcher.stop())
    try:
        settled = dispatcher.run(burst=args.burst)
    finally:
        signal.signal(signal.SIGTERM, previous)
    log.info("dispatch_done", settled=settled)
    return 0
