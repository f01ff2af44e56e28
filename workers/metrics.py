"""Job durations, recorded in Redis so that every worker process adds to one histogram.

A prometheus-client histogram kept in a worker's memory would be per process: with
``--processes N``, a forking worker or four containers, each scrape would see one
process's share (or need prometheus-client's multiprocess directory, which does not
cross containers). Here each job adds one sample to a Redis hash in one MULTI/EXEC:
its bucket, the count and the sum. The exporter (``liveblog metrics``) reads the hash on
each scrape and turns the per-bucket counts into Prometheus' cumulative buckets.

Workers never import ``liveblog``; the exporter imports the layout from here.
"""

from __future__ import annotations

import bisect

import redis
import structlog

log = structlog.get_logger("liveblog.worker")

# Upper bounds in seconds; a document takes milliseconds to parse and a few hundred to enrich.
BUCKETS_S: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
INF = "+Inf"
COUNT_FIELD = "count"
SUM_FIELD = "sum"


def job_duration_key(prefix: str = "liveblog") -> str:
    return f"{prefix}:metrics:job_duration"


def bucket_field(upper_s: float | str) -> str:
    """The hash field of one bucket: ``le:0.005`` … ``le:+Inf`` (per bucket, not cumulative)."""
    return f"le:{upper_s if upper_s == INF else format(upper_s, 'g')}"


def bucket_for(seconds: float) -> str:
    index = bisect.bisect_left(BUCKETS_S, seconds)
    return bucket_field(BUCKETS_S[index] if index < len(BUCKETS_S) else INF)


def record_job_duration(conn: redis.Redis, seconds: float, *, prefix: str = "liveblog") -> None:
    """Add one job's duration to the shared histogram.

    A lost sample is better than a retried job: a Redis error here is logged, not raised,
    because by now the job's commit has happened.
    """
    seconds = max(float(seconds), 0.0)
    try:
        with conn.pipeline(transaction=True) as pipe:
            key = job_duration_key(prefix)
            pipe.hincrby(key, bucket_for(seconds), 1)
            pipe.hincrby(key, COUNT_FIELD, 1)
            pipe.hincrbyfloat(key, SUM_FIELD, seconds)
            pipe.execute()
    except redis.RedisError as exc:
        log.warning("job_duration_not_recorded", error=str(exc), seconds=seconds)
