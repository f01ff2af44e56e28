"""Builders shared by the tests: documents from the samples, snapshots of a growing page."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from schemas.documents import ParseOptions, RawDocument
from schemas.events import Enrichment

ROOT = Path(__file__).resolve().parents[1]
STORM = ROOT / "samples" / "storm-live-2024-10-12.txt"
T0 = datetime(2024, 10, 13, 12, 0, tzinfo=timezone.utc)


class PlainEnricher:
    """Enrichment reduced to a constant, for tests about dedup and commit only."""

    def context(self, texts: list[str]) -> None:
        return None

    def enrich(self, post, context) -> Enrichment:
        return Enrichment(language="en", enrichers={"plain": "0"})


def doc(data: bytes, *, minutes: float = 0, blog_id: str = "storm", tz: str = "Europe/London") -> RawDocument:
    return RawDocument.from_bytes(
        data, blog_id=blog_id, source=f"{blog_id}.txt", fetched_at=T0 + timedelta(minutes=minutes),
        options=ParseOptions(tz=tz),
    )


def split_posts(text: str) -> tuple[str, list[str]]:
    """Split a text live blog into its header and per-post chunks (page order, newest first).

    A chunk starts at a post's title line: the last non-blank line above a stamp line.
    """
    from workers.stamps import parse_stamp_line

    lines = text.split("\n")
    stamp_rows = [i for i, line in enumerate(lines) if line.strip() and parse_stamp_line(line)]
    starts = []
    for row in stamp_rows:
        j = row - 1
        while not lines[j].strip():
            j -= 1
        starts.append(j)
    header = "\n".join(lines[: starts[0]])
    chunks = ["\n".join(lines[a:b]) for a, b in zip(starts, starts[1:] + [len(lines)])]
    return header, chunks


def growing_snapshots(text: str) -> list[str]:
    """The page as polled while it grows: 1 post (the oldest), then 2, ..., then all."""
    header, chunks = split_posts(text)
    out = []
    for n in range(1, len(chunks) + 1):
        newest_first = chunks[len(chunks) - n :]
        out.append(header + "\n" + "\n".join(c.rstrip("\n") + "\n" for c in newest_first))
    return out


def stream_events(conn, key: str = "liveblog:events") -> list[dict]:
    return [json.loads(fields[b"event"]) for _, fields in conn.xrange(key)]


def counters(conn) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in conn.hgetall("liveblog:stats").items()}


def replay_documents(text: str, *, blog_id: str, tz: str, edit: tuple[str, str],
                     edit_arrives_first: bool = False) -> list[RawDocument]:
    """A growing page polled once a minute, with the traps of real polling.

    Every poll is a full snapshot. From the middle on, one early post carries an
    edit (``edit`` = (old, new) text). Some polls are repeated byte for byte
    (same document id), some re-polled a minute later unchanged, and a few are
    submitted out of order (a newer snapshot before an older one).
    ``edit_arrives_first``: the first edited snapshot is also submitted before the
    unedited snapshots just older than it (the swap crosses the edit), so a worker may
    hold the old text of the edited post after another has committed the new one.
    """
    snapshots = growing_snapshots(text)
    old, new = edit
    docs: list[RawDocument] = []
    for i, page in enumerate(snapshots):
        if i >= len(snapshots) // 2:
            assert old in page, "the edited text must be in every snapshot from the middle on"
            page = page.replace(old, new)
        docs.append(doc(page.encode("utf-8"), minutes=2 * i, blog_id=blog_id, tz=tz))
        if i % 5 == 0:
            docs.append(docs[-1])  # the same poll delivered twice
        if i % 7 == 0:
            docs.append(doc(page.encode("utf-8"), minutes=2 * i + 1, blog_id=blog_id, tz=tz))  # unchanged re-poll
    for i in range(3, len(docs) - 1, 9):
        docs[i], docs[i + 1] = docs[i + 1], docs[i]  # out of order
    if edit_arrives_first:
        first_edit_at = T0 + timedelta(minutes=2 * (len(snapshots) // 2))
        at = next(k for k, d in enumerate(docs) if d.fetched_at == first_edit_at)
        docs.insert(max(at - 3, 0), docs.pop(at))  # ahead of the three polls before it, all unedited
    return docs


def assert_exactly_once(events: list[dict], *, posts: int, edits: int) -> None:
    created = [e for e in events if e["type"] == "liveblog.post.created"]
    updated = [e for e in events if e["type"] == "liveblog.post.updated"]
    assert len(created) == posts, f"expected {posts} created events, found {len(created)}"
    assert len({e["data"]["post"]["id"] for e in created}) == posts
    assert len(updated) == edits, f"expected {edits} updated events, found {len(updated)}"
    assert len(events) == posts + edits
    assert len({e["id"] for e in events}) == len(events)


def big_page(posts: int, *, paragraph_words: int = 80) -> str:
    """A synthetic, valid text live blog with ``posts`` full-dated posts (newest first)."""
    import random

    rng = random.Random(posts)
    words = ("council river flood warning minister police rescue storm road rail power homes "
             "residents said officials water level bridge closed volunteers shelter evening").split()
    start = datetime(2024, 3, 1, 6, 0)
    chunks = ["Synthetic live blog for tests", "", "A page generated by tests.helpers.big_page.", ""]
    for i in reversed(range(posts)):
        when = start + timedelta(minutes=7 * i)
        body = " ".join(rng.choice(words) for _ in range(paragraph_words)).capitalize() + "."
        chunks += [f"Update number {i}: {rng.choice(words)} {rng.choice(words)}", "",
                   f"{when:%A} {when.day} {when:%B %Y %H:%M} , Test Desk", "", body, ""]
    return "\n".join(chunks)


def wait_for(predicate, timeout: float, step: float = 0.02) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def wait_until_settled(conn, settings, timeout: float) -> None:
    """Until nothing is queued, dequeued, started or scheduled and the counters reconcile."""
    from liveblog import stats

    def settled() -> bool:
        report = stats.collect(conn, settings)
        jobs = report["jobs"]
        return report["reconciled"]["ok"] and jobs["queued"] + jobs["dequeued"] + jobs["started"] + jobs["scheduled"] == 0

    assert wait_for(settled, timeout=timeout, step=0.2), stats.render(stats.collect(conn, settings))


def gave_up(conn) -> int:
    """Documents RQ gave up on (a job out of retries), now in the dead letter: the failed
    registry is swept there, so `jobs.failed == 0` alone no longer says nothing failed."""
    return sum(f.get(b"reason") == b"failed after retries" for _, f in conn.xrange("liveblog:deadletter"))


def subscribe(conn, name: str, rule: dict) -> None:
    """Store a subscription of ``rule`` (no webhook) under the default key prefix."""
    from schemas.keys import Keys
    from schemas.subscriptions import Rule, Subscription
    from workers.alerts import store

    store.save(conn, Keys(), Subscription(name=name, rule=Rule.model_validate(rule)))


def alerts(conn, name: str) -> list[dict]:
    """The entries of a subscription's alert stream, decoded."""
    from schemas.keys import Keys

    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in conn.xrange(Keys().alerts(name))]
