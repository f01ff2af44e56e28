"""The atomic commit: dedup state, events and counters change together or not at all.

The worker reads each post's stored state first (the pre-check), decides what the
post is and renders its event in Python (deterministic JSON from the pydantic
models), then hands everything to one Lua script. The script re-checks each
decision against the state as it is now; if another worker got there first it
writes nothing and names the posts whose state moved, and the worker re-plans
those. A crash before the script leaves no trace; a retry after it finds the
document marked done and publishes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import NamedTuple

from redis import Redis

from schemas.keys import Keys
from workers.alerts.plan import PlannedAlert, PlannedFollowUp
from workers.dedup.stories import RARE_NAME_MAX

COMMIT_LUA = resources.files("workers").joinpath("commit.lua").read_text(encoding="utf-8")
DEAD_LETTER_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('XADD', KEYS[3], '*', unpack(ARGV, 2))
redis.call('HINCRBY', KEYS[2], 'documents_dead_lettered', 1)
redis.call('SET', KEYS[1], 'dead-lettered', 'EX', tonumber(ARGV[1]))
return 1
"""


class StoredPost(NamedTuple):
    """What Redis remembers of a post: enough to decide and to say what changed. A named
    tuple: the pre-check builds one per post of the page, and a frozen dataclass costs a
    setattr per field."""

    revision: int = 0
    content_hash: str | None = None
    seen_ms: int = 0
    title_hash: str | None = None
    body_hash: str | None = None
    author: str | None = None
    published: str | None = None
    story_id: str | None = None
    repeat_root: str | None = None
    retracted: bool = False
    title: str = ""
    alerted: str = ""  # the alerts the post produced: 'subscriber=alert id' joined by ',' (field 'al')


@dataclass(frozen=True)
class Retraction:
    """A post the snapshot no longer shows: its key, the revision it stays at, its event."""

    key: str
    expected_revision: int
    event_id: str
    event_json: str
    alerted: str = ""  # the stored post's 'al': the subscribers it alerted get a follow-up


# the decisions that write a post (and publish its event); a duplicate or stale post is only
# re-checked and kept alive, so the commit script gets its first three fields alone
WRITTEN = frozenset({"created", "updated"})


class Planned(NamedTuple):
    """One post's decision, prepared for the commit (a named tuple, as StoredPost: one per
    post of every page)."""

    key: str
    decision: str
    expected_revision: int
    content_hash: str
    event_id: str = ""
    event_json: str = ""
    event_type: str = ""
    title_hash: str = ""
    body_hash: str = ""
    author: str = ""
    published: str = ""
    # near-duplicate and story state, written for created and updated posts
    post_id: str = ""
    ref: str = ""
    story_id: str = ""
    repeat_root: str = ""
    signature: str = ""
    published_ms: int = 0
    anchors: str = ""
    names: str = ""
    title: str = ""
    buckets: tuple[str, ...] = ()  # index keys to add the post to (created posts only)
    story_key: str = ""  # story set to add the post to (created posts only)
    topics: tuple[str, ...] = ()  # per-topic streams the event also goes to


@dataclass(frozen=True)
class DedupPlan:
    """What the worker read of the shared index, and what it retracts, for the script to re-check."""

    index_key: str = ""
    # buckets whose members were read and used; topic-sized name buckets are absent
    bucket_sizes: dict[str, int] = field(default_factory=dict)
    # the name buckets read as topic-sized (over RARE_NAME_MAX posts): the script adds to one
    # only while it is not (see commit.lua)
    topic_buckets: frozenset[str] = frozenset()
    retractions: tuple[Retraction, ...] = ()
    prune_before_ms: int = 0


@dataclass(frozen=True)
class ChannelPlan:
    """Where events fan out beyond the global and blog streams, and the alerts to commit.

    ``subscriptions_version`` is the version the alerts were matched against; the script
    re-checks it ("*": no subscriptions were consulted, nothing to check).
    """

    subscriptions_version: str = "*"
    alerts: tuple[PlannedAlert, ...] = ()
    followups: tuple[PlannedFollowUp, ...] = ()
    topic_maxlen: int = 0
    alert_maxlen: int = 0


STORED_FIELDS = ("rev", "hash", "seen", "t", "b", "a", "p", "st", "rr", "x", "tt", "al")


HMGET_MANY_LUA = """
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HMGET', key, unpack(ARGV))
end
return out
"""
_HMGET_MANY_CHUNK = 2000


def hmget_many(redis: Redis, keys: list[str], fields: tuple[str, ...]) -> list[list]:
    """HMGET of the same fields from many hashes in one round trip per 2,000 keys. One script
    call, not a pipeline: redis-py packs and parses each pipelined command in Python, which
    costs more than the server's work for a page of posts."""
    script = _script(redis, HMGET_MANY_LUA)
    rows: list[list] = []
    for start in range(0, len(keys), _HMGET_MANY_CHUNK):
        rows.extend(script(keys=keys[start : start + _HMGET_MANY_CHUNK], args=list(fields)))
    return rows


