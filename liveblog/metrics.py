"""Prometheus metrics read from Redis on each scrape (``liveblog metrics --port 9108``).

Why an exporter and not counters in the workers: the commit script moves the counters in
``liveblog:stats`` atomically with the events it publishes, in whichever process or
container ran the job. Redis is already the single source of truth, so any number of
workers (forking or not, on any machine) and restarts give exact totals, and one
exporter process reads them. ``liveblog stats`` reads the same hash through
:func:`liveblog.stats.collect`, which this module also uses, so the two agree by
construction.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import redis
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from liveblog import stats as stats_mod
from schemas.keys import Keys
from schemas.settings import Settings
from workers.metrics import BUCKETS_S, COUNT_FIELD, INF, SUM_FIELD, bucket_field, job_duration_key

# Counters of liveblog:stats that no model in liveblog.stats names yet (written by the
# alert dispatcher and the worker's job guard); absent fields count as 0.
EXTRA_COUNTERS = ("alerts_sent", "alerts_failed", "jobs_refused")
POST_OUTCOMES = ("created", "updated", "duplicate", "stale", "repeat", "retracted")
DOCUMENT_OUTCOMES = ("accepted", "resubmitted", "processed", "dead_lettered", "requeued", "discarded")


def snapshot(conn: redis.Redis, settings: Settings) -> dict:
    """Everything the exporter publishes, as plain data (also printed by ``liveblog stats``)."""
    keys = Keys(settings.key_prefix)
    report = stats_mod.collect(conn, settings)
    raw = conn.hmget(keys.stats, list(EXTRA_COUNTERS))
    report["extra"] = {name: int(value or 0) for name, value in zip(EXTRA_COUNTERS, raw)}
    report["job_duration"] = job_duration(conn, settings.key_prefix)
    report["groups"] = consumer_groups(conn, keys.events)
    return report


def job_duration(conn: redis.Redis, prefix: str) -> dict:
    """Cumulative buckets ``[(upper, count)]``, count and sum, from the workers' hash."""
    raw = {k.decode(): v for k, v in conn.hgetall(job_duration_key(prefix)).items()}
    running = 0
    buckets: list[tuple[str, int]] = []
    for upper in (*BUCKETS_S, INF):
        running += int(raw.get(bucket_field(upper), 0))
        buckets.append((INF if upper == INF else floatToGoString(upper), running))
    return {"buckets": buckets, "count": int(raw.get(COUNT_FIELD, 0)), "sum": float(raw.get(SUM_FIELD, 0.0))}


def consumer_groups(conn: redis.Redis, stream: str) -> list[dict]:
    """Per consumer group of ``stream``: entries not yet delivered (lag) and delivered, unacknowledged."""
    try:
        groups = conn.xinfo_groups(stream)
    except redis.ResponseError:  # no such stream yet
        return []
    out = []
    for group in groups:
        lag = group.get("lag")
        out.append({
            "stream": stream,
            "group": _text(group["name"]),
            "consumers": int(group.get("consumers", 0)),
            "pending": int(group.get("pending", 0)),
            # Redis reports no lag (nil) when it cannot tell after trimming; -1 says so.
            "lag": int(lag) if lag is not None else -1,
        })
    return out


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisCollector(Collector):
    """Reads Redis on every scrape; a scrape that cannot reach Redis reports ``liveblog_up 0``."""

    def __init__(self, conn: redis.Redis, settings: Settings) -> None:
        self.conn = conn
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily("liveblog_up", "1 when the last scrape read Redis, else 0")
        try:
            snap = snapshot(self.conn, self.settings)
        except (redis.ConnectionError, redis.TimeoutError):
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _families(snap)
        took = GaugeMetricFamily("liveblog_scrape_duration_seconds", "time to read the metrics from Redis")
        took.add_metric([], time.perf_counter() - started)
        yield took


