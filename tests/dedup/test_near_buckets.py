"""Near-duplicate buckets stored as strings, and the move from the set layout (`liveblog migrate`)."""

from __future__ import annotations

import json

import pytest

from schemas.keys import Keys
from tests.dedup.pages import FLOOD, page, post
from tests.helpers import PlainEnricher, stream_events
from workers.dedup import migrate as migrating
from workers.dedup.index import near_refs
from workers.pipeline import DocumentProcessor

pytestmark = pytest.mark.redis

KEYS = Keys()
ODD_BLOG = 'coast "wire", \\ / ü |x'  # quote, comma, backslash, slash, non-ASCII, the ref separator


@pytest.fixture
def processor(conn, settings):
    return DocumentProcessor(conn, settings, PlainEnricher())


def created(conn) -> dict[str, dict]:
    return {e["data"]["post"]["title"]: e["data"] for e in stream_events(conn) if e["type"].endswith("created")}


def ref_of(conn, title: str) -> str:
    data = created(conn)[title]
    return f"{data['blog']['id']}|{data['post']['id']}"


COPY = FLOOD + "\n\nReporting by Northern Wire."
# no names at all: a copy of it in another blog can only be found through its LSH bands
NAMELESS = (
    "the water came up through the floorboards of the lower terrace before dawn, and by six the street was a "
    "brown river carrying bins, fence panels and a child's bicycle towards the bridge. crews in waders went "
    "door to door with torches, and the older residents were carried to the boats in kitchen chairs. the "
    "pumps arrived at eight but could do little while the rain kept falling on the hills above the town, and "
    "the school hall was opened with blankets, soup and camp beds for anyone who could not go home tonight."
)


def near_keys(conn) -> list[bytes]:
    return sorted(conn.scan_iter(f"{KEYS.prefix}:dup:*", count=1000))


def test_a_near_duplicate_bucket_is_a_string_of_quoted_refs_with_the_window_as_ttl(processor, conn, settings):
    processor.process(page([post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD)], minutes_after=5))
    keys = near_keys(conn)
    assert len(keys) >= 32  # one per LSH band at least, plus the headline anchor
    for key in keys:
        assert conn.type(key) == b"string"
        assert near_refs(conn.get(key))[0] == {ref_of(conn, "River Tessel bursts its banks at Keldby")}
        assert settings.dedup_window_s - 5 <= conn.ttl(key) <= settings.dedup_window_s
    assert not [k for k in conn.scan_iter(f"{KEYS.prefix}:lsh:*") if not k.split(b":lsh:")[1][:2] in (b"n:", b"r:")]


def test_refs_with_any_characters_are_read_back_and_found_as_repeats(processor, conn):
    original = post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD, blog=ODD_BLOG)
    processor.process(page([original], minutes_after=5, blog=ODD_BLOG))
    copy = post("s", 7, "Flooding hits Keldby as Tessel overtops", COPY, blog="valley")
    processor.process(page([copy], minutes_after=5, blog="valley"))
    events = created(conn)
    assert events[copy.title]["repeat_of"] == events[original.title]["post"]["id"]
    shared = [k for k in near_keys(conn) if len(near_refs(conn.get(k))[0]) == 2]
    assert shared, "the copy shares at least one band with the original"
    for key in shared:  # appended to the string the first commit wrote, each ref once
        refs, length = near_refs(conn.get(key))
        assert refs == {ref_of(conn, original.title), ref_of(conn, copy.title)} and length == conn.strlen(key)
    assert ref_of(conn, original.title).startswith(ODD_BLOG + "|")


def test_a_page_telling_a_story_twice_writes_both_refs_into_the_buckets_they_share(processor, conn):
    """The second post's refs go into buckets the first one created in the same commit."""
    original = post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD)
    copy = post("s", 7, "Flooding hits Keldby as Tessel overtops", COPY)
    processor.process(page([original, copy], minutes_after=5))
    events = created(conn)
    assert events[copy.title]["repeat_of"] == events[original.title]["post"]["id"]
    both = {ref_of(conn, original.title), ref_of(conn, copy.title)}
    shared = [k for k in near_keys(conn) if near_refs(conn.get(k))[0] == both]
    assert len(shared) >= 8  # most of 32 bands agree for a copy with one line added
    for key in near_keys(conn):
        refs, length = near_refs(conn.get(key))
        assert refs <= both and length == conn.strlen(key) and conn.ttl(key) > 0
        assert conn.get(key).count(b",") == len(refs) - 1  # each ref once


