"""One document through the stages: parse -> identify -> pre-check -> enrich -> commit.

Everything before the commit is pure computation over the document and a read of
Redis, so a crash there leaves no trace; the commit is one atomic script.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, timedelta
from typing import Protocol

from redis import Redis

from schemas.documents import RawDocument
from schemas.errors import CommitConflict
from schemas.events import BlogRef, Enrichment, Event, EventData, PostData, event_id
from schemas.keys import Keys
from schemas.posts import ParsedDocument, ParsedPost, rfc3339
from schemas.settings import Settings
from workers.alerts.plan import alerted_by, plan_alerts, plan_followups
from workers.alerts.store import SubscriptionCache
from workers.commit import ChannelPlan, Committer, DedupPlan, Planned, Retraction, StoredPost
from workers.dedup import retractions
from workers.dedup import signature as sigmod
from workers.dedup.index import (
    Assignment, IndexReader, NewPost, assign, bucket_keys, ref, story_id_for, topic_buckets, verified_sizes,
)
from workers.dedup.stories import Features, dedup_features, names, page_topics
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
    repeat: int = 0
    retracted: int = 0
    enriched: int = 0
    commit_attempts: int = 0
    reason: str | None = None
    events: list[str] = field(default_factory=list)
    # wall milliseconds per stage (parse, precheck, enrich, assign, plan, commit), summed over attempts
    stage_ms: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, stage: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_ms[stage] = self.stage_ms.get(stage, 0.0) + (time.perf_counter() - started) * 1000

    def counts(self) -> dict:
        return {
            "posts": self.posts, "created": self.created, "updated": self.updated,
            "duplicate": self.duplicate, "stale": self.stale, "repeat": self.repeat, "retracted": self.retracted,
        }


@lru_cache(maxsize=4096)
def _content_hash(title: str, body: str, author: str | None, published_at: datetime) -> str:
    """identity.content_hash, cached: most posts of a re-polled page were hashed on the last poll."""
    return content_hash(title=title, body=body, author=author, published_at=published_at)


def _short_hash(text: str) -> str:
    return hashlib.sha256(fingerprint_text(text).encode("utf-8")).hexdigest()[:16]


def decide(stored: StoredPost, chash: str, fetched_ms: int) -> str:
    """The same rule the commit script applies, computed ahead of it.

    A retracted post that shows up again in a newer snapshot is restored as an update
    (revision + 1), even with unchanged content: consumers saw it withdrawn.
    """
    if stored.revision == 0:
        return "created"
    if stored.retracted:
        return "stale" if fetched_ms < stored.seen_ms else "updated"
    if stored.content_hash == chash:
        return "duplicate"
    if fetched_ms < stored.seen_ms:
        return "stale"
    return "updated"


# How far two polls may date a relative stamp apart and still be the same time, beyond its unit:
# a page renders "just now" for a few minutes, and its clock is not the fetcher's.
RELATIVE_SLACK = timedelta(minutes=5)


def settle_relative(doc: ParsedDocument, hashes: list[str], stored: list[StoredPost]) -> tuple[ParsedDocument, list[str]]:
    """A post dated by a relative stamp ("2 hours ago") keeps the time it was first published
    with while each later poll's reading agrees with it to within the stamp's unit (plus
    ``RELATIVE_SLACK``): a poll three minutes later computes 13:03 for what the first read as
    13:00, which is no edit. A reading further off is a real change of time (an update naming
    ``time``), and a post whose page now prints the exact time takes it (also an update, when
    it differs). The same stored state gives the same result, so replays are deterministic."""
    posts, out = doc.posts, None
    for i, (post, known) in enumerate(zip(posts, stored)):
        if not post.published_approx_s or not known.revision or not known.published:
            continue
        first = datetime.fromisoformat(known.published.replace("Z", "+00:00"))
        if first != post.published_at and (
                abs(first - post.published_at) <= timedelta(seconds=post.published_approx_s) + RELATIVE_SLACK):
            if out is None:
                out = (list(posts), list(hashes))
            out[0][i] = post.model_copy(update={"published_at": first})
            out[1][i] = _content_hash(post.title, post.body, post.author, first)
    if out is None:
        return doc, hashes
    return doc.model_copy(update={"posts": out[0]}), out[1]


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
        self.subscriptions = SubscriptionCache(redis, self.committer.keys)
        self.index = IndexReader(redis, self.committer.keys)  # holds the candidates' features it read

    def process(self, raw: RawDocument) -> Outcome:
        outcome = Outcome(document_id=raw.document_id, blog_id=raw.blog_id, status="committed")
        if self.committer.is_done(raw.blog_id, raw.document_id):
            outcome.status = "already-done"
            return outcome
        with outcome.timed("parse"):
            doc = parsed = parse(raw)
            hashes = parsed_hashes = [_content_hash(p.title, p.body, p.author, p.published_at) for p in doc.posts]
        outcome.posts = len(doc.posts)
        keys = [self.committer.keys.post(raw.blog_id, p.post_id) for p in doc.posts]
        fetched_ms = int(raw.fetched_at.timestamp() * 1000)
        enriched: dict[int, Enrichment] = {}
        features: dict[int, Features] = {}
        context: object | None = None
        # the snapshot's span: posts indexed strictly inside it that the page no longer shows are retracted
        span = retractions.span([_ms(p.published_at) for p in doc.posts]) if raw.options.snapshot else None
        index_key = self.committer.keys.post_index(doc.blog.id)
        # what the previous attempt decided, for a re-plan after a conflict to keep where its
        # inputs did not move (a bucket another worker wrote usually changes no decision)
        assign_memo: dict = {}
        plan_memo: dict[int, tuple[StoredPost, str, Assignment | None, Planned]] = {}
        for attempt in range(1, self.settings.commit_attempts + 1):
            outcome.commit_attempts = attempt
            with outcome.timed("precheck"):
                pre = self.committer.pre_read(keys, index_key, span)
                stored = pre.posts
                doc, hashes = settle_relative(parsed, parsed_hashes, stored)
                decisions = [decide(s, h, fetched_ms) for s, h in zip(stored, hashes)]
            needs = [i for i, d in enumerate(decisions) if d in ("created", "updated") and i not in enriched]
            with outcome.timed("enrich"):
                if needs and context is None:
                    context = self.enricher.context([f"{p.title}\n\n{p.body}" for p in doc.posts])
                for i in needs:
                    enriched[i] = self.enricher.enrich(doc.posts[i], context)
            with outcome.timed("features"):
                for i in needs:
                    features[i] = post_features(doc.posts[i], enriched[i])
            created = [i for i, d in enumerate(decisions) if d == "created"]
            with outcome.timed("assign"):
                members, lengths, assigned = self._assign(doc, created, features, assign_memo)
                retracted = self._retractions(doc, fetched_ms, raw.fetched_at, span, pre.in_span or [])
            with outcome.timed("plan"):
                planned = []
                for i in range(len(doc.posts)):
                    held = plan_memo.get(i)
                    if held is not None and held[:3] == (stored[i], decisions[i], assigned.get(i)):
                        planned.append(held[3])  # a re-plan: the same inputs give the same plan
                        continue
                    planned.append(self._plan(doc, i, keys[i], stored[i], decisions[i], hashes[i], enriched.get(i),
                                              raw.fetched_at, features.get(i), assigned.get(i)))
                    plan_memo[i] = (stored[i], decisions[i], assigned.get(i), planned[-1])
                channels = self._channels(planned, pre.subscriptions_version, stored, retracted)
            tally = _tally(decisions)
            repeats = sum(1 for i, a in assigned.items() if a.repeat_root != doc.posts[i].post_id)
            summary = {"document_id": raw.document_id, **tally, "repeat": repeats, "retracted": len(retracted)}
            dedup = DedupPlan(
                index_key=self.committer.keys.post_index(raw.blog_id),
                bucket_sizes=verified_sizes(members, lengths),
                topic_buckets=topic_buckets((b for p in planned for b in p.buckets), members),
                retractions=tuple(retracted),
                prune_before_ms=prune_before(doc, fetched_ms, self.settings.dedup_window_s),
            )
            with outcome.timed("commit"):
                status, detail = self.committer.commit(
                    blog_id=raw.blog_id,
                    document_id=raw.document_id,
                    fetched_ms=fetched_ms,
                    planned=planned,
                    ttl_s=self.settings.dedup_window_s,
                    maxlen=self.settings.stream_maxlen,
                    blog_maxlen=self.settings.blog_stream_maxlen,
                    summary=summary,
                    dedup=dedup,
                    channels=channels,
                )
            if status == "conflict":
                _back_off(attempt)
                continue
            outcome.enriched = len(enriched)
            if status == "done":
                outcome.status = "already-done"
                return outcome
            for name, value in tally.items():
                setattr(outcome, name, value)
            self.index.remember([(p.key, p.content_hash, features[i]) for i, p in enumerate(planned)
                                 if p.decision in ("created", "updated")])
            outcome.repeat, outcome.retracted = repeats, len(retracted)
            outcome.events = [p.event_json for p in planned if p.event_json] + [r.event_json for r in retracted]
            return outcome
        raise CommitConflict(
            f"document {raw.document_id} kept conflicting with concurrent commits "
            f"after {self.settings.commit_attempts} attempts; RQ will retry it"
        )

    def _channels(self, planned: list[Planned], version: str | None = None, stored: list[StoredPost] | None = None,
                  retracted: list[Retraction] | None = None) -> ChannelPlan:
        """Match the planned events against the subscriptions as of ``version`` (read with the
        pre-check; re-checked by the script, so a set that moved since means a re-plan), and
        plan the follow-ups of the alerts that updated (``stored``: as read) and retracted
        posts produced."""
        version, subscriptions = self.subscriptions.current(version)
        events = [(i, json.loads(p.event_json)) for i, p in enumerate(planned) if p.event_json] if subscriptions else []
        # oldest first, as stories are decided: the first telling of a story is the one that alerts
        events.sort(key=lambda ie: (ie[1]["data"]["post"]["published_at"], ie[1]["data"]["post"]["position"]))
        followups: list = []
        alerted: dict[int, dict[str, str]] = {}
        if subscriptions and stored is not None:
            updates = [(i, e, stored[i].alerted, stored[i].retracted) for i, e in events
                       if planned[i].decision == "updated" and stored[i].alerted]
            alerted = {i: alerted_by(field) for i, _, field, _ in updates}
            gone = [(j, json.loads(r.event_json), r.alerted) for j, r in enumerate(retracted or ()) if r.alerted]
            followups = plan_followups(updates, gone, subscriptions, self.committer.keys)
        return ChannelPlan(
            subscriptions_version=version,
            alerts=tuple(plan_alerts(events, subscriptions, self.committer.keys, alerted)),
            followups=tuple(followups),
            topic_maxlen=self.settings.topic_stream_maxlen,
            alert_maxlen=self.settings.alert_stream_maxlen,
        )

    def _assign(
        self, doc: ParsedDocument, created: list[int], features: dict[int, Features], memo: dict | None = None,
    ) -> tuple[dict[str, set[str]], dict[str, int], dict[int, Assignment]]:
        """Read the buckets the new posts fall into and decide their repeats and stories
        (``memo``: index.assign's, kept across the attempts of one document)."""
        if not created:
            return {}, {}, {}
        reader = self.index
        held = memo.get("read") if memo is not None else None
        if held is not None and held[0] == created:
            # a re-plan after a conflict: only the buckets the commit re-checks are read again,
            # and only the candidates they newly hold. What the last attempt read of the rest
            # (name and recent-post buckets, the candidates' features) the commit does not
            # re-check either, so that read is as good a snapshot as a new one.
            members, lengths = reader.reread_near(held[1])
            known = dict(held[2])
            known.update(reader.posts(set().union(*members.values()).difference(known)))
        else:
            members, lengths = reader.buckets([features[i] for i in created])
            known = reader.posts(set().union(*members.values()))
        if memo is not None:
            memo["read"] = (list(created), members, known)
        new = [
            NewPost(ref(doc.blog.id, doc.posts[i].post_id), doc.posts[i].post_id, features[i],
                    (features[i].published_ms, -doc.posts[i].position))
            for i in created
        ]
        decided = assign(
            new, members, known, self.committer.keys,
            repeat_min=self.settings.repeat_similarity_min,
            story_min=self.settings.story_similarity_min,
            story_window_ms=self.settings.story_window_s * 1000,
            topics=page_topics([features[i].names if i in features else names(p.title, p.body)
                                for i, p in enumerate(doc.posts)]),
            memo=memo,
        )
        return members, lengths, {i: decided[n.ref] for i, n in zip(created, new)}

    def _retractions(self, doc: ParsedDocument, fetched_ms: int, fetched_at: datetime,
                     span: tuple[int, int] | None, in_span: list[tuple[str, int]]) -> list[Retraction]:
        """Posts that vanished from inside this snapshot's time ``span``, with their events;
        ``in_span`` holds the blog index's (post id, published ms) entries inside it (pre_read)."""
        if span is None:
            return []
        present = {p.post_id for p in doc.posts}
        ids = [i for i, _ in in_span if i not in present]
        if not ids:
            return []
        stored = self.committer.read([self.committer.keys.post(doc.blog.id, i) for i in ids])
        scores = dict(in_span)
        known = [retractions.Known(i, scores[i], s.seen_ms, s.revision, s.retracted) for i, s in zip(ids, stored)]
        by_id = dict(zip(ids, stored))
        return [
            _retraction(doc, k.key, by_id[k.key], self.committer.keys.post(doc.blog.id, k.key), fetched_at)
            for k in retractions.missing(known, present, span, fetched_ms)
        ]

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
        features: Features | None,
        assigned: Assignment | None,
    ) -> Planned:
        post = doc.posts[index]
        if decision not in ("created", "updated"):
            return Planned(key=key, decision=decision, expected_revision=stored.revision, content_hash=chash)
        assert enrichment is not None and features is not None
        if assigned is None:  # an update keeps the story and repeat root its post was given
            assigned = Assignment(stored.story_id or story_id_for(post.post_id), stored.repeat_root or post.post_id, None)
        revision = stored.revision + 1
        etype = f"liveblog.post.{decision}"
        event = build_event(
            doc, post, revision=revision, event_type=etype, enrichment=enrichment, chash=chash,
            changed=changes(stored, post) if decision == "updated" else [], observed_at=fetched_at,
            story_id=assigned.story_id, repeat_of=_repeat_of(post.post_id, assigned.repeat_root),
        )
        created = decision == "created"
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
            post_id=post.post_id,
            ref=ref(doc.blog.id, post.post_id),
            story_id=assigned.story_id,
            repeat_root=assigned.repeat_root,
            signature=sigmod.encode(features.sig),
            published_ms=features.published_ms,
            anchors=" ".join(features.anchors),
            names=" ".join(sorted(features.names)),
            title=post.title,
            buckets=bucket_keys(features, self.committer.keys) if created else (),
            story_key=self.committer.keys.story(assigned.story_id) if created else "",
            topics=tuple(sorted(set(enrichment.topics))),
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
    story_id: str | None = None,
    repeat_of: str | None = None,
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
        story_id=story_id or story_id_for(post.post_id),
        repeat_of=repeat_of,
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


