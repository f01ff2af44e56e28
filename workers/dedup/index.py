"""The shared near-duplicate index: read candidates, then assign repeats and stories.

Reading is the pre-check half of the optimistic pattern used for post state: the
worker reads every bucket its new posts fall into (LSH bands and anchors), remembers
each bucket's size, and decides in Python; the commit script re-checks the sizes and
refuses the commit if any bucket grew meanwhile (buckets only grow, or expire whole),
so two workers racing on near-duplicates end as one original and one repeat.

Two kinds of bucket key. The near-duplicate buckets (LSH bands, headline and quote anchors:
``Keys.near``) are strings holding their refs JSON-quoted and joined by ``,``: ~99 % hold one
ref, every writer re-checks the one it writes (so nothing is written unread), and a string
is read by one MGET for a whole document and written by one ``SET ... EX`` - a set cost an
SMEMBERS, an SADD and an EXPIRE each, and twice the memory (docs/dedup.md). The
story-grouping buckets (names, a blog's recent posts: ``Keys.lsh``) stay sets: they are
written without a re-check, so concurrent writers must not be able to overwrite each other.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

from redis import Redis

from schemas.keys import Keys
from workers.dedup import signature as sigmod
from workers.dedup.stories import (
    PHRASE_ANCHOR, RARE_NAME_MAX, RECENT_SLOT_MS, Features, with_phrase_array,
)
from workers.dedup.candidates import Pool, choose_in


class Indexed(NamedTuple):
    """A post as the index knows it: enough to compare with, and its assignment. A named
    tuple: a document reads hundreds, and a frozen dataclass costs a setattr per field."""

    ref: str
    post_id: str
    features: Features
    story_id: str
    repeat_root: str


@dataclass(frozen=True)
class NewPost:
    ref: str
    post_id: str
    features: Features
    order: tuple  # (published ms, position): who is "earlier" within one document


@dataclass(frozen=True)
class Assignment:
    story_id: str
    repeat_root: str  # the post's own id when it repeats nothing
    rule: str | None


def ref(blog_id: str, post_id: str) -> str:
    return f"{blog_id}|{post_id}"


def bucket_names(features: Features) -> list[str]:
    """LSH band buckets, anchors (not the packed phrases, which are only compared), names,
    then the blog's recent-posts buckets: every index key that can lead to a candidate.
    Computed once per Features (a new post's are asked for by the read, the assignment and
    the plan)."""
    found = features.__dict__.get("_bucket_names")
    if found is None:
        found = (sigmod.band_keys(features.sig) + [a for a in features.anchors if not a.startswith(PHRASE_ANCHOR)]
                 + [f"n:{n}" for n in sorted(features.names)] + recent_buckets(features))
        object.__setattr__(features, "_bucket_names", found)
    return list(found)


def bucket_key(name: str, keys: Keys) -> str:
    """A bucket name's Redis key: a set for names and recent posts, a string for the rest."""
    return keys.lsh(name) if name.startswith(("n:", "r:")) else keys.near(name)


def bucket_keys(features: Features, keys: Keys) -> tuple[str, ...]:
    """``bucket_names`` as Redis keys, worked out once per Features and key prefix (the read,
    the assignment and the plan each ask for them, ~60 per post)."""
    held = features.__dict__.get("_bucket_keys")
    if held is None or held[0] != keys.prefix:
        held = (keys.prefix, tuple(bucket_key(n, keys) for n in bucket_names(features)))
        object.__setattr__(features, "_bucket_keys", held)
    return held[1]


def recent_buckets(features: Features) -> list[str]:
    """The post's slot of its blog's recent posts, and the slot before (see RECENT_SLOT_MS)."""
    if not features.blog:
        return []
    blog = hashlib.blake2b(features.blog.encode("utf-8"), digest_size=4).hexdigest()
    slot = features.published_ms // RECENT_SLOT_MS
    return [f"r:{blog}:{slot}", f"r:{blog}:{slot - 1}"]


def _bucket_starts(key: str, kind: str) -> bool:
    """Whether ``key`` is a set bucket (``:lsh:``) whose name starts with ``kind``, without
    slicing the key (asked ~1,000 times per document)."""
    at = key.find(":lsh:")
    return at >= 0 and key.startswith(kind, at + 5)


def is_near_bucket(key: str) -> bool:
    """A near-duplicate bucket (a string, ``Keys.near``) rather than a set (``Keys.lsh``)."""
    return key.find(":lsh:") < 0


def is_name_bucket(key: str) -> bool:
    return _bucket_starts(key, "n:")


def is_recent_bucket(key: str) -> bool:
    return _bucket_starts(key, "r:")