def _families(snap: dict) -> Iterator[Metric]:
    c, extra = snap["counters"], snap["extra"]
    docs = CounterMetricFamily("liveblog_documents", "documents by outcome", labels=["outcome"])
    for outcome in DOCUMENT_OUTCOMES:
        docs.add_metric([outcome], c[f"documents_{outcome}"])
    yield docs
    seen = CounterMetricFamily("liveblog_posts_seen", "posts read from committed documents")
    seen.add_metric([], c["posts_seen"])
    yield seen
    posts = CounterMetricFamily("liveblog_posts", "posts by decision", labels=["outcome"])
    for outcome in POST_OUTCOMES:
        posts.add_metric([outcome], c[f"posts_{outcome}"])
    yield posts
    yield _counter("liveblog_events_published", "events added to the event stream", c["events_published"])
    followups = CounterMetricFamily("liveblog_alert_followups", "follow-up alerts committed, by kind", labels=["kind"])
    for kind in ("retraction", "correction", "restoration"):
        followups.add_metric([kind], c[f"alerts_followups_{kind}"])
    yield followups
    alerts = CounterMetricFamily("liveblog_alerts", "alert deliveries by outcome", labels=["outcome"])
    alerts.add_metric(["sent"], extra["alerts_sent"])
    alerts.add_metric(["failed"], extra["alerts_failed"])
    yield alerts
    yield _counter("liveblog_jobs_refused", "jobs naming a callable other than liveblog's", extra["jobs_refused"])

    duration = snap["job_duration"]
    hist = HistogramMetricFamily("liveblog_job_duration_seconds", "time to process one document (all workers)")
    hist.add_metric([], buckets=duration["buckets"], sum_value=duration["sum"])
    yield hist

    queue = GaugeMetricFamily("liveblog_queue_jobs", "ingest jobs by registry", labels=["state"])
    for state, count in snap["jobs"].items():
        queue.add_metric([state], count)
    yield queue
    yield _gauge("liveblog_workers", "RQ workers registered on the ingest queue", snap["workers"])
    streams = GaugeMetricFamily("liveblog_stream_length", "entries in a stream", labels=["stream"])
    streams.add_metric(["events"], snap["streams"]["events"])
    streams.add_metric(["dead_letter"], snap["streams"]["dead_letter"])
    yield streams
    yield _gauge("liveblog_dead_letters", "documents in the dead-letter stream", snap["streams"]["dead_letter"])
    yield _gauge("liveblog_reconciled", "1 when the counters reconcile", int(snap["reconciled"]["ok"]))

    lag = GaugeMetricFamily("liveblog_stream_group_lag", "entries a consumer group has not been delivered yet",
                            labels=["stream", "group"])
    pending = GaugeMetricFamily("liveblog_stream_group_pending", "entries delivered to a group, not acknowledged",
                                labels=["stream", "group"])
    for group in snap["groups"]:
        lag.add_metric([group["stream"], group["group"]], group["lag"])
        pending.add_metric([group["stream"], group["group"]], group["pending"])
    yield lag
    yield pending


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc)
    family.add_metric([], value)
    return family


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc)
    family.add_metric([], value)
    return family


def registry(conn: redis.Redis, settings: Settings) -> CollectorRegistry:
    """A registry holding only liveblog's collector (no process metrics of the exporter itself)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(RedisCollector(conn, settings))
    return reg


def render(snap: dict) -> str:
    """The lines ``liveblog stats`` adds for what is not in :func:`liveblog.stats.render`."""
    d, extra = snap["job_duration"], snap["extra"]
    mean_ms = 1000 * d["sum"] / d["count"] if d["count"] else 0.0
    lines = [
        f"jobs       duration: {d['count']} jobs, mean {mean_ms:.1f} ms, p50 <= {_quantile(d, 0.5)} s,"
        f" p95 <= {_quantile(d, 0.95)} s; refused {extra['jobs_refused']}",
        f"alerts     sent {extra['alerts_sent']}, failed {extra['alerts_failed']}",
    ]
    for g in snap["groups"]:
        lines.append(f"group      {g['group']}: lag {g['lag']}, pending {g['pending']}, consumers {g['consumers']}")
    return "\n".join(lines)


def _quantile(duration: dict, q: float) -> str:
    """The upper bound of the bucket holding quantile ``q`` (what a fixed-bucket histogram can say)."""
    if not duration["count"]:
        return "-"
    target = q * duration["count"]
    return next(upper for upper, running in duration["buckets"] if running >= target)
