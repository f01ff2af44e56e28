"""Helpers shared by the structured-format parsers (HTML, feeds, JSON).

Every structured format ends the same way: some text that may carry mojibake,
a time in some notation, a body given as HTML or plain text, and a list of
posts that needs stable keys and chronological positions. Doing those four
things in one place keeps the formats consistent with each other and with the
text parser (same body shape, same position rule, same post keys).
"""

from __future__ import annotations

import email.utils
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from numbers import Real
from urllib.parse import urljoin, urlsplit

import ftfy
from dateutil import parser as dateparser
from selectolax.lexbor import LexborHTMLParser, LexborNode

from schemas.documents import RawDocument
from schemas.errors import InputRejected
from schemas.posts import ParsedPost, RelatedLink
from workers.identity import normalized_title, post_key
from workers.normalize import clean_text, is_credit, is_link_intro, replace_lone_surrogates

# Conservative on purpose: fix encoding mix-ups (which are unambiguous once ftfy's
# heuristics fire) but leave typography and entities exactly as the author wrote them.
# UTF-8 read as Latin-1 or Windows-1252 always leaves a lead byte (Â..ô) followed by a
# continuation byte shown as Latin-1 or a cp1252 symbol, or a C1 control. Text without one
# cannot hold that kind of mojibake, so ftfy (about 3 ms per KB) runs only when it may help.
_C1_CONTROLS = "\u0080-\u009f"
_LEADS = "\u00c2-\u00f4"
_CONTINUATIONS = ("\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014"
                  "\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122")
_MOJIBAKE_HINT = re.compile(f"[{_C1_CONTROLS}]|[{_LEADS}][{_CONTINUATIONS}]")
_FIXER = ftfy.TextFixerConfig(
    uncurl_quotes=False,
    fix_character_width=False,
    fix_latin_ligatures=False,
    unescape_html=False,
    normalization="NFC",
    explain=False,
)


def _class_chars(spec: str) -> list[str]:
    """The characters of a regex character-class body made of characters and ``a-b`` ranges."""
    out, i = [], 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            out.extend(chr(c) for c in range(ord(spec[i]), ord(spec[i + 2]) + 1))
            i += 3
        else:
            out.append(spec[i])
            i += 1
    return out


def _utf8_alternation(spec: str) -> bytes:
    return b"(?:" + b"|".join(re.escape(c.encode("utf-8")) for c in _class_chars(spec)) + b")"


# _MOJIBAKE_HINT over the text's UTF-8 bytes. UTF-8 is a prefix code, so the hint matches at a
# character exactly when this matches at that character's first byte; every character a match
# can start with (U+0080-U+00F4) begins with one of _HINT_FIRST_BYTES, bytes that only ever open
# a character. bytes.find jumps between them at memchr speed, where a character-class scan of
# the text took ~8 ns a character (0.33 ms for a 40-post page, a quarter of its parse).
_MOJIBAKE_HINT_UTF8 = re.compile(_utf8_alternation(_C1_CONTROLS) + b"|" + _utf8_alternation(_LEADS)
                                 + _utf8_alternation(_CONTINUATIONS))
_HINT_FIRST_BYTES = tuple(sorted({c.encode("utf-8")[:1] for c in _class_chars(_C1_CONTROLS + _LEADS)}))

EPOCH_MAX_S = 32_503_680_000  # year 3000: larger numbers are milliseconds or garbage
MAX_HTML_DEPTH = 200


def repair_text(text: str) -> str:
    """Mojibake repaired (``â€”`` -> ``—``) when ftfy is sure, then Unicode NFC.

    Bidirectional marks and right-to-left text pass through untouched.
    """
    if may_hold_mojibake(text):
        text = ftfy.fix_text(text, _FIXER)
    return unicodedata.normalize("NFC", text)


def may_hold_mojibake(text: str) -> bool:
    """``bool(_MOJIBAKE_HINT.search(text))``, trying the hint only where one can start."""
    if text.isascii():
        return False
    data = text.encode("utf-8", "surrogatepass")  # a lone surrogate (ED ..) never opens a match
    for first in _HINT_FIRST_BYTES:
        at = data.find(first)
        while at >= 0:
            if _MOJIBAKE_HINT_UTF8.match(data, at):
                return True
            at = data.find(first, at + 1)
    return False