def test_a_string_that_grew_since_the_read_makes_the_commit_re_plan(processor, conn, monkeypatch):
    """The commit re-checks the length of each string read with members: a ref appended by
    another worker in between is a conflict (the document is re-planned), never overwritten."""
    original = post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD)
    processor.process(page([original], minutes_after=5))
    reader = processor.index
    real = reader.buckets
    grown, reads = [], []

    def read_then_grow(posts):
        members, lengths = real(posts)
        reads.append(dict(lengths))
        if not grown:
            for key in lengths:  # what a concurrent commit would append
                conn.append(key, ',"other|z"')
                grown.append(key)
        return members, lengths

    real_reread = reader.reread_near

    def reread(members):
        members, lengths = real_reread(members)
        reads.append(dict(lengths))
        return members, lengths

    monkeypatch.setattr(reader, "buckets", read_then_grow)
    monkeypatch.setattr(reader, "reread_near", reread)  # the re-plan reads the re-checked buckets again
    copy = post("s", 7, "Flooding hits Keldby as Tessel overtops", COPY, blog="coast")
    outcome = processor.process(page([copy], minutes_after=5, blog="coast"))
    assert grown and outcome.created == 1 and outcome.commit_attempts == 2
    assert len(reads) == 2 and all(reads[1][k] > reads[0][k] for k in grown)  # re-read, re-planned
    for key in grown:
        assert near_refs(conn.get(key))[0] == {ref_of(conn, original.title), "other|z", ref_of(conn, copy.title)}


def _to_set_layout(conn) -> dict[str, tuple[set[str], int]]:
    """Turn every near-duplicate string back into the set layout of earlier releases (same
    bucket names under ``:lsh:``, same TTL): what an index written before the upgrade holds."""
    before = {}
    for key in near_keys(conn):
        refs, _ = near_refs(conn.get(key))
        ttl = conn.pttl(key)
        old = key.decode().replace(":dup:", ":lsh:", 1)
        conn.sadd(old, *sorted(refs))
        conn.pexpire(old, ttl)
        conn.delete(key)
        before[key.decode()] = (refs, ttl)
    return before


def test_migrate_moves_an_index_stored_as_sets_and_a_later_copy_finds_its_original(processor, conn, settings):
    original = post("o", 6, "water in the lower terrace", NAMELESS)
    processor.process(page([original], minutes_after=5))
    before = _to_set_layout(conn)
    assert before and not near_keys(conn)

    done = migrating.migrate(conn, KEYS, batch=7)  # several script calls
    assert (done.moved, done.merged, done.refs) == (len(before), 0, len(before))
    assert done.scanned > done.moved  # the name and recent-post sets were looked at, left alone
    for key, (refs, ttl) in before.items():
        assert near_refs(conn.get(key))[0] == refs
        assert ttl - 2000 <= conn.pttl(key) <= ttl
    assert not conn.exists(*[k.replace(":dup:", ":lsh:", 1) for k in before])
    assert migrating.migrate(conn, KEYS).moved == 0  # nothing left to move

    copy = post("s", 7, "flooding in the terrace", NAMELESS + " more soon.", blog="coast")
    fresh = DocumentProcessor(conn, settings, PlainEnricher())  # no candidates cached from before
    fresh.process(page([copy], minutes_after=5, blog="coast"))
    events = created(conn)
    assert events[copy.title]["repeat_of"] == events[original.title]["post"]["id"]


