"""One document through the stages: parse -> identify -> pre-check -> enrich -> commit.

Everything before the commit is pure computation over the document and a read of
Redis, so a crash there leaves no trace; the commit is one atomic script.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from redis import Redis

from schemas.documents import RawDocument
from schemas.errors import CommitConflict
from schemas.events import BlogRef, Enrichment, Event, EventData, PostData, event_id
from schemas.keys import Keys
from schemas.posts import ParsedDocument, ParsedPost, rfc3339
from schemas.settings import Settings
from workers.commit import Committer, Planned, StoredPost
from workers.identity import content_hash
from workers.normalize import fingerprint_text
from workers.parsers import parse

class Enricher(Protocol):
    def context(self, texts: list[str]) -> object: ...
    def enrich(self, post: ParsedPost, context: object) -> Enrichment: ...


class DefaultEnricher:
    """All enrichers of ``workers.enrichers``, loaded on first use in this process."""

    def context(self, texts: list[str]) -> object:
        from workers import enrichers

        return enrichers.DocumentContext.from_texts(texts)

    def enrich(self, post: ParsedPost, context: object) -> Enrichment:
        from workers import enrichers

        return enrichers.enrich(post.title, post.body, context, published_at=post.published_at)  # type: ignore[arg-type]


@dataclass
class Outcome:
    document_id: str
    blog_id: str
    status: str  # committed | already-done | dead-lettered
    posts: int = 0
    created: int = 0
    updated: int = 0
    duplicate: int = 0
    stale: int = 0
    enriched: int = 0
    commit_attempts: int = 0
    reason: str | None = None
    events: list[str] = field(default_factory=list)

    def counts(self) -> dict:
        return {
            "posts": self.posts, "created": self.created, "updated": self.updated,
            "duplicate": self.duplicate, "stale": self.stale,
        }


def _short_hash(text: str) -> str:
    return hashlib.sha256(fingerprint_text(text).encode("utf-8")).hexdigest()[:16]


def decide(stored: StoredPost, chash: str, fetched_ms: int) -> str:
    """The same rule the commit script applies, computed ahead of it."""
    if stored.revision == 0:
        return "created"
    if stored.content_hash == chash:
        return "duplicate"
    if fetched_ms < stored.seen_ms:
        return "stale"
    return "updated"


def changes(stored: StoredPost, post: ParsedPost) -> list[str]:
    """What an edit changed, in a fixed order."""
    out = []
    if stored.title_hash != _short_hash(post.title):
        out.append("title")
    if stored.body_hash != _short_hash(post.body):
        out.append("body")
    if (stored.published or "") != (rfc3339(post.published_at) or ""):
        out.append("time")
    if (stored.author or "") != (post.author or ""):
        out.append("author")
    return out


class DocumentProcessor:
    """Holds what lives as long as a worker process: the connection and the scripts."""

    def __init__(self, redis: Redis, settings: Settings, enricher: Enricher | None = None) -> None:
        self.settings = settings
        self.committer = Committer(redis, Keys(settings.key_prefix))
        self.enricher = enricher or DefaultEnricher()

    def process(self, raw: RawDocument) -> Outcome:
        outcome = Outcome(document_id=raw.document_id, blog_id=raw.blog_id, status="committed")
        if self.committer.is_done(raw.blog_id, raw.document_id):
            outcome.status = "already-done"
            return outcome
        doc = parse(raw)
        outcome.posts = len(doc.posts)
        hashes = [
            content_hash(title=p.title, body=p.body, author=p.author, published_at=p.published_at) for p in doc.posts
        ]
        keys = [self.committer.keys.post(raw.blog_id, p.post_id) for p in doc.posts]
        fetched_ms = int(raw.fetched_at.timestamp() * 1000)
        enriched: dict[int, Enrichment] = {}
        context: object | None = None
        for attempt in range(1, self.settings.commit_attempts + 1):
            outcome.commit_attempts = attempt
            stored = self.committer.read(keys)
            decisions = [decide(s, h, fetched_ms) for s, h in zip(stored, hashes)]
            needs = [i for i, d in enumerate(decisions) if d in ("created", "updated") and i not in enriched]
            if needs and context is None:
                context = self.enricher.context([f"{p.title}\n\n{p.body}" for p in doc.posts])
            for i in needs:
                enriched[i] = self.enricher.enrich(doc.posts[i], context)
            planned = [
                self._plan(doc, i, keys[i], stored[i], decisions[i], hashes[i], enriched.get(i), raw.fetched_at)
                for i in range(len(doc.posts))
            ]
            summary = {"document_id": raw.document_id, **_tally(decisions)}
            status, detail = self.committer.commit(
                blog_id=raw.blog_id,
                document_id=raw.document_id,
                fetched_ms=fetched_ms,
                planned=planned,
                ttl_s=self.settings.dedup_window_s,
                maxlen=self.settings.stream_maxlen,
                blog_maxlen=self.settings.blog_stream_maxlen,
                summary=summary,
            )
            if status == "conflict":
                continue
            outcome.enriched = len(enriched)
            if status == "done":
                outcome.status = "already-done"
                return outcome
            for name, value in _tally(decisions).items():
                setattr(outcome, name, value)
            outcome.events = [p.event_json for p in planned if p.event_json]
            return outcome
        raise CommitConflict(
            f"document {raw.document_id} kept conflicting with concurrent commits "
            f"after {self.settings.commit_attempts} attempts; RQ will retry it"
        )

    def _plan(
        self,
        doc: ParsedDocument,
        index: int,
        key: str,
        stored: StoredPost,
        decision: str,
        chash: str,
        enrichment: Enrichment | None,
        fetched_at: datetime,
    ) -> Planned:
        post = doc.posts[index]
        if decision not in ("created", "updated"):
            return Planned(key=key, decision=decision, expected_revision=stored.revision, content_hash=chash)
        assert enrichment is not None
        revision = stored.revision + 1
        etype = f"liveblog.post.{decision}"
        event = build_event(
            doc, post, revision=revision, event_type=etype, enrichment=enrichment, chash=chash,
            changed=changes(stored, post) if decision == "updated" else [], observed_at=fetched_at,
        )
        return Planned(
            key=key,
            decision=decision,
            expected_revision=stored.revision,
            content_hash=chash,
            event_id=event.id,
            event_json=event.to_json(),
            event_type=etype,
            title_hash=_short_hash(post.title),
            body_hash=_short_hash(post.body),
            author=post.author or "",
            published=rfc3339(post.published_at) or "",
        )


def build_event(
    doc: ParsedDocument,
    post: ParsedPost,
    *,
    revision: int,
    event_type: str,
    enrichment: Enrichment,
    chash: str,
    changed: list[str],
    observed_at: datetime,
) -> Event:
    updated_at = post.updated_at or (observed_at if revision > 1 else None)
    data = EventData(
        **enrichment.model_dump(),
        blog=BlogRef(id=doc.blog.id, title=doc.blog.title, url=doc.blog.url),
        post=PostData(
            id=post.post_id, title=post.title, body=post.body, author=post.author,
            published_at=post.published_at, updated_at=updated_at, revision=revision, url=post.url,
            position=post.position, related_links=post.related_links,
        ),
        story_id=post.post_id,
        repeat_of=None,
        changes=changed,
        content_hash=chash,
    )
    return Event(
        id=event_id(doc.blog.id, post.post_id, revision, event_type),
        source=doc.blog.url or f"liveblog:{doc.blog.id}",
        type=event_type,  # type: ignore[arg-type]
        subject=post.post_id,
        time=observed_at,
        data=data,
    )


def _tally(decisions: list[str]) -> dict[str, int]:
    return {d: sum(1 for x in decisions if x == d) for d in ("created", "updated", "duplicate", "stale")}