def verified_sizes(members: dict[str, set[str]], lengths: dict[str, int]) -> dict[str, int]:
    """The bucket sizes the commit re-checks: the near-duplicate buckets (LSH bands and the
    headline/quote anchors), so two racing near-duplicates still resolve to one original and
    one repeat - as the length in bytes of the string read (``lengths``; 0: absent), which
    only grows as refs are appended. Name and recent-post buckets, which only feed story
    grouping, are left out: nearly every post of a blog shares one with the posts committed
    beside it, so checking them would serialise all of a blog's commits. The price is that
    two posts of a brand-new story committed at the same instant may each start a story
    (docs/dedup.md)."""
    return {k: lengths.get(k, 0) for k in members if is_near_bucket(k)}


def topic_buckets(written, members: dict[str, set[str]]) -> frozenset[str]:
    """Of the bucket keys ``written``, the name buckets the read left out of ``members`` for
    being larger than RARE_NAME_MAX: a topic's, only ever asked its size."""
    return frozenset(k for k in written if k not in members and is_name_bucket(k))


def story_id_for(post_id: str) -> str:
    return "st-" + post_id


# KEYS: the name buckets (sets; -1 for one over the limit, a topic), the other set buckets
# (recent posts), then the near-duplicate buckets (strings, read by one MGET per 1,000; an
# absent one is nil)
READ_BUCKETS_LUA = """
local limit, names, sets = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i = 1, sets do
  if i <= names and redis.call('SCARD', KEYS[i]) > limit then
    out[i] = -1
  else
    out[i] = redis.call('SMEMBERS', KEYS[i])
  end
end
for first = sets + 1, #KEYS, 1000 do
  local last = math.min(first + 999, #KEYS)
  local values = redis.call('MGET', unpack(KEYS, first, last))
  for j = first, last do out[j] = values[j - first + 1] end
end
return out
"""


# For each post key: its stored features only when the caller does not already hold them
# for the content hash it names (ARGV[i], '' if none); the story and repeat root always.
READ_CANDIDATES_LUA = """
local out = {}
for i, key in ipairs(KEYS) do
  local row = redis.call('HMGET', key, 'st', 'rr', 'hash')
  if not row[3] then
    out[i] = false
  elseif row[3] == ARGV[i] then
    out[i] = {row[1], row[2]}
  else
    out[i] = redis.call('HMGET', key, 'st', 'rr', 'hash', 'sig', 'an', 'nm', 'ts')
  end
end
return out
"""


class CandidateCache:
    """Stored features of indexed posts by post key, with the content hash they belong to.

    The recent posts of a blog are candidates for every document of that blog; their stored
    features (signature, phrases, names: ~1 KB each) only change when the post's content
    hash does (the commit writes them with it), so a worker that read them once asks Redis
    only for the hash it holds. Least recently used entries go first; ~5 KB each (names
    interned: a blog's posts share most of theirs), so 4,096 keep a worker's peak RSS in
    bounds while 30 blogs polled in turn still find two thirds or more of their candidates
    here (docs/performance.md). One per processor, that is per connection: it holds what
    that Redis stored."""

    def __init__(self, maxsize: int = 4096) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[str, tuple[str, Features]] = OrderedDict()

    def get(self, key: str) -> tuple[str, Features] | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: str, content_hash: str, features: Features) -> None:
        self._entries[key] = (content_hash, features)
        self._entries.move_to_end(key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)


