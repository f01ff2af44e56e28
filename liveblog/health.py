"""Is the pipeline able to make progress? The checks behind ``liveblog health``.

Made for container health checks: it answers from Redis alone in one short call, with
reasons a person can act on. Unhealthy means work is not getting done: no worker is
registered (or, with ``local_host``, none on this host), or the oldest queued document has
waited longer than ``max_queue_lag_s``, or more than ``max_queued`` documents wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import redis
from rq import Worker

from producers.enqueue import ingest_queue
from schemas.settings import Settings

DEFAULT_MAX_QUEUE_LAG_S = 60.0


@dataclass(frozen=True)
class Health:
    workers: int
    queued: int
    queue_lag_s: float
    reasons: list[str] = field(default_factory=list)

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
    now: datetime | None = None,
) -> Health:
    """Redis errors propagate: the caller turns them into "unreachable" (exit 3)."""
    queue = ingest_queue(conn, settings)
    workers = Worker.all(queue=queue)
    if local_host is not None:
        workers = [w for w in workers if w.hostname == local_host]
    queued = queue.count
    lag = oldest_queued_age_s(queue, now or datetime.now(timezone.utc))
    reasons = []
    if not workers:
        where = f" on host {local_host!r}" if local_host is not None else ""
        reasons.append(f"no worker is alive{where} on queue {queue.name!r}: start `liveblog worker`")
    if lag > max_queue_lag_s:
        reasons.append(
            f"queue lag {lag:.1f}s exceeds {max_queue_lag_s:g}s: the oldest of {queued} queued documents is waiting;"
            " add workers or look for a stuck one"
        )
    if max_queued is not None and queued > max_queued:
        reasons.append(f"{queued} documents queued, more than the allowed {max_queued}")
    return Health(workers=len(workers), queued=queued, queue_lag_s=lag, reasons=reasons)


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
    lines = [f"{status}: workers {health.workers}, queued {health.queued}, queue lag {health.queue_lag_s:.1f}s"]
    lines += [f"  - {reason}" for reason in health.reasons]
    return "\n".join(lines)
