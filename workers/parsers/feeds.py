"""RSS 2.0 and Atom feeds, read with feedparser: one post per item or entry.

The item's ``guid`` (Atom: ``id``) is the source post id, so an item whose title
is edited between polls keeps its key and becomes an update. Atom ``updated``
(or ``atom:updated`` inside RSS) is the edit time. Times are read from the feed's
own strings, so a naive time is read in the blog's zone rather than assumed UTC.
Not well-formed XML is rejected: feedparser's lenient recovery would turn a
truncated download into a feed that silently lost its last posts.
"""

from __future__ import annotations

import email.utils
import io
import time
from datetime import datetime, timezone

import feedparser

from schemas.documents import RawDocument
from schemas.errors import InputRejected
from schemas.posts import BlogMeta, ParsedDocument
from workers import stamps
from workers.parsers._common import (
    Draft, Extracted, assemble, author_name, html_fragment_to_paragraphs, html_to_text, http_url,
    source_url, text_to_paragraphs, tidy, to_utc,
)

EXPECTED = "an RSS 2.0 or Atom feed with at least one <item> or <entry>"
HTML_TYPES = ("text/html", "application/xhtml+xml")


def parse(raw: RawDocument, body: str) -> ParsedDocument:
    feed = _read(raw, body)
    base = http_url(feed.feed.get("link"), None) or source_url(raw)
    warnings: list[str] = []
    drafts = []
    for entry in feed.entries:
        try:
            drafts.append(_draft(entry, raw, base))
        except InputRejected as exc:
            warnings.append(f"skipped entry {entry.get('id') or entry.get('title')!r:.80}: {exc}")
    posts, dropped = assemble(raw, drafts, expected=EXPECTED)
    return ParsedDocument(format="rss", blog=_blog_meta(raw, feed.feed, base), posts=posts, warnings=warnings + dropped)


def _read(raw: RawDocument, body: str) -> feedparser.FeedParserDict:
    """Parse from memory only: a string would let feedparser fetch URLs or open local files.

    The body is already decoded text, so the HTTP-style charset overrides whatever
    the XML declaration claims.
    """
    headers = {"content-type": "application/xml; charset=utf-8"}
    if source_url(raw):
        headers["content-location"] = raw.source
    feed = feedparser.parse(io.BytesIO(body.encode("utf-8")), response_headers=headers)
    problem = feed.get("bozo_exception")
    if feed.get("bozo") and not isinstance(problem, feedparser.CharacterEncodingOverride):
        raise InputRejected("invalid XML", expected="a well-formed RSS 2.0 or Atom document",
                            found=f"{type(problem).__name__}: {problem}")
    if not feed.get("version"):
        raise InputRejected("not a feed", expected="an <rss> or Atom <feed> root element",
                            found="XML that feedparser recognises as neither")
    if not feed.entries:
        raise InputRejected("no posts", expected=EXPECTED,
                            found=f"a {feed.version} feed titled {feed.feed.get('title')!r:.80} with no items")
    return feed


def _draft(entry: feedparser.FeedParserDict, raw: RawDocument, base: str | None) -> Draft:
    published = _time(entry, "published", raw)
    updated = _time(entry, "updated", raw)
    if published is None and updated is None:
        raise InputRejected("undated entry", expected="<pubDate>, <published> or <updated>", found="none")
    return Draft(
        title=_text(entry.get("title_detail"), entry.get("title")),
        body=_body(entry, base),
        published_at=published or updated,
        updated_at=updated if published else None,
        author=_author(entry),
        url=http_url(entry.get("link"), base),
        source_id=(entry.get("id") or entry.get("link") or "").strip() or None,
    )


def _author(entry: feedparser.FeedParserDict) -> str | None:
    """RSS ``<author>`` is "email (Name)"; feedparser splits that wrongly for long TLDs
    (".example" -> name "ple (Name"), so the raw string is read with the email module.
    A bare address is not a byline."""
    raw = entry.get("author")
    if isinstance(raw, str) and "@" in raw:
        return author_name(email.utils.parseaddr(raw)[0])
    return author_name(entry.get("authors")) or author_name(raw)


def _time(entry: feedparser.FeedParserDict, key: str, raw: RawDocument) -> datetime | None:
    """The feed's own string first (naive -> blog zone); feedparser's UTC reading as a fallback."""
    text = dict.get(entry, key)  # plain dict access: FeedParserDict would alias updated -> published
    if not text:
        return None
    try:
        return to_utc(text, stamps.zone(raw.options.tz), what=key)
    except InputRejected:
        parsed: time.struct_time | None = dict.get(entry, f"{key}_parsed")
        if parsed is None:
            raise
        return datetime(*parsed[:6], tzinfo=timezone.utc)


def _body(entry: feedparser.FeedParserDict, base: str | None) -> Extracted:
    """Full content (content:encoded, Atom content) when given, else the summary/description."""
    detail = (entry.get("content") or [None])[0] or entry.get("summary_detail")
    if not detail or not detail.get("value"):
        return Extracted()
    if detail.get("type") in HTML_TYPES:
        return html_fragment_to_paragraphs(detail["value"], base_url=base)
    return text_to_paragraphs(detail["value"])


def _text(detail: dict | None, value: str | None) -> str:
    if detail and detail.get("type") in HTML_TYPES:
        return tidy(html_to_text(value or ""))
    return tidy(value)


def _blog_meta(raw: RawDocument, feed: feedparser.FeedParserDict, base: str | None) -> BlogMeta:
    subtitle = _text(feed.get("subtitle_detail"), feed.get("subtitle"))
    return BlogMeta(
        id=raw.blog_id,
        title=_text(feed.get("title_detail"), feed.get("title")) or None,
        url=base,
        standfirst=subtitle or None,
    )
