"""Plain-text live blogs, as copied from a live page.

Layout: a headline, standfirst paragraphs and an optional "Key Points" list (also "Points clés",
"L'essentiel", "Das Wichtigste", "Puntos clave", "Punti chiave", "Principais pontos", ...: ``KEY_POINTS``);
then posts, each a title line, a stamp line ("12:31 , Author", "Thursday 27
January 2022 21:10 , Author", "9.05pm"), and body paragraphs. A post's title
is the last non-blank line above its stamp; its body runs to the next post's
title.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from schemas.documents import RawDocument
from schemas.errors import InputRejected
from schemas.posts import BlogMeta, ParsedDocument, ParsedPost, RelatedLink
from workers import stamps
from workers.identity import normalized_title, post_key
from workers.normalize import clean_text, split_body
from workers.parsers._common import repair_text

# the "Key Points" header, in the languages the stamps are read in (workers/stamps.py)
KEY_POINTS = re.compile(
    r"^(?:key\s+points|key\s+events"  # en
    r"|(?:les\s+)?points?\s+cl[ée]s|l['’]\s*essentiel"  # fr
    r"|das\s+wichtigste(?:\s+in\s+kürze)?"  # de
    r"|puntos\s+clave|lo\s+más\s+importante"  # es
    r"|punti\s+chiave"  # it
    r"|principais\s+pontos|pontos\s+principais|pontos[\s-]+chave)"  # pt
    r"\s*:?$",
    re.IGNORECASE,
)
MAX_POSTS = 20_000  # the same limit as workers.parsers.MAX_POSTS_PER_DOCUMENT (which imports this module)
BULLET = re.compile(r"^\s*[•·\-\*▪●]\s*")


def parse(raw: RawDocument, body: str) -> ParsedDocument:
    lines = clean_text(repair_text(body), nfc=True).split("\n")
    layout = _standalone_layout(lines) or _inline_layout(lines)
    if layout is None:
        raise InputRejected(
            "no posts",
            expected="timestamped post lines such as '12:31 , Author', 'Thursday 27 January 2022 21:10' "
            "or '9.05pm: Title'",
            found=f"{sum(1 for ln in lines if ln)} non-blank lines and no stamp line",
        )
    if len(layout) > MAX_POSTS:  # refuse before building 100,000 posts
        raise InputRejected("too many posts", expected=f"at most {MAX_POSTS:,} posts in one document",
                            found=f"{len(layout):,} stamp lines")
    blog = _blog_meta(raw, lines[: layout[0].start])
    tz = stamps.zone(raw.options.tz)
    # relative stamps ("5 minutes ago", "yesterday 21:05") counted from the fetch, before the
    # page's order is judged from the clock times
    found = stamps.pin([entry.stamp for entry in layout], now=raw.fetched_at, tz=tz)
    times = stamps.resolve(
        found,
        tz=tz,
        reference_date=raw.options.date,
        newest_first=_newest_first(found),
        fallback_now=raw.fetched_at,
    )
    bodies = {}
    for k, entry in enumerate(layout):
        end = layout[k + 1].start if k + 1 < len(layout) else len(lines)
        body_text, related = _body(tuple(lines[entry.body_start : end]))
        if entry.title or body_text:  # a stamp with neither title nor body is not a post
            bodies[k] = body_text, related
    if not bodies:
        raise InputRejected(
            "no posts",
            expected="stamp lines with a title above them or a body below them",
            found=f"{len(layout)} stamp lines, none with a title or a body",
        )
    chrono = sorted(bodies, key=lambda k: (times[k], -k))
    chrono_rank = {k: rank for rank, k in enumerate(chrono)}
    seen: Counter[tuple] = Counter()
    occurrences = {}
    # posts with a relative stamp are named by their title alone (their time moves from poll to
    # poll), numbered from the oldest so that new posts on top do not renumber them
    for k in [k for k in chrono if found[k].approx_s] + [k for k in bodies if not found[k].approx_s]:
        identity = ("~" if found[k].approx_s else times[k], normalized_title(layout[k].title))
        occurrences[k] = seen[identity]
        seen[identity] += 1
    posts = []
    for k, (body_text, related) in bodies.items():
        entry = layout[k]
        posts.append(
            ParsedPost(
                blog_id=raw.blog_id,
                post_id=post_key(
                    raw.blog_id, source_id=None, published_at=times[k], title=entry.title,
                    occurrence=occurrences[k], approximate=bool(found[k].approx_s),
                ),
                position=chrono_rank[k],
                title=entry.title,
                body=body_text,
                author=entry.stamp.author,
                published_at=times[k],
                published_approx_s=found[k].approx_s,
                related_links=[RelatedLink(text=t) for t in related],
            )
        )
    skipped = len(layout) - len(posts)
    warnings = [f"skipped {skipped} stamp line{'s' * (skipped != 1)} with neither title nor body"] if skipped else []
    return ParsedDocument(format="text", blog=blog, posts=posts, warnings=warnings)


@lru_cache(maxsize=2048)
def _body(lines: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """A post's body text and related-link lines. Cached by the lines themselves: a re-polled
    page shows the same posts again, and sorting paragraphs from credits is regex work."""
    body = split_body(list(lines))
    return body.text, tuple(body.related)


@dataclass(frozen=True)
class _Entry:
    """Where one post sits in the page: its first line, its stamp, its title, its body's first line."""

    start: int
    stamp: stamps.Stamp
    title: str
    body_start: int