def test_without_the_migration_a_repost_of_an_earlier_post_is_not_found(conn, settings):
    """Why the command exists: a worker of the string layout does not read the old sets."""
    processor = DocumentProcessor(conn, settings, PlainEnricher())
    original = post("o", 6, "water in the lower terrace", NAMELESS)
    processor.process(page([original], minutes_after=5))
    _to_set_layout(conn)
    copy = post("s", 7, "flooding in the terrace", NAMELESS + " more soon.", blog="coast")
    fresh = DocumentProcessor(conn, settings, PlainEnricher())  # no candidates cached from before
    fresh.process(page([copy], minutes_after=5, blog="coast"))
    assert created(conn)[copy.title]["repeat_of"] is None


def test_migrate_merges_into_a_string_a_new_worker_already_wrote_and_keeps_the_longer_ttl(conn):
    old, new = f"{KEYS.prefix}:lsh:7:abc", KEYS.near("7:abc")
    conn.sadd(old, "b|1", "b|2")
    conn.pexpire(old, 50_000)
    conn.set(new, json.dumps("b|2") + "," + json.dumps("c|3"), px=90_000)
    conn.sadd(f"{KEYS.prefix}:lsh:n:keldby", "b|1")  # a name bucket: the same in both layouts
    done = migrating.migrate(conn, KEYS)
    assert (done.moved, done.merged, done.refs) == (1, 1, 1)
    assert near_refs(conn.get(new))[0] == {"b|1", "b|2", "c|3"}
    assert 85_000 < conn.pttl(new) <= 90_000
    assert not conn.exists(old) and conn.smembers(f"{KEYS.prefix}:lsh:n:keldby") == {b"b|1"}


def test_migrate_dry_run_changes_nothing_and_another_prefix_is_left_alone(conn):
    conn.sadd(f"{KEYS.prefix}:lsh:7:abc", "b|1")
    conn.sadd("other:lsh:7:abc", "b|1")
    assert migrating.migrate(conn, KEYS, dry_run=True).moved == 1
    assert conn.type(f"{KEYS.prefix}:lsh:7:abc") == b"set" and not conn.exists(KEYS.near("7:abc"))
    assert migrating.migrate(conn, KEYS).moved == 1
    assert conn.type("other:lsh:7:abc") == b"set"


def test_liveblog_migrate_command(conn, redis_url):
    from tests.conftest import run_cli

    conn.sadd(f"{KEYS.prefix}:lsh:7:abc", "b|1")
    dry = run_cli("migrate", "--dry-run", "--json", redis_url=redis_url)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout) == {"scanned": 1, "moved": 1, "merged": 0, "refs": 0, "skipped": 0, "dry_run": True}
    done = run_cli("migrate", redis_url=redis_url)
    assert done.returncode == 0, done.stderr
    assert b"moved 1 near-duplicate sets to strings" in done.stdout
    assert near_refs(conn.get(KEYS.near("7:abc")))[0] == {"b|1"}


def test_migrate_leaves_a_set_whose_new_key_is_not_a_bucket_string_and_says_so(conn, redis_url):
    from tests.conftest import run_cli

    conn.sadd(f"{KEYS.prefix}:lsh:7:abc", "b|1")
    conn.sadd(KEYS.near("7:abc"), "not a string")  # WRONGTYPE for GET
    conn.sadd(f"{KEYS.prefix}:lsh:7:def", "b|2")
    conn.set(KEYS.near("7:def"), "{not json")
    conn.sadd(f"{KEYS.prefix}:lsh:7:fed", "b|3")  # a good one in the same batch still moves
    done = migrating.migrate(conn, KEYS)
    assert (done.moved, done.skipped) == (1, 2)
    assert conn.type(f"{KEYS.prefix}:lsh:7:abc") == b"set" and conn.type(f"{KEYS.prefix}:lsh:7:def") == b"set"
    assert conn.get(KEYS.near("7:def")) == b"{not json"
    assert near_refs(conn.get(KEYS.near("7:fed")))[0] == {"b|3"}
    cli = run_cli("migrate", redis_url=redis_url)
    assert cli.returncode == 1
    assert b"left 2 sets in place: expected their liveblog:dup:... key to be absent or a string" in cli.stderr
