"""Read the dead letter, and requeue a dead-lettered document as a new job.

A dead-letter entry (``liveblog:deadletter``) keeps the document's whole raw job payload
(``raw``), so a document dead-lettered after a transient failure ("failed after retries",
"timed out") or a parser bug fixed since can run again. ``requeue`` does it in one
MULTI/EXEC under WATCH, so a requeue is all or nothing and happens once however many
operators issue it:

- the entry is deleted (XDEL): a second requeue of it finds nothing and enqueues nothing;
- the document's done marker, which the dead letter set to ``dead-lettered``, is deleted:
  the requeued job would otherwise find it and publish nothing;
- the job ``doc-<document_id>`` is written again from the stored payload (the same
  document id, so the same event ids), with fresh retries; RQ's finished record of the
  earlier run, if still kept, is removed first;
- the accept marker is set again for the dedup window: a producer offering the same
  document meanwhile is counted as resubmitted, not enqueued a second time;
- ``documents_requeued`` moves by one. ``documents_dead_lettered`` never goes down (it
  is a Prometheus counter); ``liveblog stats`` reconciles
  accepted = processed + (dead-lettered - requeued) + in flight + failed.

The job then ends as any job does: committed (published once), or dead-lettered again
with its reason (the dead letter's script writes once per done marker, which is gone).

``delete`` drops an entry an operator decided not to requeue (e.g. refused as "already
committed"): XDEL under WATCH, once however often it is issued, and ``documents_discarded``
moves by one in the same transaction for an entry ``documents_dead_lettered`` counted (every
one but ``job refused`` entries, counted ``jobs_refused``). The document stays one that ended
dead-lettered, so ``liveblog stats`` reconciles as before (accepted = processed +
(dead-lettered - requeued) + in flight + failed); ``documents_discarded`` says how many of
those are no longer in the stream. The done marker is left as it is (it expires with the
dedup window).

Refused, with the reason (``NotRequeued``), and left in place: an entry whose raw input
was cut (``raw_truncated``), one whose raw input is no job payload (``job refused``,
undecodable payloads), one whose document is already published (its done marker holds a
commit), and one whose job is still queued, running or in RQ's failed registry (the
worker sweeping it removes the job right after writing the entry: requeued then, the new
job would be deleted with it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from redis import Redis, WatchError
from rq.job import Job, JobStatus
from rq.registry import FinishedJobRegistry
from rq.results import Result

from producers.enqueue import enqueue_job, ingest_queue, job_id_for
from schemas.documents import RawDocument
from schemas.errors import InputRejected
from schemas.keys import Keys
from schemas.settings import Settings

DEAD_LETTERED = b"dead-lettered"  # the done marker the dead-letter script sets (workers/commit.py)

# a job in one of these states still runs, or will: a requeue would run the document twice
_LIVE = {s.value for s in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED,
                           JobStatus.CREATED)}
# RQ gave the job up; the worker that writes its dead-letter entry deletes the job right after
_GIVEN_UP = {s.value for s in (JobStatus.FAILED, JobStatus.STOPPED)}


class NotRequeued(InputRejected):
    """A dead-letter entry that cannot be requeued (exit code 4), and why."""

    def __init__(self, entry_id: str, expected: str, found: str) -> None:
        self.entry_id = entry_id
        super().__init__(f"dead letter {entry_id} not requeued", expected=expected, found=found)


@dataclass(frozen=True)
class Letter:
    id: str
    fields: dict[str, str]

    @property
    def truncated(self) -> bool:
        return self.fields.get("raw_truncated") == "true"

    def summary(self) -> dict:
        """The entry without its raw input (which may be megabytes): what ``list`` shows."""
        out = {"id": self.id, **{k: v for k, v in self.fields.items() if k != "raw"}}
        out["raw_chars"] = int(self.fields.get("raw_chars") or len(self.fields.get("raw", "")))
        out["raw_truncated"] = self.truncated
        return out

    def full(self) -> dict:
        """The whole entry; ``raw`` as the JSON it holds when it is JSON (a truncated one is not)."""
        out = self.summary()
        raw = self.fields.get("raw", "")
        try:
            out["raw"] = raw if self.truncated else json.loads(raw)
        except ValueError:
            out["raw"] = raw
        return out


def _letter(entry_id: bytes | str, fields: dict) -> Letter:
    text = lambda v: v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else str(v)  # noqa: E731
    return Letter(text(entry_id), {text(k): text(v) for k, v in fields.items()})


def letters(conn: Redis, keys: Keys, *, reason: str | None = None, blog: str | None = None,
            batch: int = 500) -> Iterator[Letter]:
    """The dead letter's entries, oldest first, optionally only those of one reason or blog."""
    cursor = "-"
    while True:
        rows = conn.xrange(keys.dead_letter, min=cursor, count=batch)
        if not rows:
            return
        for entry_id, fields in rows:
            letter = _letter(entry_id, fields)
            if (reason is None or letter.fields.get("reason") == reason) and (
                    blog is None or letter.fields.get("blog_id") == blog):
                yield letter
        cursor = "(" + _letter(rows[-1][0], {}).id


