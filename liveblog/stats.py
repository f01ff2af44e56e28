"""Counters that reconcile: every accepted document is published, in flight, failed, or dead-lettered.

``documents_dead_lettered`` counts every time a document was dead-lettered and never goes
down; ``documents_requeued`` counts the dead letters an operator sent back to the queue
(``liveblog deadletter requeue``). Their difference is the documents that ended
dead-lettered: what lies in the dead letter now plus ``documents_discarded``, the entries an
operator deleted without a requeue (``liveblog deadletter delete``; the document stays an
accepted one that ended dead-lettered, so a delete leaves the sum as it was). So
accepted = processed + (dead-lettered - requeued) + in flight + failed.
"""

from __future__ import annotations

from redis import Redis
from rq import Worker
from rq.registry import StartedJobRegistry

from liveblog import consume
from producers.enqueue import ingest_queue
from schemas.keys import Keys
from schemas.settings import Settings

COUNTERS = (
    "documents_accepted", "documents_resubmitted", "documents_processed", "documents_dead_lettered",
    "documents_requeued", "documents_discarded",
    "posts_seen", "posts_created", "posts_updated", "posts_duplicate", "posts_stale", "events_published",
    "posts_repeat", "posts_retracted", "alerts_matched", "alerts_suppressed",
    # follow-ups of alerted posts (docs/alerts.md), in all and by kind; written only when non-zero
    "alerts_followups", "alerts_followups_retraction", "alerts_followups_correction", "alerts_followups_restoration",
    "polls_ok", "polls_unchanged", "polls_not_modified", "polls_failed", "polls_deferred",
)


def collect(conn: Redis, settings: Settings) -> dict:
    keys = Keys(settings.key_prefix)
    raw = {k.decode(): int(v) for k, v in conn.hgetall(keys.stats).items()}
    c = {name: raw.get(name, 0) for name in COUNTERS}
    queue = ingest_queue(conn, settings)
    jobs = {
        "queued": queue.count,
        # taken off the queue by a worker that has not started it yet (or died in between)
        "dequeued": int(conn.llen(queue.intermediate_queue_key)),
        "started": StartedJobRegistry(queue=queue).count,
        "scheduled": queue.scheduled_job_registry.count,
        "failed": queue.failed_job_registry.count,
    }
    in_flight = jobs["queued"] + jobs["dequeued"] + jobs["started"] + jobs["scheduled"]
    dead_now = _dead_now(c)
    documents_ok = c["documents_accepted"] == c["documents_processed"] + dead_now + in_flight + jobs["failed"]
    posts_ok = c["posts_seen"] == c["posts_created"] + c["posts_updated"] + c["posts_duplicate"] + c["posts_stale"]
    # retractions are events about posts the snapshot no longer shows, so not in posts_seen
    events_ok = c["events_published"] == c["posts_created"] + c["posts_updated"] + c["posts_retracted"]
    followups_ok = c["alerts_followups"] == (c["alerts_followups_retraction"] + c["alerts_followups_correction"]
                                             + c["alerts_followups_restoration"])
    return {
        "counters": c,
        "jobs": jobs,
        "workers": len(Worker.all(queue=queue)),
        "streams": {"events": _xlen(conn, keys.events), "dead_letter": _xlen(conn, keys.dead_letter)},
        # consumer groups that lost entries to retention before reading them (docs/channels.md)
        "gaps": consume.gap_warnings(conn, keys.events),
        "reconciled": {
            "documents": documents_ok,
            "posts": posts_ok,
            "events": events_ok,
            "followups": followups_ok,
            "ok": documents_ok and posts_ok and events_ok and followups_ok,
        },
    }


def _xlen(conn: Redis, key: str) -> int:
    return int(conn.xlen(key)) if conn.exists(key) else 0


def _dead_now(c: dict) -> int:
    return c["documents_dead_lettered"] - c.get("documents_requeued", 0)


def _requeued(c: dict) -> str:
    n, d = c.get("documents_requeued", 0), c.get("documents_discarded", 0)
    parts = [f"{n} requeued"] * bool(n) + [f"{d} deleted"] * bool(d)
    return f" (of {c['documents_dead_lettered']}, {', '.join(parts)})" if parts else ""


def render(stats: dict) -> str:
    c, j = stats["counters"], stats["jobs"]
    rec = stats["reconciled"]
    mark = lambda ok: "ok" if ok else "MISMATCH"  # noqa: E731
    return "\n".join(
        [
            f"documents  accepted {c['documents_accepted']} = processed {c['documents_processed']}"
            f" + dead-lettered {_dead_now(c)}{_requeued(c)} + in flight {j['queued'] + j['dequeued'] + j['started'] + j['scheduled']}"
            f" + failed {j['failed']}   [{mark(rec['documents'])}]"
            f"   (resubmitted, not re-run: {c['documents_resubmitted']})",
            f"posts      seen {c['posts_seen']} = created {c['posts_created']} + updated {c['posts_updated']}"
            f" + duplicates {c['posts_duplicate']} + stale {c['posts_stale']}   [{mark(rec['posts'])}]",
            f"events     published {c['events_published']} = created {c['posts_created']} + updated {c['posts_updated']}"
            f" + retracted {c['posts_retracted']}"
            f" (stream length {stats['streams']['events']})   [{mark(rec['events'])}]",
            f"dedup      repeats {c['posts_repeat']} (created posts that repeat an earlier one)",
            f"alerts     committed {c['alerts_matched']}, held back {c['alerts_suppressed']}"
            " (subscriber already alerted about the story)",
            f"follow-ups {c['alerts_followups']} = retractions {c['alerts_followups_retraction']}"
            f" + corrections {c['alerts_followups_correction']} + restorations {c['alerts_followups_restoration']}"
            f"   [{mark(rec['followups'])}]",
            f"queue      queued {j['queued']}, dequeued {j['dequeued']}, started {j['started']}, scheduled {j['scheduled']}, failed {j['failed']}",
            f"polls      ok {c['polls_ok']}, not modified {c['polls_not_modified']}, unchanged {c['polls_unchanged']},"
            f" failed {c['polls_failed']}, deferred {c['polls_deferred']}",
            f"workers    {stats['workers']}",
            f"dead letter entries {stats['streams']['dead_letter']}",
            *(f"gap        {warning}" for warning in stats.get("gaps", [])),
        ]
    )