def tidy(text: str | None) -> str:
    """One line of display text (title, author, paragraph): repaired, spaces collapsed."""
    if not text:
        return ""
    return " ".join(clean_text(repair_text(text), nfc=True).split())


def load_json(text: str) -> object:
    """``json.loads`` with every string valid Unicode text.

    JSON may escape a lone UTF-16 surrogate (``"\\ud800"``, or a pair written in reverse);
    Python decodes it to a ``str`` that cannot be encoded as UTF-8, and hashing or publishing
    it would fail far from here. Each one (in values and keys alike) becomes U+FFFD, once, at
    the edge: the rest of the pipeline only ever sees encodable text. Raises what
    ``json.loads`` raises.
    """
    data = json.loads(text)
    if "\\u" in text and ("\\ud" in text or "\\uD" in text):  # only an escape can make a surrogate
        data = _without_surrogates(data)
    return data


def _without_surrogates(value: object) -> object:
    """Lone surrogates replaced in a decoded JSON value, in place, without recursion (the value
    may be as deep as the decoder allowed)."""
    if isinstance(value, str):
        return replace_lone_surrogates(value)
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            for i, item in enumerate(node):
                if isinstance(item, str):
                    node[i] = replace_lone_surrogates(item)
                elif isinstance(item, list | dict):
                    stack.append(item)
        elif isinstance(node, dict):
            items = list(node.items())
            node.clear()
            for key, item in items:
                if isinstance(item, str):
                    item = replace_lone_surrogates(item)
                elif isinstance(item, list | dict):
                    stack.append(item)
                node[replace_lone_surrogates(key)] = item
    return value


# --------------------------------------------------------------------------- time


def to_utc(value: object, tz: tzinfo, *, what: str = "time") -> datetime:
    """A UTC-aware datetime from the notations feeds and APIs use.

    Accepts ISO 8601 / RFC 3339 strings, RFC 822 strings (RSS), epoch seconds
    (int, float or a numeric string), ``[Y, M, D, h, m(, s)]`` lists and datetimes.
    Times with an offset are converted; naive ones are read in ``tz`` (the blog's zone).
    """
    try:
        moment = _to_datetime(value)
        if moment is None:
            raise ValueError("unrecognised notation")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError, TypeError) as exc:
        raise InputRejected(
            f"invalid {what}",
            expected="an ISO 8601 or RFC 822 string, epoch seconds, or a [Y, M, D, h, m] list",
            found=f"{value!r:.80} ({exc})",
        ) from exc


def _to_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, Real):
        return _from_epoch(float(value))
    if isinstance(value, list | tuple):
        return _from_parts(value)
    if isinstance(value, str):
        return _from_string(value.strip())
    return None


def _from_epoch(seconds: float) -> datetime:
    if seconds.is_integer() and 1000 <= seconds <= 9999:  # "2025" was read as 33 minutes past the 1970 epoch
        raise ValueError(f"a year alone ({seconds:.0f}) is not a time: expected a full date, or epoch seconds")
    if not 0 <= seconds <= EPOCH_MAX_S:
        raise ValueError("epoch seconds out of range (milliseconds are not accepted)")
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _from_parts(parts: list | tuple) -> datetime:
    if not 3 <= len(parts) <= 6 or not all(isinstance(p, int) and not isinstance(p, bool) for p in parts):
        raise ValueError("expected 3 to 6 integers [Y, M, D, h, m, s]")
    return datetime(*parts)


