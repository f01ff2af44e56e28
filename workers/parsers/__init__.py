"""Parsers, one module per format, behind one entry point: ``parse(raw)``.

The format is detected from the content (``--format auto``), never from the file name.
"""

from __future__ import annotations

import re

from collections.abc import Callable
from itertools import takewhile

from schemas.documents import MAX_DOCUMENT_CHARS, RawDocument
from schemas.errors import InputRejected
from schemas.posts import ParsedDocument
from workers.normalize import has_lone_surrogate, replace_lone_surrogates
from workers.parsers import feeds, html, jsonfeed, text

Parser = Callable[[RawDocument, str], ParsedDocument]

PARSERS: dict[str, Parser] = {"text": text.parse, "html": html.parse, "rss": feeds.parse, "json": jsonfeed.parse}

# Documented limits (docs/security.md): beyond them a document is dead-lettered with the reason.
# MAX_DOCUMENT_CHARS (schemas.documents) is enforced by the producers before a document is accepted;
# the check in decode_body stays for a job enqueued by other means.
MAX_POSTS_PER_DOCUMENT = 20_000


_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f]")  # below 32, less \t \n \f \r


def decode_body(raw: RawDocument) -> str:
    """The document's text, or a clear rejection for bytes that are not UTF-8 text.

    The text is always encodable: a lone surrogate becomes U+FFFD here, as in decoded JSON
    (``workers.parsers._common.load_json``)."""
    if raw.body is None:
        data = raw.raw_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputRejected(
                "invalid UTF-8",
                expected="a UTF-8 encoded document",
                found=f"byte 0x{data[exc.start]:02x} at offset {exc.start} of {len(data)} bytes",
            ) from exc
    body = raw.body or ""
    if has_lone_surrogate(body):  # only a job payload written by hand can carry one ("\\ud800" in its JSON)
        body = replace_lone_surrogates(body)
    if not body.strip():
        raise InputRejected("empty document", expected="a live-blog page", found=f"{len(body)} blank characters")
    if len(body) > MAX_DOCUMENT_CHARS:
        raise InputRejected(
            "document too large", expected=f"at most {MAX_DOCUMENT_CHARS:,} characters", found=f"{len(body):,}"
        )
    sample = body[:4096]
    controls = len(_CONTROLS.findall(sample))
    if controls > len(sample) * 0.05:
        raise InputRejected(
            "binary data",
            expected="text",
            found=f"{controls} control characters in the first {len(sample)} characters",
        )
    return body


FEED_ROOTS = ("rss", "feed", "atom:feed", "rdf:rdf")
PROLOGUE_LIMIT = 1_000_000  # characters searched for the root element, past comments and doctype

_QUOTED = r"""(?:"[^"]*+"|'[^']*+')"""
# One prologue item: XML declaration or processing instruction, comment, doctype with its internal
# subset (whose declarations may quote ">" or "<"), or another <!...> declaration. Atomic groups and
# possessive quantifiers keep a failed match linear.
_PROLOGUE_ITEM = re.compile(
    rf"""(?>
        <\?.*?\?>
      | <!--.*?-->
      | <!doctype(?>[^\["'>]|{_QUOTED})*+
        (?>\[(?>[^\]"'<]|{_QUOTED}|<!--.*?-->|<(?>[^"'>]|{_QUOTED})*+>)*+\])?
        \s*>
      | <![a-z][^>]*+>
    )""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)


def detect_format(body: str) -> str:
    """JSON by its first character; markup by its root element; anything else is text.

    The root is the first element after the XML declaration, comments, processing
    instructions and doctype (however long, within the first PROLOGUE_LIMIT characters),
    so a feed with a leading comment or stylesheet is still a feed, and a page whose
    first tag is <article> is still HTML.
    """
    head = body.lstrip("\ufeff \t\r\n")[:PROLOGUE_LIMIT]
    if head.startswith(("{", "[")):
        return "json"
    if not head.startswith("<"):
        return "text"
    root = _root_element(head)
    if root in FEED_ROOTS:
        return "rss"
    return "html" if root or head[:14].lower() == "<!doctype html" else "text"


def _root_element(head: str) -> str | None:
    """The lower-cased name of the first element, skipping <?...?>, <!--...--> and <!doctype ...> items."""
    pos = 0
    while (start := head.find("<", pos)) != -1:
        if item := _PROLOGUE_ITEM.match(head, start):
            pos = item.end()
            continue
        name = "".join(takewhile(lambda ch: not ch.isspace() and ch not in "/>", head[start + 1 : start + 64]))
        return name.lower() if name[:1].isalpha() else None
    return None


def parse(raw: RawDocument) -> ParsedDocument:
    body = decode_body(raw)
    fmt = raw.options.format
    if fmt == "auto":
        fmt = detect_format(body)
    parser = PARSERS.get(fmt)
    if parser is None:
        raise InputRejected(
            "unsupported format",
            expected=f"one of {sorted(PARSERS)}",
            found=f"{fmt!r} (detected from the content of {raw.source!r})",
        )
    doc = parser(raw, body)
    if len(doc.posts) > MAX_POSTS_PER_DOCUMENT:
        raise InputRejected(
            "too many posts",
            expected=f"at most {MAX_POSTS_PER_DOCUMENT:,} posts in one document",
            found=f"{len(doc.posts):,}",
        )
    return doc
