"""The labelled dedup corpus (samples/gold/dedup/events.json) as polled pages.

events.json holds written events, each a post in a home blog plus the variants a
newsroom produces: a re-post hours later with a new intro, syndicated copies in other
blogs, follow-ups that belong to the same story without repeating it, body edits and
take-downs. Every post carries its gold labels: ``story`` (the event) and ``repeat_of``
(the corpus id of the earliest copy it repeats, or None).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from schemas.documents import ParseOptions, RawDocument

CORPUS = Path(__file__).resolve().parents[2] / "samples" / "gold" / "dedup" / "events.json"
POLL_DELAY = timedelta(minutes=4)


@dataclass(frozen=True)
class Post:
    id: str
    blog: str
    time: datetime
    title: str
    body: str
    author: str
    story: str
    repeat_of: str | None = None
    edit: tuple[str, str] | None = None  # (old, new) text, shown from two polls after the post
    retract_after_polls: int | None = None  # gone from the page this many polls after it appeared


@dataclass
class Corpus:
    blogs: dict[str, str]
    posts: list[Post] = field(default_factory=list)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def _intro_swap(body: str, intro: str) -> str:
    """A re-post: the new intro replaces the first sentence of the original."""
    first, _, rest = body.partition(". ")
    return f"{intro}\n\n{rest}" if rest else intro


def load(path: Path = CORPUS) -> Corpus:
    raw = json.loads(path.read_text(encoding="utf-8"))
    corpus = Corpus(blogs=raw["blogs"])
    for ev in raw["events"]:
        base = Post(id=ev["id"], blog=ev["blog"], time=_time(ev["time"]), title=ev["title"], body=ev["body"],
                    author=ev.get("author", "Staff"), story=ev.get("story", ev["id"]),
                    edit=tuple(ev["edit"]) if ev.get("edit") else None, retract_after_polls=ev.get("retract_after"))
        corpus.posts.append(base)
        for n, rp in enumerate(ev.get("reposts", []), 1):
            corpus.posts.append(replace(base, id=f"{base.id}-r{n}", blog=rp.get("blog", base.blog), time=_time(rp["time"]),
                                        title=rp["title"], body=_intro_swap(base.body, rp["intro"]),
                                        repeat_of=base.id, edit=None, retract_after_polls=None))
        for n, sy in enumerate(ev.get("syndicated", []), 1):
            body = base.body + ("\n\n" + sy["tail"] if sy.get("tail") else "")
            corpus.posts.append(replace(base, id=f"{base.id}-s{n}", blog=sy["blog"], time=_time(sy["time"]),
                                        title=sy.get("title", base.title), body=body, author=sy.get("author", "Agency"),
                                        repeat_of=base.id, edit=None, retract_after_polls=None))
        for n, fu in enumerate(ev.get("followups", []), 1):
            corpus.posts.append(Post(id=f"{base.id}-f{n}", blog=fu.get("blog", base.blog), time=_time(fu["time"]),
                                     title=fu["title"], body=fu["body"], author=fu.get("author", base.author),
                                     story=base.story))
    return corpus


def render_page(headline: str, posts: list[Post], edited: set[str] = frozenset()) -> str:
    """A text live page, newest post first, with full-date stamps."""
    parts = [headline, ""]
    for p in sorted(posts, key=lambda p: (p.time, p.id), reverse=True):
        body = p.body.replace(*p.edit) if p.edit and p.id in edited else p.body
        stamp = f"{p.time.day} {p.time:%B %Y %H:%M} , {p.author}"
        parts += [p.title, "", stamp, "", body, ""]
    return "\n".join(parts)


def polls(corpus: Corpus) -> list[RawDocument]:
    """Every blog polled after each of its posts appears (plus an unchanged re-poll every
    third time), all blogs interleaved by fetch time: the order a worker pool would see."""
    docs: list[tuple[datetime, str, RawDocument]] = []
    for blog, headline in corpus.blogs.items():
        timeline = sorted((p for p in corpus.posts if p.blog == blog), key=lambda p: (p.time, p.id))
        for k, newest in enumerate(timeline):
            visible = [p for j, p in enumerate(timeline[: k + 1]) if _shown(p, k - j)]
            edited = {p.id for j, p in enumerate(timeline[: k + 1]) if k - j >= 2}
            page = render_page(headline, visible, edited).encode("utf-8")
            fetched = newest.time + POLL_DELAY
            docs.append((fetched, blog, _document(page, blog, fetched)))
            if k % 3 == 2:
                docs.append((fetched + POLL_DELAY, blog, _document(page, blog, fetched + POLL_DELAY)))
    return [d for _, _, d in sorted(docs, key=lambda t: (t[0], t[1]))]


def _shown(post: Post, polls_since: int) -> bool:
    return post.retract_after_polls is None or polls_since < post.retract_after_polls


def _document(page: bytes, blog: str, fetched: datetime) -> RawDocument:
    return RawDocument.from_bytes(page, blog_id=blog, source=f"{blog}.txt", fetched_at=fetched,
                                  options=ParseOptions(format="text", tz="UTC"))
