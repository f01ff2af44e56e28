"""One settings object, read once at an entry point. Units are in the names."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, ValidationError

from schemas.errors import UsageError

INGEST_QUEUE = "liveblog-ingest"
JOB_PROCESS_DOCUMENT = "workers.jobs.process_document"
# The only callables a liveblog worker will run (a job naming anything else is refused).
ALLOWED_JOBS = frozenset({JOB_PROCESS_DOCUMENT})

DEFAULT_DEDUP_WINDOW_S = 7 * 24 * 3600
DEFAULT_STREAM_MAXLEN = 1_000_000
DEFAULT_BLOG_STREAM_MAXLEN = 100_000
DEFAULT_TOPIC_STREAM_MAXLEN = 100_000
DEFAULT_ALERT_STREAM_MAXLEN = 10_000


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    redis_url: str | None = None
    key_prefix: str = "liveblog"
    ingest_queue: str = INGEST_QUEUE
    job_timeout_s: int = 60
    job_retries: int = 5
    retry_intervals_s: tuple[int, ...] = (1, 3, 10, 30, 60)
    # How long after its job timeout an abandoned job (its worker was killed) is retried.
    abandoned_grace_s: int = 5
    maintenance_interval_s: int = 5
    # RQ holds its maintenance lock 899 s; a worker killed while holding it would stall recovery.
    maintenance_lock_s: int = 30
    result_ttl_s: int = 600
    dedup_window_s: int = DEFAULT_DEDUP_WINDOW_S
    stream_maxlen: int = DEFAULT_STREAM_MAXLEN
    blog_stream_maxlen: int = DEFAULT_BLOG_STREAM_MAXLEN
    topic_stream_maxlen: int = DEFAULT_TOPIC_STREAM_MAXLEN
    alert_stream_maxlen: int = DEFAULT_ALERT_STREAM_MAXLEN
    commit_attempts: int = 8
    # Webhook delivery (liveblog dispatch): attempts before the dead letter, backoff bounds.
    webhook_attempts: int = 5
    webhook_backoff_base_s: float = 0.5
    webhook_backoff_max_s: float = 30.0
    webhook_timeout_s: float = 10.0
    # Near-duplicates and stories (docs/dedup.md): estimated Jaccard of word 3-grams.
    repeat_similarity_min: float = 0.4
    story_similarity_min: float = 0.2
    story_window_s: int = 48 * 3600

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        url = env.get("REDIS_URL") or env.get("RQ_REDIS_URL")
        if url:
            values["redis_url"] = url
        for name in cls.model_fields:
            key = f"LIVEBLOG_{name.upper()}"
            if key in env:
                raw = env[key]
                values[name] = tuple(int(x) for x in raw.split(",")) if name == "retry_intervals_s" else raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise UsageError(
                f"invalid setting LIVEBLOG_{str(first['loc'][0]).upper()}: expected {first['msg'].lower()}, "
                f"found {first.get('input')!r}"
            ) from exc