# The pre-check in one round trip: the posts' stored state, the snapshot span's index entries
# (retraction candidates; only when a span is given) and the subscriptions version.
PRE_READ_LUA = """
local n = tonumber(ARGV[1])
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
local rows = {}
for i = 1, n do rows[i] = redis.call('HMGET', KEYS[i], unpack(fields)) end
local span = false
if ARGV[2] ~= '' then
  span = redis.call('ZRANGE', KEYS[n + 1], '(' .. ARGV[2], '(' .. ARGV[3], 'BYSCORE', 'WITHSCORES')
end
return {rows, span, redis.call('GET', KEYS[#KEYS])}
"""


@dataclass(frozen=True)
class PreRead:
    """What the pre-check read: each post's stored state, the (post id, published ms) entries
    of the blog's index strictly inside the snapshot's span (None: no span was asked for), and
    the subscriptions version ("0" when there is none)."""

    posts: list[StoredPost]
    in_span: list[tuple[str, int]] | None
    subscriptions_version: str


def _script(redis: Redis, source: str):
    """``source`` registered on this connection object, once (a Script holds its client)."""
    found = _SCRIPTS.get(id(redis))
    if found is None or found[0] is not redis:
        found = _SCRIPTS[id(redis)] = (redis, {})
    registered = found[1].get(source)
    if registered is None:
        registered = found[1][source] = redis.register_script(source)
    return registered


_SCRIPTS: dict[int, tuple[Redis, dict]] = {}  # per connection: script source -> Script