def _standalone_layout(lines: list[str]) -> list[_Entry] | None:
    """Title line, then the stamp on a line of its own (the common copy-paste layout)."""
    found = [(i, s) for i, line in enumerate(lines) if line and (s := stamps.parse_stamp_line(line))]
    if not found:
        return None
    rows = _title_rows(lines, [i for i, _ in found])
    return [
        _Entry(start=row if row is not None else i, stamp=s, title=lines[row] if row is not None else "", body_start=i + 1)
        for (i, s), row in zip(found, rows)
    ]


def _inline_layout(lines: list[str]) -> list[_Entry] | None:
    """The stamp opens the title line ("9.05pm: Polls close"): used only when no line is a bare stamp,
    so a body sentence that starts with a time never splits a post of the common layout."""
    entries = []
    for i, line in enumerate(lines):
        found = stamps.parse_inline_stamp(line) if line else None
        if found:
            entries.append(_Entry(start=i, stamp=found[0], title=found[1], body_start=i + 1))
    return entries or None


def _title_rows(lines: list[str], stamp_rows: list[int]) -> list[int | None]:
    """The last non-blank line above each stamp, if it is below the previous stamp."""
    rows: list[int | None] = []
    previous = -1
    for row in stamp_rows:
        j = row - 1
        while j > previous and not lines[j]:
            j -= 1
        rows.append(j if j > previous else None)
        previous = row
    return rows


def _newest_first(found: list[stamps.Stamp]) -> bool:
    """Live blogs are newest first; trust the stamps when they say otherwise."""
    keys = [(s.day, s.hour, s.minute) for s in found if s.day is not None]
    if len(keys) >= 2 and keys[0] != keys[-1]:
        return keys[0] > keys[-1]
    # Compare each step on the 24-hour circle: 23:35 -> 00:10 is 35 minutes forward.
    minutes = [s.hour * 60 + s.minute for s in found]
    steps = [(b - a) % 1440 for a, b in zip(minutes, minutes[1:]) if a != b]
    up = sum(1 for step in steps if step < 720)
    return len(steps) - up >= up


def _blog_meta(raw: RawDocument, head: list[str]) -> BlogMeta:
    blocks = [ln for ln in head if ln]
    if not blocks:
        return BlogMeta(id=raw.blog_id, url=_url(raw.source))
    title, rest = blocks[0], blocks[1:]
    standfirst: list[str] = []
    key_points: list[str] = []
    in_points = False
    for line in rest:
        if KEY_POINTS.match(line):
            in_points = True
        elif in_points:
            key_points.append(BULLET.sub("", line))
        else:
            standfirst.append(line)
    return BlogMeta(
        id=raw.blog_id,
        title=title,
        url=_url(raw.source),
        standfirst="\n\n".join(standfirst) or None,
        key_points=key_points,
    )


def _url(source: str) -> str | None:
    return source if source.startswith(("http://", "https://")) else None