# ISO 8601 with a space before its zone ("2025-07-12 09:00:00 +0100", "...T09:00:00 Z"), as some feeds write it
_SPACED_ZONE = re.compile(r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s+(Z|[+-]\d{2}(?::?\d{2})?)")
_ISO_SHAPE = re.compile(r"[+-]?\d{4}-\d{2}")  # an ISO 8601 calendar date: never read any other way
_RFC822_DATE_ONLY = re.compile(r"(?:[A-Za-z]+,\s*)?\d{1,2}\s+[A-Za-z]+\s+\d{4}")  # "Sat, 12 Jul 2025": midnight
_COLON_OFFSET = re.compile(r"(\d:\d{2}\s+[+-]\d{2}):(\d{2})$")  # "09:00:00 +01:00" -> "09:00:00 +0100"
_STANDALONE_NUMBER = re.compile(r"(?<![\w:+-])\d+(?![\w:])")  # day or year; not a time part, not an offset


def _from_string(text: str) -> datetime | None:
    """None when the notation is unrecognised; ValueError naming the problem when it is recognised
    (ISO 8601 or RFC 822) but not a valid time: a month 13, a 31 February, an offset of 99 hours."""
    if not text:
        return None
    if text.lstrip("-").replace(".", "", 1).isdigit():
        return _from_epoch(float(text))
    iso = _SPACED_ZONE.fullmatch(text)
    try:
        return dateparser.isoparse(f"{iso[1]}{iso[2]}" if iso else text)
    except ValueError:
        if iso or _ISO_SHAPE.match(text):
            raise
    return _from_rfc822(text)


def _from_rfc822(text: str) -> datetime | None:
    """RFC 822 / 2822 (RSS ``pubDate``) read by ``email.utils`` (no zone, ``-0000`` or an unknown zone
    name: naive), but a field it would misread or cannot hold is an error, not another date."""
    if _RFC822_DATE_ONLY.fullmatch(text):
        text += " 00:00:00"
    text = _COLON_OFFSET.sub(r"\1\2", text)  # "+01:00" would be dropped as an unknown zone name
    fields = email.utils.parsedate_tz(text)
    if fields is None:
        return None
    year = fields[0]
    for token in _STANDALONE_NUMBER.findall(text):
        if len(token) > 2 and int(token) < 100:  # email.utils reads "0001" as a two-digit year: 2001
            raise ValueError(f"year {token} is before year 100 (an RFC 822 reader would take it for {year})")
    if not -86_400 < (fields[9] or 0) < 86_400:
        raise ValueError(f"UTC offset {text.split()[-1]} is beyond 24 hours")
    return email.utils.parsedate_to_datetime(text)  # ValueError: "day is out of range for month", ...


# --------------------------------------------------------------------------- bodies


@dataclass
class Extracted:
    """A post body as the formats give it: prose paragraphs and "read more" links."""

    paragraphs: list[str] = field(default_factory=list)
    related: list[RelatedLink] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


SKIP_TAGS = frozenset(
    "script style noscript template svg math iframe object embed figure figcaption picture video audio "
    "canvas img button form input select textarea nav head title meta link base aside".split()
)
INLINE_TAGS = frozenset(
    "a abbr b bdi bdo cite code data dfn em i kbd mark q s samp small span strong sub sup time u var wbr "
    "del ins font label".split()
)
SKIP_CLASSES = frozenset({"caption", "credit", "image-credit", "photo-credit", "visually-hidden", "sr-only"})


def is_hidden(node: LexborNode) -> bool:
    """Elements a reader never sees as prose: markup for pictures, scripts, hidden helpers."""
    if node.tag in SKIP_TAGS:
        return True
    attrs = node.attributes
    if "hidden" in attrs or attrs.get("aria-hidden") == "true":
        return True
    return bool(SKIP_CLASSES.intersection((attrs.get("class") or "").lower().split()))


class _Paragraphs:
    """Walks an element tree into paragraphs; block elements and <br> end a paragraph."""

    def __init__(self, base_url: str | None, exclude: set[int]) -> None:
        self.base_url = base_url
        self.exclude = exclude
        self.out = Extracted()
        self.buffer: list[str] = []
        self.links: list[str] = []
        self.link_text: list[str] = []

    def walk(self, node: LexborNode, depth: int = 0) -> None:
        for child in node.iter(include_text=True):
            if child.tag == "-text":
                self.buffer.append(child.text(deep=False) or "")
            elif child.tag == "br":
                self.flush()
            elif child.is_element_node and child.mem_id not in self.exclude and not is_hidden(child):
                self._element(child, depth)

    def _element(self, node: LexborNode, depth: int) -> None:
        if depth >= MAX_HTML_DEPTH:  # pathological nesting: keep the words, stop descending
            self.buffer.append(" " + (node.text(deep=True) or "") + " ")
            return
        inline = node.tag in INLINE_TAGS
        if not inline:
            self.flush()
        if node.tag == "a":
            self._anchor(node)
        self.walk(node, depth + 1)
        if not inline:
            self.flush()

    def _anchor(self, node: LexborNode) -> None:
        self.link_text.append(tidy(node.text(deep=True)))
        if url := http_url(node.attributes.get("href"), self.base_url):
            self.links.append(url)

    def flush(self) -> None:
        line = tidy("".join(self.buffer))
        links, anchors = self.links, self.link_text
        self.buffer, self.links, self.link_text = [], [], []
        if not any(ch.isalnum() for ch in line) or is_credit(line):
            return  # separators left behind by the post's frame ("·", "|"), picture credits
        url = links[0] if links else None
        # In HTML a pointer to another article carries a link; prose that merely ends in "here." does not.
        if (url and line in anchors) or (anchors and is_link_intro(line)):
            self.out.related.append(RelatedLink(text=line, url=url))
        else:
            self.out.paragraphs.append(line)


def html_to_paragraphs(node: LexborNode, *, base_url: str | None = None, exclude: set[int] | None = None) -> Extracted:
    """The prose of an element: paragraphs in order, related links apart, no scripts or captions.

    ``exclude`` holds ``mem_id``s of descendants that are not body (the post's own
    heading, time and byline).
    """
    walker = _Paragraphs(base_url, exclude or set())
    walker.walk(node)
    walker.flush()
    return walker.out


# Block containers nested deeper than this are refused before parsing: lexbor takes quadratic
# time in their depth (20,000 nested <div>s: 0.6 s; 100,000: 25 s, in half a megabyte), and a
# real page nests a few dozen. Inline tags, <p> and <li> (which close each other) do not count.
MAX_HTML_NESTING = 2_000
_BLOCK_TAG = re.compile(
    r"<(/?)(?:div|section|article|blockquote|ul|ol|dl|main|aside|header|footer|nav|figure|table|form|fieldset|details)\b",
    re.IGNORECASE)


def parse_html(markup: str) -> LexborHTMLParser:
    """``LexborHTMLParser(markup)``, refused with InputRejected when its block elements nest
    deeper than MAX_HTML_NESTING (bounded work for any input: one regex pass over the tags)."""
    if markup.count("<") > MAX_HTML_NESTING:  # fewer tags cannot nest that deep
        depth = deepest = 0
        for m in _BLOCK_TAG.finditer(markup):
            depth = max(depth - 1, 0) if m.group(1) else depth + 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_HTML_NESTING:
                    raise InputRejected("HTML nested too deeply",
                                        expected=f"block elements nested at most {MAX_HTML_NESTING:,} deep",
                                        found=f"more than {MAX_HTML_NESTING:,} levels by offset {m.start():,}")
    return LexborHTMLParser(markup)


def html_fragment_to_paragraphs(markup: str, *, base_url: str | None = None) -> Extracted:
    """Same as :func:`html_to_paragraphs` for an HTML string (feed content, JSON ``content_html``)."""
    tree = parse_html(markup)
    root = tree.body or tree.root
    return html_to_paragraphs(root, base_url=base_url) if root is not None else Extracted()


def html_to_text(markup: str) -> str:
    """One line of text from an HTML snippet (a feed title given as HTML)."""
    return " ".join(html_fragment_to_paragraphs(markup).paragraphs)


def text_to_paragraphs(text: str) -> Extracted:
    """A plain-text body: one paragraph per non-blank line; credits dropped and "Read more
    here"-style lines kept apart, with the same rules as the text parser."""
    out = Extracted()
    for line in clean_text(repair_text(text), nfc=True).split("\n"):
        line = " ".join(line.split())
        if not any(ch.isalnum() for ch in line) or is_credit(line):
            continue
        if is_link_intro(line):
            out.related.append(RelatedLink(text=line))
        else:
            out.paragraphs.append(line)
    return out


def looks_like_html(text: str) -> bool:
    """Bodies from APIs are sometimes HTML without saying so; a parser tells us, not a regex."""
    if "<" not in text or ">" not in text:
        return False
    tree = parse_html(text)
    body = tree.body
    return body is not None and body.css_first("*") is not None


def http_url(href: object, base: str | None) -> str | None:
    """An absolute http(s) URL, or None (``javascript:``, ``mailto:``, junk and non-strings are not links)."""
    if not isinstance(href, str) or not href.strip():
        return None
    try:
        url = urljoin(base or "", href.strip())
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


# "By", and the bylines of the other languages read: "Par", "Von", "di", "Por", "Door". "Von" only
# before a capitalised word that is not a name particle ("Von der Leyen" is a name), "di" only
# in lower case ("Di Maio" is a name).
_BYLINE_PREFIX = re.compile(r"^(?:[Bb]y\s+|(?:[Pp]ar|[Pp]or|[Dd]oor|di|[Vv]on(?!\s+(?:der|dem|den)\b))\s+(?=[A-ZÀ-Þ]))")


def author_name(value: object) -> str | None:
    """An author from the shapes formats use: a string, {"name": ...}, or a list of those."""
    if isinstance(value, str):
        return _BYLINE_PREFIX.sub("", tidy(value)).strip() or None
    if isinstance(value, dict):
        return author_name(value.get("name"))
    if isinstance(value, list):
        names = [n for n in (author_name(v) for v in value[:10]) if n]
        return ", ".join(dict.fromkeys(names)) or None
    return None


def source_url(raw: RawDocument) -> str | None:
    return raw.source if raw.source.startswith(("http://", "https://")) else None


# --------------------------------------------------------------------------- posts


@dataclass
class Draft:
    """A post as a format parser read it, before keys and positions are assigned."""

    title: str
    body: Extracted
    published_at: datetime
    author: str | None = None
    updated_at: datetime | None = None
    url: str | None = None
    source_id: str | None = None
    approx_s: int = 0  # the time came from a relative stamp ("2 hours ago"), to this many seconds


def assemble(raw: RawDocument, drafts: list[Draft], *, expected: str) -> tuple[list[ParsedPost], list[str]]:
    """Posts with keys and positions, in page order, plus warnings for what was dropped.

    Position 0 is the oldest post (ties: the one lower on the page is older), as in
    the text parser. A source id seen twice keeps its first post only, because two
    posts may not share a key.
    """
    warnings: list[str] = []
    kept: list[Draft] = []
    seen_ids: set[str] = set()
    for draft in drafts:
        if not draft.title and not draft.body.paragraphs:
            warnings.append(f"skipped a post at {draft.published_at.isoformat()} with neither title nor body")
        elif draft.source_id and draft.source_id in seen_ids:
            warnings.append(f"skipped a second post with source id {draft.source_id!r}")
        else:
            seen_ids.add(draft.source_id or "")
            kept.append(draft)
    if not kept:
        found = f"{len(drafts)} candidate posts, none with a title or a body" if drafts else "nothing shaped like a post"
        raise InputRejected("no posts", expected=expected, found=found)
    order = sorted(range(len(kept)), key=lambda k: (kept[k].published_at, -k))
    rank = {index: position for position, index in enumerate(order)}
    occurrence = _occurrences(kept, order)
    return [_post(raw, draft, rank[k], occurrence[k]) for k, draft in enumerate(kept)], warnings


def _occurrences(drafts: list[Draft], chrono: list[int]) -> dict[int, int]:
    """Number the posts that would share a title-based key (same stamp, same title). A post
    dated by a relative stamp is keyed by its title alone, numbered from the oldest (``chrono``)
    so that new posts on top of the page do not renumber it."""
    seen: Counter[tuple] = Counter()
    out = {}
    for k in [k for k in chrono if drafts[k].approx_s] + [k for k in range(len(drafts)) if not drafts[k].approx_s]:
        draft = drafts[k]
        identity = ("~" if draft.approx_s else draft.published_at, normalized_title(draft.title))
        out[k] = seen[identity]
        seen[identity] += 1
    return out


def _post(raw: RawDocument, draft: Draft, position: int, occurrence: int) -> ParsedPost:
    updated = draft.updated_at if draft.updated_at and draft.updated_at > draft.published_at else None
    return ParsedPost(
        blog_id=raw.blog_id,
        post_id=post_key(
            raw.blog_id, source_id=draft.source_id, published_at=draft.published_at,
            title=draft.title, occurrence=occurrence, approximate=bool(draft.approx_s and not draft.source_id),
        ),
        position=position,
        title=draft.title,
        body=draft.body.text,
        author=draft.author or None,
        published_at=draft.published_at,
        published_approx_s=draft.approx_s,
        updated_at=updated,
        url=draft.url,
        source_id=draft.source_id or None,
        related_links=draft.body.related,
    )