def get(conn: Redis, keys: Keys, entry_id: str) -> Letter | None:
    rows = conn.xrange(keys.dead_letter, min=entry_id, max=entry_id)
    return _letter(*rows[0]) if rows else None


def payload_of(letter: Letter) -> RawDocument:
    """The document the entry's raw input holds, or NotRequeued saying why it holds none."""
    f = letter.fields
    if letter.truncated:
        raise NotRequeued(letter.id, "an entry keeping its whole raw input",
                          f"raw input cut to its first {len(f.get('raw', '')):,} of {f.get('raw_chars', '?')} characters"
                          " (a document over the size limit): produce it again from its source, within the limit")
    if f.get("reason") == "job refused":
        raise NotRequeued(letter.id, "a dead-lettered document", "a refused RQ job (its raw is the job's description,"
                          " not a document): it was never a liveblog document")
    try:
        raw = RawDocument.decode(json.loads(f.get("raw", "")))
    except ValueError as exc:  # json.JSONDecodeError, and DecodeError's pydantic cause
        raise NotRequeued(letter.id, "a raw input holding a document's job payload",
                          f"{type(exc).__name__}: {exc}") from exc
    except InputRejected as exc:
        raise NotRequeued(letter.id, exc.expected, exc.found) from exc
    if raw.document_id != f.get("document_id"):
        raise NotRequeued(letter.id, f"the payload of document {f.get('document_id')!r}",
                          f"the payload of document {raw.document_id!r}")
    return raw


class NotDeleted(InputRejected):
    """A dead-letter entry that is not there to delete (exit code 4)."""

    def __init__(self, entry_id: str) -> None:
        self.entry_id = entry_id
        super().__init__(f"dead letter {entry_id} not deleted", expected="an entry of the dead letter",
                         found="none with this id (deleted or requeued already, or never there)")


def counted(letter: Letter) -> bool:
    """Whether ``documents_dead_lettered`` counted this entry (a refused job is ``jobs_refused``)."""
    return letter.fields.get("reason") != "job refused"


def delete(conn: Redis, keys: Keys, entry_id: str) -> Letter:
    """Delete one entry without requeueing it (see the module's docstring); returns it. Raises NotDeleted."""
    with conn.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(keys.dead_letter)
                rows = pipe.xrange(keys.dead_letter, min=entry_id, max=entry_id)
                if not rows:
                    raise NotDeleted(entry_id)
                letter = _letter(*rows[0])
                pipe.multi()
                pipe.xdel(keys.dead_letter, entry_id)
                if counted(letter):
                    pipe.hincrby(keys.stats, "documents_discarded", 1)
                pipe.execute()
                return letter
            except WatchError:
                continue


def requeue(conn: Redis, settings: Settings, entry_id: str) -> Letter:
    """Requeue one entry (see the module's docstring); returns it. Raises NotRequeued."""
    keys = Keys(settings.key_prefix)
    queue = ingest_queue(conn, settings)
    finished = FinishedJobRegistry(queue=queue)
    with conn.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(keys.dead_letter)
                rows = pipe.xrange(keys.dead_letter, min=entry_id, max=entry_id)
                if not rows:
                    raise NotRequeued(entry_id, "an entry of the dead letter",
                                      "none with this id (requeued already, or never there)")
                letter = _letter(*rows[0])
                raw = payload_of(letter)
                done = keys.done(raw.blog_id, raw.document_id)
                job_id = job_id_for(raw.document_id)
                job_key = Job.key_for(job_id)
                pipe.watch(done, job_key)
                marker = pipe.get(done)
                status = pipe.hget(job_key, "status")
                if not pipe.xrange(keys.dead_letter, min=entry_id, max=entry_id):  # another requeue won meanwhile
                    raise NotRequeued(entry_id, "an entry of the dead letter",
                                      "none with this id (requeued already, or never there)")
                if marker is not None and marker != DEAD_LETTERED:
                    raise NotRequeued(entry_id, "a document not yet published",
                                      f"document {raw.document_id} already committed (its done marker holds a commit)")
                status = status.decode() if status is not None else None
                if status in _LIVE:
                    raise NotRequeued(entry_id, "no job of the document queued or running",
                                      f"job {job_id} is {status}: requeue it once that ends")
                if status in _GIVEN_UP:
                    raise NotRequeued(entry_id, "the document's job gone from RQ's failed registry",
                                      f"job {job_id} is {status}, still there: a worker's next maintenance"
                                      " removes it (seconds); requeue then")
                pipe.multi()
                pipe.xdel(keys.dead_letter, entry_id)
                pipe.delete(done)
                pipe.delete(job_key, Result.get_key(job_id))  # a finished earlier run's record
                pipe.zrem(finished.key, job_id)
                enqueue_job(queue, raw, settings, pipe)
                pipe.set(keys.accepted(raw.document_id), 1, ex=settings.dedup_window_s)
                pipe.hincrby(keys.stats, "documents_requeued", 1)
                pipe.execute()
                return letter
            except WatchError:
                continue
