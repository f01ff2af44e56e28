"""Plain-text live blogs, as copied from a live page.

Layout: a headline, standfirst paragraphs and an optional "Key Points" list;
then posts, each a title line, a stamp line ("12:31 , Author", "Thursday 27
January 2022 21:10 , Author", "9.05pm"), and body paragraphs. A post's title
is the last non-blank line above its stamp; its body runs to the next post's
title.
"""

from __future__ import annotations

import re
from collections import Counter

from schemas.documents import RawDocument
from schemas.errors import InputRejected
from schemas.posts import BlogMeta, ParsedDocument, ParsedPost, RelatedLink
from workers import stamps
from workers.identity import normalized_title, post_key
from workers.normalize import clean_text, split_body
from workers.parsers._common import repair_text

KEY_POINTS = re.compile(
    r"^(?:key\s+points|key\s+events|puntos\s+clave|lo\s+más\s+importante|points?\s+clés|das\s+wichtigste)\s*:?$",
    re.IGNORECASE,
)
BULLET = re.compile(r"^\s*[•·\-\*▪●]\s*")


def parse(raw: RawDocument, body: str) -> ParsedDocument:
    lines = clean_text(repair_text(body)).split("\n")
    found = [(i, s) for i, line in enumerate(lines) if line and (s := stamps.parse_stamp_line(line))]
    if not found:
        raise InputRejected(
            "no posts",
            expected="timestamped post lines such as '12:31 , Author' or 'Thursday 27 January 2022 21:10'",
            found=f"{sum(1 for ln in lines if ln)} non-blank lines and no stamp line",
        )
    title_rows = _title_rows(lines, [i for i, _ in found])
    blog = _blog_meta(raw, lines[: title_rows[0] if title_rows[0] is not None else found[0][0]])
    tz = stamps.zone(raw.options.tz)
    times = stamps.resolve(
        [s for _, s in found],
        tz=tz,
        reference_date=raw.options.date,
        newest_first=_newest_first([s for _, s in found]),
        fallback_now=raw.fetched_at,
    )
    chrono_rank = {page_index: rank for rank, page_index in enumerate(sorted(range(len(found)), key=lambda k: (times[k], -k)))}
    seen: Counter[tuple] = Counter()
    posts = []
    for k, (row, stamp) in enumerate(found):
        title_row = title_rows[k]
        title = lines[title_row] if title_row is not None else ""
        end = _next_start(k, found, title_rows, len(lines))
        body = split_body(lines[row + 1 : end])
        identity = (times[k], normalized_title(title))
        occurrence = seen[identity]
        seen[identity] += 1
        posts.append(
            ParsedPost(
                blog_id=raw.blog_id,
                post_id=post_key(raw.blog_id, source_id=None, published_at=times[k], title=title, occurrence=occurrence),
                position=chrono_rank[k],
                title=title,
                body=body.text,
                author=stamp.author,
                published_at=times[k],
                related_links=[RelatedLink(text=t) for t in body.related],
            )
        )
    return ParsedDocument(format="text", blog=blog, posts=posts)


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


def _next_start(k: int, found: list, title_rows: list[int | None], total: int) -> int:
    if k + 1 >= len(found):
        return total
    nxt = title_rows[k + 1]
    return nxt if nxt is not None else found[k + 1][0]


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
