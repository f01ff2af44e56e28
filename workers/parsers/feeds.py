"""RSS 2.0 and Atom feeds, read with feedparser: one post per item or entry.

The item's ``guid`` (Atom: ``id``) is the source post id, so an item whose title
is edited between polls keeps its key and becomes an update. Atom ``updated``
(or ``atom:updated`` inside RSS) is the edit time. Times are read from the feed's
own strings, so a naive time is read in the blog's zone rather than assumed UTC.
Not well-formed XML is rejected: feedparser's lenient recovery would turn a
truncated download into a feed that silently lost its last posts.
"""

from __future__ import annotations

import bisect
import email.utils
import io
import re
from datetime import datetime

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
_CHAR_REF = re.compile(r"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")
_ENTITY_DECLARATION = re.compile(r"<!ENTITY\s+(?:%\s+)?[^\s>]{0,40}")
_QUOTED = r"""(?:"[^"]*+"|'[^']*+')"""
# A doctype's internal subset ("[ ... ]"), whose declarations may quote ">" or hold comments.
# Possessive quantifiers and atomic groups keep a failed match linear (as in workers.parsers).
_DOCTYPE_SUBSET = re.compile(
    rf"""(<!DOCTYPE(?>[^\["'>]|{_QUOTED})*+)
         (\[(?>[^\]"'<]|{_QUOTED}|<!--.*?-->|<(?>[^"'>]|{_QUOTED})*+>)*+\])
         (\s*>)""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)
_ELEMENT_START = re.compile(r"<[A-Za-z_]")
_LITERAL_SPANS = re.compile(r"<!\[CDATA\[.*?\]\]>|<!--.*?-->|<\?.*?\?>", re.DOTALL)  # where "&#…;" is just text


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
    if not drafts and warnings:  # say why each entry was skipped, not just that no post was found
        raise InputRejected("no posts", expected=EXPECTED, found="; ".join(warnings[:3]))
    posts, dropped = assemble(raw, drafts, expected=EXPECTED)
    return ParsedDocument(format="rss", blog=_blog_meta(raw, feed.feed, base), posts=posts, warnings=warnings + dropped)


def _read(raw: RawDocument, body: str) -> feedparser.FeedParserDict:
    """Parse from memory only: a string would let feedparser fetch URLs or open local files.

    The body is already decoded text, so the HTTP-style charset overrides whatever
    the XML declaration claims.
    """
    _refuse_entity_declarations(body)
    _refuse_invalid_char_refs(body)
    body = _without_internal_subset(body)
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


def _refuse_entity_declarations(body: str) -> None:
    """Reject a DTD entity declaration by name. Feeds have no use for one, expat refuses to expand
    a "billion laughs" chain, and feedparser, which rewrites the doctype before parsing, turns
    any declaration into "undefined entity" or "syntax error" on XML that is well-formed."""
    if "<!ENTITY" not in body:
        return
    literal = [m.span() for m in _LITERAL_SPANS.finditer(body)]
    starts = [start for start, _ in literal]
    for declaration in _ENTITY_DECLARATION.finditer(body):
        k = bisect.bisect_right(starts, declaration.start()) - 1
        if k >= 0 and declaration.start() < literal[k][1]:
            continue  # in a comment or CDATA section: text
        line = body.count("\n", 0, declaration.start()) + 1
        column = declaration.start() - (body.rfind("\n", 0, declaration.start()) + 1)
        raise InputRejected(
            "entity declarations are not allowed",
            expected="an RSS 2.0 or Atom document without <!ENTITY> declarations",
            found=f"an entity declaration {declaration.group(0)!r} at line {line}, column {column}",
        )


def _without_internal_subset(body: str) -> str:
    """The body without its doctype's internal subset; the subset's line breaks move after the
    doctype, so expat's line numbers still point into the document as sent.

    Once no <!ENTITY> is left in it, the subset's declarations (<!ELEMENT>, <!ATTLIST>,
    <!NOTATION>, comments) change nothing a feed reader reads, so they are ignored. feedparser
    cannot be left to do it: it cuts the doctype at its first ">", which in a subset is the end of
    the first declaration, and the rest ("<!ATTLIST ...> ]>") became "syntax error" on well-formed
    XML. A doctype without a subset (RSS 0.91's public DTD) is left as it is."""
    if "[" not in body:
        return body
    match = _DOCTYPE_SUBSET.search(body)
    if match is None or _ELEMENT_START.search(body, 0, match.start()):  # only a doctype before the root element
        return body
    line_breaks = "\n" * match.group(2).count("\n")
    return body[: match.start(2)] + match.group(3) + line_breaks + body[match.end(3) :]


def _refuse_invalid_char_refs(body: str) -> None:
    """Reject a character reference to something that is not an XML character, as expat does.

    expat already refuses ``&#0;`` or ``&#xFFFE;`` (the feed is then "invalid XML", with its
    line and column), but feedparser then retries with its lenient parser, which raises on a
    surrogate (``&#xD800;``: UnicodeEncodeError) or a number beyond U+10FFFF (ValueError,
    OverflowError). The XML 1.0 rule is the same for all of them, so they are all refused
    here, before feedparser, with the same reason. References inside CDATA sections,
    comments and processing instructions are text, not references, and pass.
    """
    if "&#" not in body:
        return
    bad = [m for m in _CHAR_REF.finditer(body) if not _is_xml_char(_code_point(m))]
    if not bad:
        return
    literal = [m.span() for m in _LITERAL_SPANS.finditer(body)]
    starts = [start for start, _ in literal]
    for ref in bad:
        k = bisect.bisect_right(starts, ref.start()) - 1
        if k >= 0 and ref.start() < literal[k][1]:
            continue
        code = _code_point(ref)
        what = ("a UTF-16 surrogate, not a character" if code is not None and 0xD800 <= code <= 0xDFFF
                else "beyond U+10FFFF" if code is None or code > 0x10FFFF else "not an XML character")
        line = body.count("\n", 0, ref.start()) + 1
        column = ref.start() - (body.rfind("\n", 0, ref.start()) + 1)  # from 0, as expat counts
        raise InputRejected(
            "invalid XML",
            expected="a well-formed RSS 2.0 or Atom document (character references to XML characters only)",
            found=f"reference to invalid character number {ref.group(0)[:24]} ({what}) at line {line}, column {column}",
        )


def _code_point(ref: re.Match[str]) -> int | None:
    """The number a character reference names; None when it is far beyond Unicode."""
    hex_digits, decimal = ref.group(1), ref.group(2)
    digits = (hex_digits or decimal).lstrip("0") or "0"
    if len(digits) > 8:  # more than U+10FFFF in either base, and int() refuses 4,300+ digits
        return None
    return int(digits, 16 if hex_digits else 10)


def _is_xml_char(code: int | None) -> bool:
    """XML 1.0's Char production: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]."""
    return code is not None and (code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD
                                 or 0x10000 <= code <= 0x10FFFF)


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
    """The feed's own string, read as every format reads times (naive -> blog zone).

    feedparser's own reading (``published_parsed``) is not a fallback: it turns an invalid date
    into another one (month 13 of 2024 is January 2025, an offset of +9999 moves the post four
    days, year 0001 is 2001) or into a year past 9999. A date that ``to_utc`` refuses is an
    invalid date, named in the entry's warning.
    """
    text = dict.get(entry, key)  # plain dict access: FeedParserDict would alias updated -> published
    if not text:
        return None
    return to_utc(text, stamps.zone(raw.options.tz), what=key)


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
