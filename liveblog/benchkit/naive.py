"""The naive baseline: one RQ job per post, run by RQ's default forking ``rq.Worker``.

What a first design would do, made as fair as it can be:

* **Same per-post work as liveblog-stream.** Each job parses its post's text with the
  project's own parser (``workers.parsers.parse``), builds the document context and runs
  the full enrichment (``workers.pipeline.DefaultEnricher``), renders the same CloudEvent
  (``workers.pipeline.build_event``), then ``SET NX`` a dedup key (content hash, with the
  dedup TTL) and ``XADD`` the event to ``liveblog:events`` when the key was new.
* **Same serializer.** Jobs carry JSON (``rq.serializers.JSONSerializer``), never pickle,
  exactly like liveblog's jobs, so serialization costs are compared like with like.
* **Favourable where it can be.** The enrichment tables are warmed up *in the parent worker
  before it starts working*, so every forked work horse inherits them copy-on-write instead
  of rebuilding them (a cold horse would pay ~1 s per job). Jobs are enqueued with
  ``Queue.enqueue_many`` in one pipeline (the cheapest RQ enqueue). Nothing else is tuned:
  RQ's default ``Worker`` forks one horse per job, keeps its default logging, heartbeats and
  registries — which is what "one RQ job per post, default worker" costs. Its one change,
  ``QuickUnsubscribe`` (``workers.worker``), is in its teardown after the last job, outside
  every measured window: RQ's command-channel thread held half the burst runs up to a minute
  on exit (a ``--quick`` bench took 44 s, or 108 s and 162 s with one and two such stalls).
* **What it does not do** (and liveblog-stream does): no pre-check (a duplicate post is
  parsed and enriched before its dedup key says it was seen), no batching of Redis round
  trips, no atomic commit of dedup state + event (a crash between SET and XADD loses the
  event), no edit detection.

Run by the harness (``liveblog.benchmark``) as ``python -m liveblog.benchkit.naive worker
--burst`` with ``REDIS_URL`` set.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime

from rq import Worker

from workers.worker import QuickUnsubscribe

QUEUE = "naive-ingest"
JOB = "liveblog.benchkit.naive.process_post"
EVENTS = "liveblog:events"  # the same stream the harness watches for liveblog-stream
DEDUP_TTL_S = 7 * 24 * 3600

_enricher = None


class NaiveWorker(QuickUnsubscribe, Worker):
    """RQ's default forking ``Worker``; leaves its command channel within a second on exit."""


def _get_enricher():
    global _enricher
    if _enricher is None:
        from workers.pipeline import DefaultEnricher

        _enricher = DefaultEnricher()
    return _enricher


def warm_up() -> None:
    from workers import enrichers

    enrichers.warm_up()
    _get_enricher()
    # import everything a job touches, so forks inherit it
    import workers.parsers  # noqa: F401
    import workers.pipeline  # noqa: F401


def process_post(payload: dict) -> str:
    """One post: parse, enrich, render, SET NX the dedup key, XADD the event."""
    from rq import get_current_job

    from schemas.documents import RawDocument
    from workers.identity import content_hash
    from workers.parsers import parse
    from workers.pipeline import build_event

    conn = get_current_job().connection
    raw = RawDocument.from_bytes(
        payload["text"].encode("utf-8"), blog_id=payload["blog_id"], source=payload["source"],
        fetched_at=datetime.fromisoformat(payload["fetched_at"]),
    )
    doc = parse(raw)
    post = doc.posts[0]
    enricher = _get_enricher()
    context = enricher.context([f"{post.title}\n\n{post.body}"])
    enrichment = enricher.enrich(post, context)
    chash = content_hash(title=post.title, body=post.body, author=post.author, published_at=post.published_at)
    event = build_event(doc, post, revision=1, event_type="liveblog.post.created", enrichment=enrichment,
                        chash=chash, changed=[], observed_at=raw.fetched_at)
    if conn.set(f"naive:{{{raw.blog_id}}}:post:{post.post_id}", chash, nx=True, ex=DEDUP_TTL_S):
        conn.xadd(EVENTS, {"id": event.id, "type": event.type, "event": event.to_json()})
        return "created"
    return "duplicate"


def enqueue(conn, posts: list[tuple[str, str]], fetched_at: datetime) -> list[str]:
    """One job per post, all in one pipeline. Returns the job ids."""
    from rq import Queue
    from rq.serializers import JSONSerializer

    queue = Queue(QUEUE, connection=conn, serializer=JSONSerializer)
    specs = [
        Queue.prepare_data(
            JOB,
            args=({"blog_id": blog_id, "source": f"bench://{blog_id}", "text": text,
                   "fetched_at": fetched_at.isoformat()},),
            job_id=f"naive-{i}",
            timeout=60,
            result_ttl=600,
        )
        for i, (blog_id, text) in enumerate(posts)
    ]
    ids = []
    for start in range(0, len(specs), 500):
        with conn.pipeline() as pipe:
            jobs = queue.enqueue_many(specs[start:start + 500], pipeline=pipe)
            pipe.execute()
        ids.extend(j.id for j in jobs)
    return ids


def work(burst: bool) -> None:
    import redis
    from rq import Queue
    from rq.serializers import JSONSerializer

    warm_up()
    conn = redis.Redis.from_url(os.environ["REDIS_URL"])
    worker = NaiveWorker([Queue(QUEUE, connection=conn, serializer=JSONSerializer)], connection=conn,
                         serializer=JSONSerializer)
    worker.work(burst=burst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="naive one-job-per-post baseline worker")
    sub = parser.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("worker")
    w.add_argument("--burst", action="store_true")
    args = parser.parse_args(argv)
    if args.cmd == "worker":
        work(args.burst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