class Committer:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._commit = redis.register_script(COMMIT_LUA)
        self._dead_letter = redis.register_script(DEAD_LETTER_LUA)

    def read(self, post_keys: list[str]) -> list[StoredPost]:
        """The pre-check: one read-only script call, no writes."""
        return [_stored(row) for row in hmget_many(self.redis, post_keys, STORED_FIELDS)]

    def pre_read(self, post_keys: list[str], index_key: str, span: tuple[int, int] | None) -> PreRead:
        """``read``, the index entries inside ``span`` and the subscriptions version, in one
        read-only script call (they were three round trips; a page of 2,000 posts or more
        reads the posts past the first 2,000 as ``read`` does)."""
        script = _script(self.redis, PRE_READ_LUA)
        head, rest = post_keys[:_HMGET_MANY_CHUNK], post_keys[_HMGET_MANY_CHUNK:]
        keys = [*head, *([index_key] if span is not None else []), self.keys.subscriptions_version]
        lo, hi = span if span is not None else ("", "")
        rows, in_span, version = script(keys=keys, args=[len(head), lo, hi, *STORED_FIELDS])
        if rest:
            rows = list(rows) + hmget_many(self.redis, rest, STORED_FIELDS)
        entries = None
        if span is not None:
            flat = in_span or []
            entries = [(_text(flat[i]), int(float(_text(flat[i + 1])))) for i in range(0, len(flat), 2)]
        return PreRead([_stored(row) for row in rows], entries, _text(version) if version is not None else "0")

    def is_done(self, blog_id: str, document_id: str) -> bool:
        return bool(self.redis.exists(self.keys.done(blog_id, document_id)))

    def commit(
        self,
        *,
        blog_id: str,
        document_id: str,
        fetched_ms: int,
        planned: list[Planned],
        ttl_s: int,
        maxlen: int,
        blog_maxlen: int,
        summary: dict,
        dedup: DedupPlan | None = None,
        channels: ChannelPlan | None = None,
    ) -> tuple[str, object]:
        """Returns ("ok", summary) | ("done", previous summary) | ("conflict", [indexes]).

        A conflict on the near-duplicate buckets or a retraction names no post: the
        list is empty and the whole document is re-planned.
        """
        dedup = dedup or DedupPlan(index_key=self.keys.post_index(blog_id))
        channels = channels or ChannelPlan()
        topics = sorted({t for p in planned for t in p.topics})
        topic_no = {t: i + 1 for i, t in enumerate(topics)}
        # the script re-checks first the near-duplicate buckets read empty, then those read with
        # members (their lengths follow), then writes the set buckets unchecked. Within the first
        # two groups each created post's buckets come together, in the order of the posts, so a
        # post names them by two counts instead of ~34 indexes; a bucket a post shares with an
        # earlier one of the document is named on its own (an "extra", rare)
        sizes = dedup.bucket_sizes
        empty: list[str] = []
        held: list[str] = []
        near_of: dict[int, tuple[int, int, list[str]]] = {}  # post -> (empty, held, extras)
        placed: set[str] = set()
        for i, p in enumerate(planned):
            if p.decision == "created" and p.buckets:
                mine = sorted(b for b in p.buckets if b in sizes)
                extras = [b for b in mine if b in placed]
                new_empty = [b for b in mine if b not in placed and sizes[b] == 0]
                new_held = [b for b in mine if b not in placed and sizes[b] > 0]
                placed.update(mine)
                empty += new_empty
                held += new_held
                near_of[i] = (len(new_empty), len(new_held), extras)
        empty += sorted(b for b, n in sizes.items() if n == 0 and b not in placed)  # read, not written
        held += sorted(b for b, n in sizes.items() if n > 0 and b not in placed)
        written = set().union(*(p.buckets for p in planned)).difference(sizes)
        topic = sorted(written.intersection(dedup.topic_buckets))
        buckets = empty + held + topic + sorted(written.difference(topic))
        stories = sorted({p.story_key for p in planned if p.story_key})
        keys = [
            self.keys.done(blog_id, document_id),
            self.keys.stats,
            self.keys.events,
            self.keys.blog_events(blog_id),
            dedup.index_key or self.keys.post_index(blog_id),
            *(p.key for p in planned),
            *(r.key for r in dedup.retractions),
            *buckets,
            *stories,
            self.keys.subscriptions_version,
            *(self.keys.topic_events(t) for t in topics),
            *(k for a in channels.alerts for k in (a.stream_key, a.alerted_key, a.matched_key)),
            *(f.stream_key for f in channels.followups),
        ]
        args: list[object] = [fetched_ms, ttl_s, maxlen, blog_maxlen, len(planned), json.dumps(summary, sort_keys=True),
                              len(dedup.retractions), len(buckets), len(stories), dedup.prune_before_ms]
        bucket_no = {b: i + 1 for i, b in enumerate(buckets)}
        story_no = {k: i + 1 for i, k in enumerate(stories)}
        for i, p in enumerate(planned):
            if p.decision not in WRITTEN:  # duplicate or stale: the script only checks it (and extends it)
                args += [p.decision, p.expected_revision, p.content_hash]
                continue
            args += [p.decision, p.expected_revision, p.content_hash, p.event_id, p.event_json, p.event_type,
                     p.title_hash, p.body_hash, p.author, p.published, p.post_id, p.ref, p.story_id, p.repeat_root,
                     p.signature, p.published_ms, p.anchors, p.names, p.title,
                     ",".join(str(bucket_no[b]) for b in p.buckets if b not in sizes), story_no.get(p.story_key, 0),
                     ",".join(str(topic_no[t]) for t in p.topics)]
            n_empty, n_held, extras = near_of.get(i, (0, 0, ()))
            args += [n_empty, n_held, ",".join(str(bucket_no[b]) for b in extras)]
        for r in dedup.retractions:
            args += [r.expected_revision, r.event_id, r.event_json]
        args += [len(empty), len(held), *(sizes[b] for b in held), len(topic), RARE_NAME_MAX]
        args += [channels.subscriptions_version, len(topics), channels.topic_maxlen, channels.alert_maxlen,
                 len(channels.alerts), self.keys.notify, self.keys.blog_notify(blog_id), blog_id]
        for a in channels.alerts:
            args += [a.post_index + 1, a.alert_id, a.subscription, a.reasons, a.story_id]
        if channels.followups:  # absent: none (the script reads a missing count as 0)
            args.append(len(channels.followups))
            for f in channels.followups:
                args += ["r" if f.retraction else "p", f.index + 1, f.alert_id, f.subscription, f.kind,
                         f.original_id, f.changes, f.reasons, f.story_id]
        status, detail = self._commit(keys=keys, args=args)
        status = _text(status)
        if status == "conflict":
            return status, [int(i) for i in _text(detail).split(",") if i]
        return status, json.loads(_text(detail)) if _text(detail).startswith("{") else _text(detail)

    def dead_letter(self, *, blog_id: str, document_id: str, ttl_s: int, entry: dict[str, str]) -> bool:
        """Record a rejected document once, with its raw input and the reason."""
        flat: list[str] = []
        for field, value in entry.items():
            flat += [field, value]
        written = self._dead_letter(
            keys=[self.keys.done(blog_id, document_id), self.keys.stats, self.keys.dead_letter],
            args=[ttl_s, *flat],
        )
        return bool(written)


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _stored(row: list) -> StoredPost:
    rev, chash, seen, t, b, a, p, st, rr, x, tt, al = [
        v.decode("utf-8") if v.__class__ is bytes else (None if v is None else str(v)) for v in row]
    return StoredPost(int(rev or 0), chash, int(seen or 0), t, b, a or None, p, st or None, rr or None, x == "1",
                      tt or "", al or "")
