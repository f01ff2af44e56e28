"""RQ job entry points. Short on purpose: validate, bind context, act, log."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timezone

import redis
import structlog
from rq import get_current_job
from rq.job import JobStatus
from rq.timeouts import JobTimeoutException

from schemas.documents import RawDocument
from schemas.errors import CommitConflict, InputRejected
from schemas.keys import Keys
from workers import failpoints, runtime
from workers.commit import Committer
from workers.metrics import record_job_duration
from workers.parsers import MAX_DOCUMENT_CHARS
from workers.pipeline import Outcome

log = structlog.get_logger("liveblog.worker")

# Faults that heal by themselves: the job raises and RQ retries it.
TRANSIENT = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, CommitConflict)


def process_document(payload: dict) -> dict:
    """Parse, deduplicate, enrich and publish one document; dead-letter it if it cannot be read."""
    job = get_current_job()
    conn = job.connection if job is not None else None
    if conn is None:
        raise RuntimeError("process_document runs inside an RQ worker, with the job's connection")
    return handle(conn, payload, job_id=job.id if job is not None else None)


def handle(conn: redis.Redis, payload: object, *, job_id: str | None = None) -> dict:
    started = time.perf_counter()
    ident = _identity(payload)
    with structlog.contextvars.bound_contextvars(job_id=job_id, **ident):
        try:
            raw = RawDocument.decode(payload)
            failpoints.stall_once("stall_once")  # tests hang a job here, for RQ's timeout to end
            with runtime.collector_paused():  # the events out first, any collection after
                outcome = runtime.processor(conn).process(raw)
            if outcome.status == "committed":
                failpoints.hit("after_commit")  # tests crash here: committed, not yet marked done
        except TRANSIENT:
            log.warning("job_retry", exc_info=True)
            raise
        except JobTimeoutException as exc:
            job = get_current_job()
            if job is not None and job.retries_left:
                log.warning("job_timeout_retry", retries_left=job.retries_left)
                raise
            outcome = _dead_letter(
                conn, payload, ident, "timed out",
                f"a document processed within the job timeout ({_timeout_of(get_current_job())}s)",
                f"still running at the timeout on the last allowed attempt ({exc})",
            )
        except InputRejected as exc:
            outcome = _dead_letter(conn, payload, ident, exc.reason, exc.expected, exc.found)
        except Exception as exc:  # a worker survives any document, even one that finds a bug
            log.exception("job_internal_error")
            outcome = _dead_letter(
                conn, payload, ident, "internal error", "a document the parsers can handle",
                f"{type(exc).__name__}: {exc}",
            )
        log.info(
            "job_done",
            status=outcome.status,
            reason=outcome.reason,
            **outcome.counts(),
            enriched=outcome.enriched,
            commit_attempts=outcome.commit_attempts,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            stage_ms={stage: round(ms, 2) for stage, ms in outcome.stage_ms.items()},
        )
        record_job_duration(conn, time.perf_counter() - started, prefix=runtime.settings().key_prefix)
        return {"status": outcome.status, "reason": outcome.reason, **outcome.counts()}


def _timeout_of(job) -> int:
    """The job's own timeout (it grows with the document's size), else the setting."""
    return int(job.timeout) if job is not None and job.timeout else runtime.settings().job_timeout_s


def _identity(payload: object) -> dict[str, str]:
    if isinstance(payload, dict) and isinstance(payload.get("document_id"), str) and isinstance(
        payload.get("blog_id"), str
    ):
        return {"document_id": payload["document_id"], "blog_id": payload["blog_id"]}
    blob = json.dumps(payload, sort_keys=True, default=repr).encode("utf-8")
    return {"document_id": "undecodable-" + hashlib.sha256(blob).hexdigest()[:24], "blog_id": "unknown"}


# The dead letter keeps the raw input whole for every document the parsers would read (at most
# MAX_DOCUMENT_CHARS): a 2 MB page that failed must be there to requeue. Only a document over that
# limit, refused for its size, keeps the first DEAD_LETTER_RAW_MAX_CHARS, its size and a digest.
DEAD_LETTER_RAW_MAX_CHARS = 1_000_000


def _safe(text: str) -> str:
    """Text Redis can store: lone surrogates and other unencodable code points escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _raw_for_dead_letter(payload: object) -> dict[str, str]:
    raw = _safe(json.dumps(payload, ensure_ascii=False, default=repr))
    if len(raw) <= DEAD_LETTER_RAW_MAX_CHARS or _within_the_document_limit(payload):
        return {"raw": raw}
    return {
        "raw": raw[:DEAD_LETTER_RAW_MAX_CHARS],
        "raw_truncated": "true",
        "raw_chars": str(len(raw)),
        "raw_sha256": hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest(),
    }