def _back_off(attempt: int) -> None:
    """Another worker committed first (a conflict means its commit went through): re-plan at
    once the first time, then wait a little, randomly, so workers re-planning the same blog
    again and again stop colliding (capped at 0.2 s). Two workers sharing one near-duplicate
    bucket conflict on about a fifth of all-new documents (docs/performance.md): a wait there
    left a core idle."""
    if attempt > 1:
        time.sleep(random.uniform(0, min(0.2, 0.005 * 2 ** (attempt - 1))))


def _tally(decisions: list[str]) -> dict[str, int]:
    return {d: sum(1 for x in decisions if x == d) for d in ("created", "updated", "duplicate", "stale")}


def post_features(post: ParsedPost, enrichment: Enrichment | None = None) -> Features:
    """What near-duplicate and story rules compare, computed once per post per job."""
    return dedup_features(post.title, post.body, _ms(post.published_at), post.blog_id, enrichment)


def prune_before(doc: ParsedDocument, fetched_ms: int, window_s: int) -> int:
    """Where the blog's post index is cut: one dedup window before the newest post of the
    document, or before the fetch if that is earlier (a post dated in the future moves nothing).

    Measured from the blog's own timeline, not the clock: a page replayed or backfilled
    long after it was written (``liveblog run`` on an archive, ``backfill``) keeps its posts
    indexed, so the next snapshot of it can still retract what it lost. From the fetch time,
    the whole page was pruned at its first commit and no retraction ever happened."""
    newest = max((_ms(p.published_at) for p in doc.posts), default=fetched_ms)
    return min(newest, fetched_ms) - window_s * 1000


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _repeat_of(post_id: str, repeat_root: str) -> str | None:
    return None if repeat_root == post_id else repeat_root


def _retraction(doc: ParsedDocument, post_id: str, stored: StoredPost, key: str, fetched_at: datetime) -> Retraction:
    """The retracted event: the revision stays, the body is gone, the post is off the page."""
    etype = "liveblog.post.retracted"
    data = EventData(
        blog=BlogRef(id=doc.blog.id, title=doc.blog.title, url=doc.blog.url),
        post=PostData(
            id=post_id, title=stored.title, body="", author=stored.author,
            published_at=datetime.fromisoformat((stored.published or "").replace("Z", "+00:00")),
            updated_at=fetched_at, revision=stored.revision, position=-1,
        ),
        story_id=stored.story_id or story_id_for(post_id),
        repeat_of=_repeat_of(post_id, stored.repeat_root or post_id),
        content_hash=stored.content_hash or "",
    )
    event = Event(
        id=event_id(doc.blog.id, post_id, stored.revision, etype),
        source=doc.blog.url or f"liveblog:{doc.blog.id}",
        type=etype,
        subject=post_id,
        time=fetched_at,
        data=data,
    )
    return Retraction(key=key, expected_revision=stored.revision, event_id=event.id, event_json=event.to_json(),
                      alerted=stored.alerted)
