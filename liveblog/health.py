"""Is the pipeline able to make progress? The checks behind ``liveblog health``.

Made for container health checks: it answers from Redis alone in one short call, with
reasons a person can act on. Unhealthy means work is not getting done: no worker is
alive (or, with ``local_host``, none on this host), or the oldest queued document has
waited longer than ``max_queue_lag_s``, or more than ``max_queued`` documents wait.

Alive means registered *and* heartbeating. RQ keeps a worker's key for minutes after a
SIGKILL (the key's TTL runs from the last heartbeat), so ``Worker.all()`` alone counts a
killed worker as alive that long. An idle liveblog worker heartbeats every
``maintenance_interval_s`` (``workers.worker.heartbeat_interval_s``): one silent for
``HEARTBEAT_MISSES`` intervals (at least ``MIN_HEARTBEAT_AGE_S``) is presumed dead. A busy
worker does not heartbeat while its job runs (a ``SimpleWorker`` cannot), so it is allowed
the job timeout plus ``abandoned_grace_s`` on top: the same allowance RQ gives its job
before declaring it abandoned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import redis
from rq import Worker

from producers.enqueue import ingest_queue
from schemas.settings import Settings

DEFAULT_MAX_QUEUE_LAG_S = 60.0
HEARTBEAT_MISSES = 3
MIN_HEARTBEAT_AGE_S = 10.0


def default_max_heartbeat_age_s(settings: Settings) -> float:
    """The idle worker's limit: a few of its heartbeat intervals (``maintenance_interval_s``,
    the interval ``workers.worker`` gives RQ), never less than ``MIN_HEARTBEAT_AGE_S``."""
    return max(float(HEARTBEAT_MISSES * max(1, settings.maintenance_interval_s)), MIN_HEARTBEAT_AGE_S)


@dataclass(frozen=True)
class Health:
    workers: int
    queued: int
    queue_lag_s: float
    reasons: list[str] = field(default_factory=list)
    # Registered in Redis but silent past the heartbeat limit: presumed dead (killed).
    dead_workers: list[str] = field(default_factory=list)
    # What is worth knowing but does not stop the work (a dead worker next to live ones).
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons


def check(
    conn: redis.Redis,
    settings: Settings,
    *,
    max_queue_lag_s: float = DEFAULT_MAX_QUEUE_LAG_S,
    max_queued: int | None = None,
    local_host: str | None = None,
    max_heartbeat_age_s: float | None = None,
    now: datetime | None = None,
) -> Health:
    """Redis errors propagate: the caller turns them into "unreachable" (exit 3)."""
    queue = ingest_queue(conn, settings)
    moment = now or datetime.now(timezone.utc)
    registered = Worker.all(queue=queue)
    if local_host is not None:
        registered = [w for w in registered if w.hostname == local_host]
    idle_limit = default_max_heartbeat_age_s(settings) if max_heartbeat_age_s is None else max_heartbeat_age_s
    workers, dead, silent = [], [], []
    for worker in registered:
        age, limit, why = _heartbeat(worker, moment, idle_limit, settings)
        if age <= limit:
            workers.append(worker)
        else:
            dead.append(worker.name)
            silent.append(f"worker {worker.name!r} last heartbeat {_age(age)} ago, more than {limit:g}s{why}: "
                          "presumed dead")
    queued = queue.count
    lag = oldest_queued_age_s(queue, moment)
    reasons, notes = [], []
    if workers:
        notes += silent
    else:
        where = f" on host {local_host!r}" if local_host is not None else ""
        reason = f"no worker is alive{where} on queue {queue.name!r}: start `liveblog worker`"
        if silent:
            reason += f" ({'; '.join(silent)})"
        reasons.append(reason)
    if lag > max_queue_lag_s:
        reasons.append(
            f"queue lag {lag:.1f}s exceeds {max_queue_lag_s:g}s: the oldest of {queued} queued documents is waiting;"
            " add workers or look for a stuck one"
        )
    if max_queued is not None and queued > max_queued:
        reasons.append(f"{queued} documents queued, more than the allowed {max_queued}")
    return Health(workers=len(workers), queued=queued, queue_lag_s=lag, reasons=reasons, dead_workers=dead,
                  notes=notes)


def _heartbeat(worker: Worker, now: datetime, idle_limit: float, settings: Settings) -> tuple[float, float, str]:
    """(seconds since its last heartbeat, the limit it is allowed, why that limit)."""
    beat = worker.last_heartbeat
    if beat is None:
        age = float("inf")
    else:
        if beat.tzinfo is None:
            beat = beat.replace(tzinfo=timezone.utc)
        age = max((now - beat).total_seconds(), 0.0)
    if worker.get_state() == "busy":
        timeout = _current_job_timeout(worker) or settings.job_timeout_s  # a large document's is longer
        extra = timeout + settings.abandoned_grace_s
        return age, idle_limit + extra, (
            f" (busy: job timeout {timeout}s + grace {settings.abandoned_grace_s}s"
            f" + {idle_limit:g}s)"
        )
    return age, idle_limit, ""


def _current_job_timeout(worker: Worker) -> int | None:
    """The timeout of the job a busy worker runs; None when it cannot be read (it just ended)."""
    try:
        job = worker.get_current_job()
    except Exception:  # a job deleted or unreadable between the two reads: fall back to the setting
        return None
    return int(job.timeout) if job is not None and job.timeout else None


def _age(seconds: float) -> str:
    return "never" if seconds == float("inf") else f"{seconds:.0f}s"


def oldest_queued_age_s(queue, now: datetime) -> float:
    """Seconds the job at the head of the queue has waited (0 for an empty queue)."""
    for job_id in queue.get_job_ids(0, 4):  # the head may be a job deleted behind RQ's back
        job = queue.fetch_job(job_id)
        if job is not None and job.enqueued_at is not None:
            enqueued = job.enqueued_at
            if enqueued.tzinfo is None:
                enqueued = enqueued.replace(tzinfo=timezone.utc)
            return max((now - enqueued).total_seconds(), 0.0)
    return 0.0


def render(health: Health) -> str:
    status = "healthy" if health.ok else "unhealthy"
    silent = f" ({len(health.dead_workers)} silent, presumed dead)" if health.dead_workers else ""
    lines = [f"{status}: workers {health.workers}{silent}, queued {health.queued}, queue lag {health.queue_lag_s:.1f}s"]
    lines += [f"  - {reason}" for reason in health.reasons]
    lines += [f"  note: {note}" for note in health.notes]
    return "\n".join(lines)