def _within_the_document_limit(payload: object) -> bool:
    """Whether the payload's document is within the parsers' size limit (its text, or the bytes
    its base64 holds, at most MAX_DOCUMENT_CHARS); a payload of no such shape is not."""
    if not isinstance(payload, dict):
        return False
    body, b64 = payload.get("body"), payload.get("body_b64")
    if isinstance(body, str):
        return len(body) <= MAX_DOCUMENT_CHARS
    return isinstance(b64, str) and len(b64) // 4 * 3 <= MAX_DOCUMENT_CHARS  # bytes that were not UTF-8


def _dead_letter(
    conn: redis.Redis, payload: object, ident: dict[str, str], reason: str, expected: str, found: str
) -> Outcome:
    settings = runtime.settings()
    entry = {
        "document_id": ident["document_id"],
        "blog_id": ident["blog_id"],
        "source": str(payload.get("source", "")) if isinstance(payload, dict) else "",
        "reason": reason,
        "expected": expected,
        "found": found,
        "at": datetime.now(timezone.utc).isoformat(),
        **_raw_for_dead_letter(payload),
    }
    entry = {field: _safe(value) for field, value in entry.items()}
    written = Committer(conn, Keys(settings.key_prefix)).dead_letter(
        blog_id=ident["blog_id"], document_id=ident["document_id"], ttl_s=settings.dedup_window_s, entry=entry
    )
    if not written:  # the document was already committed (or dead-lettered) by an earlier attempt
        return Outcome(document_id=ident["document_id"], blog_id=ident["blog_id"], status="already-done")
    log.warning("document_dead_lettered", reason=reason, expected=expected, found=found)
    return Outcome(document_id=ident["document_id"], blog_id=ident["blog_id"], status="dead-lettered", reason=reason)


# RQ gives a job up (its failed registry) when it raised a transient error on every attempt, when
# its worker died on every attempt (RQ's maintenance finds it abandoned with no retry left) or when
# it was stopped. The registry is no end for a document: it is dead-lettered, with its raw input and
# what RQ recorded, and the job leaves the registry. A document already committed (a crash after its
# commit) is not dead-lettered again: the done marker refuses it, and the job only leaves.
GAVE_UP = (JobStatus.FAILED, JobStatus.STOPPED)


def dead_letter_failed(queue, job_ids: list[str] | None = None) -> int:
    """Dead-letter the jobs of ``queue``'s failed registry (or only ``job_ids`` of it); returns
    how many were dead-lettered now. Safe to run twice at once or again after a crash: the
    dead-letter script writes once per document."""
    registry = queue.failed_job_registry
    moved = 0
    for job_id in registry.get_job_ids() if job_ids is None else job_ids:
        job = queue.fetch_job(job_id)
        if job is None:
            registry.remove(job_id)
            continue
        if job.get_status(refresh=False) not in GAVE_UP or job_id not in registry:
            continue  # requeued meanwhile, or not RQ's to give up
        try:
            payload = job.args[0] if job.args else None
        except Exception:  # a payload RQ cannot read back: keep what is stored
            payload = {"undecodable_job_data": repr(job.data)}
        found = _last_line(_failure_of(job)) or f"RQ marked the job {job.get_status(refresh=False).value}"
        ident = _identity(payload)
        with structlog.contextvars.bound_contextvars(job_id=job_id, **ident):
            outcome = _dead_letter(
                job.connection, payload, ident, "failed after retries",
                "a document committed within its attempts (LIVEBLOG_JOB_RETRIES retries, each within the job timeout)",
                found,
            )
        moved += outcome.status == "dead-lettered"
        registry.remove(job, delete_job=True)
    return moved


def _failure_of(job) -> str | None:
    """What RQ recorded of the last failure (its exception, or why it gave up the job)."""
    try:
        result = job.latest_result()
    except Exception:  # a result RQ cannot read back: say what is known
        result = None
    return getattr(result, "exc_string", None) or job._exc_info


def _last_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""