class IndexReader:
    def __init__(self, redis: Redis, keys: Keys, cache: CandidateCache | None = None) -> None:
        self.redis = redis
        self.keys = keys
        self.cache = cache if cache is not None else CandidateCache()

    def buckets(self, posts: list[Features]) -> tuple[dict[str, set[str]], dict[str, int]]:
        """Members of each bucket (keyed by full Redis key) that can still decide anything,
        and the length in bytes of each near-duplicate bucket read with members (what the
        commit re-checks).

        The buckets are those of the new posts ``posts``. Name buckets larger than RARE_NAME_MAX
        are topics: they are left out, so a worker never loads (nor has the commit re-check)
        the thousands of posts naming a country.
        One read-only script call for all buckets of a document: a page of 20 new posts
        reads about 800 mostly empty buckets, and 800 pipelined commands cost the client
        far more than the server.
        """
        # the name buckets first, so one count tells the script which keys may be topics (a
        # flag per key was ~800 more arguments for a page of 20 new posts)
        kind = {k: n[:2] for f in posts for n, k in zip(bucket_names(f), bucket_keys(f, self.keys))}
        if not kind:
            return {}, {}
        names = sorted(k for k, a in kind.items() if a == "n:")
        recent = sorted(k for k, a in kind.items() if a == "r:")
        near = sorted(k for k, a in kind.items() if a not in ("n:", "r:"))
        full = names + recent + near
        rows = self._read(keys=full, args=[RARE_NAME_MAX, len(names), len(names) + len(recent)])
        sets = len(names) + len(recent)
        members = {key: _members(row) for key, row in zip(full[:sets], rows) if row != -1}
        return members, _near_read(near, rows[sets:], members)

    def reread_near(self, members: dict[str, set[str]]) -> tuple[dict[str, set[str]], dict[str, int]]:
        """``members`` with its near-duplicate buckets read again (the ones the commit
        re-checks, and so the ones a conflict can be about), and their lengths; the name and
        recent-post buckets are kept as read: the commit never re-checks them, so the earlier
        read is as good a snapshot as a new one (see verified_sizes)."""
        near = sorted(k for k in members if is_near_bucket(k))
        out = {k: v for k, v in members.items() if not is_near_bucket(k)}
        rows = self._read(keys=near, args=[RARE_NAME_MAX, 0, 0]) if near else []
        return out, _near_read(near, rows, out)

    @property
    def _read(self):
        if not hasattr(self, "_script"):
            self._script = self.redis.register_script(READ_BUCKETS_LUA)
        return self._script

    def posts(self, refs: set[str]) -> dict[str, Indexed]:
        """The stored features of candidate posts; expired ones are left out."""
        ordered = sorted(refs)
        keys = [self.keys.post(*r.rsplit("|", 1)) for r in ordered]
        held = [self.cache.get(k) for k in keys]
        rows: list = []
        for start in range(0, len(keys), _READ_CHUNK):
            rows.extend(self._read_candidates(keys=keys[start : start + _READ_CHUNK],
                                              args=[h[0] if h else "" for h in held[start : start + _READ_CHUNK]]))
        out = {}
        for r, key, row, have in zip(ordered, keys, rows, held):
            if row is None:
                continue
            row = [v.decode() if isinstance(v, bytes) else v for v in row]
            if len(row) == 2:  # the hash we hold: the features we hold
                features = have[1]  # type: ignore[index]
            elif row[3] is None:  # a post stored without features (none are, since the index exists)
                continue
            else:
                features = stored_features(*row[3:])
                self.cache.put(key, row[2], features)
            out[r] = Indexed(r, r.rpartition("|")[2], features, row[0], row[1])
        return out

    def remember(self, committed: list[tuple[str, str, Features]]) -> None:
        """After a commit: (post key, content hash, features) of its created and updated posts,
        held as the index gives them back - without a new post's sentences, which are not
        stored - so the next document of the blog finds them without reading them."""
        for key, content_hash, f in committed:
            held = Features(f.sig, f.anchors, f.names, f.published_ms)
            if "phrase_array" in f.__dict__:
                with_phrase_array(held, f.phrase_array)
            self.cache.put(key, content_hash, held)

    @property
    def _read_candidates(self):
        if not hasattr(self, "_candidates_script"):
            self._candidates_script = self.redis.register_script(READ_CANDIDATES_LUA)
        return self._candidates_script


_READ_CHUNK = 2000


def _members(row: list) -> set[str]:
    """A bucket's members as text (a connection without decode_responses gives bytes)."""
    return set(map(bytes.decode, row)) if row and isinstance(row[0], bytes) else set(row)


def _near_read(near: list[str], rows: list, members: dict[str, set[str]]) -> dict[str, int]:
    """Each near-duplicate bucket's refs into ``members`` (empty: absent), and the lengths in
    bytes of those read with members, from the values the read script gave for ``near``."""
    lengths: dict[str, int] = {}
    for key, row in zip(near, rows):
        if row:
            members[key], lengths[key] = near_refs(row)
        else:
            members[key] = set()
    return lengths


def near_refs(value: bytes | str) -> tuple[set[str], int]:
    """A near-duplicate bucket's refs, and its length in bytes, from the string stored
    (``"ref","ref"``: each ref JSON-quoted, so any blog id is safe)."""
    raw = value if isinstance(value, bytes) else value.encode("utf-8")
    return set(json.loads(b"[" + raw + b"]")), len(raw)


def stored_features(sig: str, anchors: str, names: str, published_ms: str) -> Features:
    """An indexed post's features from its stored fields. The name tokens are interned: the
    candidates held in a worker's cache repeat the same few hundred names thousands of times."""
    return Features(sigmod.decode(sig), tuple(anchors.split()), frozenset(map(sys.intern, names.split())),
                    int(published_ms))


