"""Accept a document and enqueue its job in one Redis transaction.

The accept marker, the job and the ``documents_accepted`` counter are written by
one MULTI/EXEC under WATCH, so a producer killed at any instant either accepted
the document (and its job exists) or did not; the same document offered twice
is enqueued once and counted as a duplicate submission.

A document over the size limit (``schemas.documents.MAX_DOCUMENT_CHARS``) is refused
before anything is written: ``submit`` raises ``DocumentTooLarge`` and Redis holds no
marker, no counter and no job for it. Accepting it would lose it: the worker cannot
parse it, and its dead-letter entry could keep only the start of its raw input.
"""

from __future__ import annotations

from redis import Redis, WatchError
from rq import Queue, Retry
from rq.serializers import JSONSerializer

from schemas.documents import RawDocument
from schemas.keys import Keys
from schemas.settings import JOB_PROCESS_DOCUMENT, Settings, job_timeout_for


def ingest_queue(conn: Redis, settings: Settings) -> Queue:
    return Queue(settings.ingest_queue, connection=conn, serializer=JSONSerializer)


def job_id_for(document_id: str) -> str:
    return f"doc-{document_id}"


def enqueue_job(queue: Queue, raw: RawDocument, settings: Settings, pipe) -> None:
    """Queue ``raw``'s job (``doc-<document_id>``) as part of ``pipe``'s MULTI: the one way a
    document's job is written, by ``submit`` and by a dead letter's requeue alike."""
    intervals = list(settings.retry_intervals_s)
    queue.enqueue_call(
        JOB_PROCESS_DOCUMENT,
        args=(raw.encode(),),
        job_id=job_id_for(raw.document_id),
        timeout=job_timeout_for(settings, len(raw.body or raw.body_b64 or "")),
        result_ttl=settings.result_ttl_s,
        # RQ's Retry refuses max=0: no retries is no Retry at all
        retry=Retry(max=settings.job_retries, interval=intervals[: settings.job_retries] or 0)
        if settings.job_retries else None,
        description=f"{raw.blog_id} {raw.source}",
        pipeline=pipe,
    )


def submit(conn: Redis, raw: RawDocument, settings: Settings) -> bool:
    """Returns True when the document was accepted now, False when it was already.

    Raises DocumentTooLarge (an InputRejected) for a document over the size limit, before any
    Redis command: it was never accepted, so the counters still reconcile."""
    raw.check_size()
    keys = Keys(settings.key_prefix)
    queue = ingest_queue(conn, settings)
    marker = keys.accepted(raw.document_id)
    with conn.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(marker)
                if pipe.exists(marker):
                    pipe.unwatch()
                    conn.hincrby(keys.stats, "documents_resubmitted", 1)
                    return False
                pipe.multi()
                enqueue_job(queue, raw, settings, pipe)
                pipe.set(marker, 1, ex=settings.dedup_window_s)
                pipe.hincrby(keys.stats, "documents_accepted", 1)
                pipe.execute()
                return True
            except WatchError:
                continue
