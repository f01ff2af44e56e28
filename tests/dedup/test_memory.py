"""Bounded state, measured: Redis memory of dedup and story state per 1,000 posts.

Run with ``-s`` to see the numbers (docs/dedup.md quotes them). Streams and document
markers are deleted before measuring: they are bounded by stream MAXLEN, not by dedup.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from schemas.documents import ParseOptions, RawDocument
from tests.helpers import PlainEnricher
from workers.dedup.corpus import Post, render_page
from workers.pipeline import DocumentProcessor

pytestmark = pytest.mark.redis
POSTS = 1000
PER_PAGE = 25
WORDS = ("river council police school road crews homes power storm minister station bridge market hospital "
         "volunteers rescue engineers morning evening warning families village harbour ferry train").split()
NAMES = ["Ana Holt", "Priya Lund", "Tomas Berg", "Grey Ford", "Thorn Gill", "Mill Row", "Keldby", "Brannick"]


def _post(rng: random.Random, n: int, at: datetime) -> Post:
    """A distinct post of about 80 words with a name, a number and a quote, like a real one."""
    words = " ".join(rng.choice(WORDS) for _ in range(70))
    quote = " ".join(rng.choice(WORDS) for _ in range(10))
    body = f"{rng.choice(NAMES)} said {rng.randint(100, 99999)} {words}. “{quote},” she said."
    return Post(id=str(n), blog=f"blog{n % 5}", time=at, title=f"Update {n} on the {rng.choice(WORDS)}",
                body=body, author="Desk", story=str(n))


def _dedup_keys_memory(conn) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in conn.scan_iter("liveblog:*", count=1000):
        kind = ("lsh" if b":lsh:" in key else "story" if b":story:" in key else "post" if b":post:" in key
                else "index" if key.endswith(b":posts") else "other")
        out[kind] = out.get(kind, 0) + (conn.memory_usage(key, samples=0) or 0)
    return out


def test_memory_per_thousand_posts_is_bounded(conn, settings):
    rng = random.Random(7)
    start = datetime(2025, 3, 2, tzinfo=timezone.utc)
    processor = DocumentProcessor(conn, settings, PlainEnricher())
    before = conn.info("memory")["used_memory"]
    posts = [_post(rng, n, start + timedelta(minutes=n)) for n in range(POSTS)]
    for blog in {p.blog for p in posts}:
        mine = [p for p in posts if p.blog == blog]
        for i in range(0, len(mine), PER_PAGE):
            chunk = mine[i : i + PER_PAGE]
            processor.process(RawDocument.from_bytes(
                render_page(blog, chunk).encode(), blog_id=blog, source=blog, fetched_at=chunk[-1].time,
                options=ParseOptions(format="text", tz="UTC")))
    for key in [*conn.scan_iter("liveblog:*events"), *conn.scan_iter("liveblog:*:doc:*")]:
        conn.delete(key)
    after = conn.info("memory")["used_memory"]
    by_kind = _dedup_keys_memory(conn)
    per_thousand = (after - before) * 1000 / POSTS
    print(f"\nused_memory delta per 1,000 posts: {per_thousand / 1024:.0f} KiB "
          f"(per million: {per_thousand * 1000 / 2**30:.2f} GiB); MEMORY USAGE by kind (bytes/post): "
          + ", ".join(f"{k} {v / POSTS:.0f}" for k, v in sorted(by_kind.items())))
    assert int(conn.hget("liveblog:stats", "posts_created")) == POSTS
    assert per_thousand < 20 * 2**20, "dedup state grew past 20 MiB per 1,000 posts (docs/dedup.md says ~13)"