def assign(
    new: list[NewPost],
    members: dict[str, set[str]],
    known: dict[str, Indexed],
    keys: Keys,
    *,
    repeat_min: float,
    story_min: float,
    story_window_ms: int,
    topics: frozenset[str] = frozenset(),
    memo: dict | None = None,
) -> dict[str, Assignment]:
    """Decide each new post's story and repeat root, earliest first.

    Candidates are the posts sharing a bucket in Redis plus earlier new posts of the
    same document (a page can tell a story twice); the result depends only on the
    inputs, so a replay assigns the same ids. ``topics`` are names the page itself
    shows to be its subject (stories.page_topics): never counted as rare.

    ``memo`` (a dict the caller keeps across the attempts of one document) holds what the
    last call decided and from what. A post's decision is a function of its candidates
    (refs, features, stories and repeat roots) and its rare names alone (``choose_in`` reads
    only the candidates asked about), so a post whose candidates and rare names are those of
    the last call keeps its assignment without being compared again. After a conflict on a
    near-duplicate bucket another worker wrote, that is usually every post but the one or
    two the bucket belongs to (tests/dedup/test_replan.py).
    """
    local: dict[str, list[str]] = {}
    known = dict(known)
    before: dict[str, tuple] = memo.get("posts", {}) if memo is not None else {}
    known_before: dict[str, Indexed] = memo.get("known", {}) if memo is not None else {}
    # refs whose entry differs from the last call's: a candidate read again and found edited
    # or gone, and (below) a new post of the document assigned differently this time
    moved: set[str] = set()
    if before:
        mine = {p.ref for p in new}
        moved.update(r for r, c in known.items() if not _same_candidate(known_before.get(r), c))
        moved.update(r for r in known_before if r not in known and r not in mine)
    # only a rare name (a small bucket that was read, see the loop below) is ever looked up
    # in the pool; a name whose bucket is too large to be read (a topic) never is
    name_key = {n: keys.lsh(f"n:{n}") for p in new for n in p.features.names}
    wanted = frozenset(
        n for n, k in name_key.items() if n not in topics and k in members and len(members[k]) <= RARE_NAME_MAX
    )

    def built() -> Pool:
        pool = Pool(wanted=wanted)
        pool.add_all((r, known[r].features, known[r].story_id) for r in sorted(known))
        return pool

    pool = None if before else built()  # a re-plan builds it when a post first needs it
    out: dict[str, Assignment] = {}
    decided: dict[str, tuple] = {}
    for post in sorted(new, key=lambda p: (p.order, p.post_id)):
        own_keys = bucket_keys(post.features, keys)
        usable = [k for k in own_keys if k in members or not is_name_bucket(k)]
        refs = set().union(*(members.get(k, set()) for k in usable), *(local.get(k, []) for k in usable))
        refs.discard(post.ref)
        rare = frozenset(
            n for n in post.features.names
            if n not in topics and (k := name_key[n]) in members
            and len(members[k]) + len(local.get(k, [])) <= RARE_NAME_MAX
        )
        held = before.get(post.ref)
        if held is not None and held[0] == refs and held[1] == rare and moved.isdisjoint(refs):
            result = held[2]
        else:
            if pool is None:
                pool = built()
            position = pool.position
            chosen = choose_in(pool, post.features, [position[r] for r in refs if r in position], rare=rare,
                               repeat_min=repeat_min, story_min=story_min, story_window_ms=story_window_ms)
            if chosen is None:
                result = Assignment(story_id_for(post.post_id), post.post_id, None)
            else:
                found, r = chosen
                cand = known[r]
                root = cand.repeat_root if found.kind == "repeat" else post.post_id
                result = Assignment(cand.story_id, root, found.rule)
        out[post.ref] = result
        decided[post.ref] = (refs, rare, result)
        known[post.ref] = Indexed(post.ref, post.post_id, post.features, result.story_id, result.repeat_root)
        if before and not _same_candidate(known_before.get(post.ref), known[post.ref]):
            moved.add(post.ref)
        if pool is not None:
            pool.add(post.ref, post.features, result.story_id)
        for k in own_keys:
            local.setdefault(k, []).append(post.ref)
    if memo is not None:
        memo["posts"], memo["known"] = decided, known
    return out


def _same_candidate(a: Indexed | None, b: Indexed | None) -> bool:
    """The same candidate for the rules: same features (the cache hands back the one object
    while the post's content hash holds), story and repeat root; or absent both times."""
    if a is None or b is None:
        return a is b
    return a.features is b.features and a.story_id == b.story_id and a.repeat_root == b.repeat_root

