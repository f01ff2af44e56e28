"""One settings object, read once at an entry point. Units are in the names."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveFloat, PositiveInt, ValidationError

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

Share = Annotated[float, Field(ge=0.0, le=1.0)]  # a similarity threshold


class Settings(BaseModel):
    """Durations, TTLs, stream lengths and attempt counts are positive: Redis refuses an expire
    time of 0 or less only when the first key is written, deep inside a job. Retries, retry
    intervals, the grace and the result TTL may be 0 (none, at once, keep no result)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    redis_url: str | None = None
    key_prefix: str = "liveblog"
    ingest_queue: str = INGEST_QUEUE
    job_timeout_s: PositiveInt = 60
    # ...plus this much per MB of the document, so the largest document the parsers read (20,000
    # posts, 20 MB) ends within its timeout instead of timing out attempt after attempt (0: none)
    job_timeout_per_mb_s: NonNegativeInt = 20
    job_retries: NonNegativeInt = 5
    retry_intervals_s: tuple[NonNegativeInt, ...] = (1, 3, 10, 30, 60)
    # How long after its job timeout an abandoned job (its worker was killed) is retried.
    abandoned_grace_s: NonNegativeInt = 5
    maintenance_interval_s: PositiveInt = 5
    # RQ holds its maintenance lock 899 s; a worker killed while holding it would stall recovery.
    maintenance_lock_s: PositiveInt = 30
    result_ttl_s: NonNegativeInt = 600
    dedup_window_s: PositiveInt = DEFAULT_DEDUP_WINDOW_S
    stream_maxlen: PositiveInt = DEFAULT_STREAM_MAXLEN
    blog_stream_maxlen: PositiveInt = DEFAULT_BLOG_STREAM_MAXLEN
    topic_stream_maxlen: PositiveInt = DEFAULT_TOPIC_STREAM_MAXLEN
    alert_stream_maxlen: PositiveInt = DEFAULT_ALERT_STREAM_MAXLEN
    commit_attempts: PositiveInt = 8
    # Webhook delivery (liveblog dispatch): attempts before the dead letter, backoff bounds.
    webhook_attempts: PositiveInt = 5
    webhook_backoff_base_s: PositiveFloat = 0.5
    webhook_backoff_max_s: PositiveFloat = 30.0
    webhook_timeout_s: PositiveFloat = 10.0
    # Near-duplicates and stories (docs/dedup.md): estimated Jaccard of word 3-grams.
    repeat_similarity_min: Share = 0.4
    story_similarity_min: Share = 0.2
    story_window_s: PositiveInt = 48 * 3600

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
                # pydantic reads the numbers, so a bad one is reported as any other bad setting
                values[name] = tuple(raw.split(",")) if name == "retry_intervals_s" else raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            expected = first["msg"].removeprefix("Input should be ").lower()
            if first["type"] in ("greater_than", "greater_than_equal", "less_than_equal"):
                expected = f"a number {expected}"
            raise UsageError(
                f"invalid setting LIVEBLOG_{str(first['loc'][0]).upper()}: expected {expected}, "
                f"found {first.get('input')!r}"
            ) from exc


def job_timeout_for(settings: Settings, document_chars: int) -> int:
    """A job's timeout for a document of ``document_chars`` characters (its body as sent)."""
    return settings.job_timeout_s + -(-document_chars * settings.job_timeout_per_mb_s // 1_000_000)
