"""Parsers, one module per format, behind one entry point: ``parse(raw)``.

The format is detected from the content (``--format auto``), never from the file name.
"""

from __future__ import annotations

from collections.abc import Callable

from schemas.documents import RawDocument
from schemas.errors import InputRejected
from schemas.posts import ParsedDocument
from workers.parsers import text

Parser = Callable[[RawDocument, str], ParsedDocument]

PARSERS: dict[str, Parser] = {"text": text.parse}

MAX_DOCUMENT_CHARS = 20_000_000


def decode_body(raw: RawDocument) -> str:
    """The document's text, or a clear rejection for bytes that are not UTF-8 text."""
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
    if not body.strip():
        raise InputRejected("empty document", expected="a live-blog page", found=f"{len(body)} blank characters")
    if len(body) > MAX_DOCUMENT_CHARS:
        raise InputRejected(
            "document too large", expected=f"at most {MAX_DOCUMENT_CHARS:,} characters", found=f"{len(body):,}"
        )
    sample = body[:4096]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > len(sample) * 0.05:
        raise InputRejected(
            "binary data",
            expected="text",
            found=f"{controls} control characters in the first {len(sample)} characters",
        )
    return body


def detect_format(body: str) -> str:
    head = body.lstrip("\ufeff \t\r\n")[:2048].lower()
    if head.startswith("{") or head.startswith("["):
        return "json"
    if head.startswith("<?xml") and ("<rss" in head or "<feed" in head or "<rdf" in head):
        return "rss"
    if head.startswith("<rss") or head.startswith("<feed"):
        return "rss"
    if head.startswith("<") and ("<html" in head or "<!doctype html" in head or "<body" in head or "<div" in head):
        return "html"
    return "text"


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
    return parser(raw, body)
