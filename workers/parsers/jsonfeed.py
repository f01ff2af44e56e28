"""JSON documents: JSON Feed 1.1, and any newsroom API through a generic mapping.

A JSON Feed is recognised by its ``version`` URL. Anything else needs a
mapping (``ParseOptions.json_mapping``) that names where the list of posts is
and which field of each item holds what, so a new API is ingested with a few
lines of configuration instead of a new parser. The keys are documented in
``docs/formats.md`` and validated here, with errors that name what was expected
and what was found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from schemas.documents import RawDocument
from schemas.errors import InputRejected
from schemas.posts import BlogMeta, ParsedDocument
from workers import stamps
from workers.parsers._common import (
    Draft, Extracted, assemble, author_name, html_fragment_to_paragraphs, http_url, load_json, looks_like_html,
    source_url, text_to_paragraphs, tidy, to_utc,
)

JSON_FEED_PREFIX = "https://jsonfeed.org/version/"
ITEM_KEYS = ("id", "title", "body", "time", "updated", "author", "url")
BLOG_KEYS = ("blog_title", "blog_url", "blog_description")
MAPPING_KEYS = ("items", *ITEM_KEYS, "body_format", *BLOG_KEYS)
BODY_FORMATS = ("auto", "text", "html")
MAX_PATH_SEGMENTS = 32


def parse(raw: RawDocument, body: str) -> ParsedDocument:
    data = _load(body)
    if raw.options.json_mapping is not None:
        return _parse_mapped(raw, data, Mapping.from_option(raw.options.json_mapping))
    if isinstance(data, dict) and str(data.get("version", "")).startswith(JSON_FEED_PREFIX):
        return _parse_json_feed(raw, data)
    raise InputRejected(
        "unrecognised JSON",
        expected=f'a JSON Feed ("version": "{JSON_FEED_PREFIX}1.1") or the json_mapping parse option',
        found=describe(data),
    )


def _load(body: str) -> object:
    """The decoded document; a UTF-8 byte order mark before it is not part of the JSON (as for the other formats)."""
    try:
        return load_json(body.removeprefix("\ufeff"))
    except RecursionError as exc:
        raise InputRejected("JSON nested too deeply", expected="a JSON document of ordinary depth",
                            found="nesting beyond the parser's recursion limit") from exc
    except ValueError as exc:
        raise InputRejected("invalid JSON", expected="a JSON document", found=str(exc)[:200]) from exc


def describe(value: object) -> str:
    """A short account of a JSON value for error messages: 'a list of 3 numbers'."""
    if isinstance(value, dict):
        return f"an object with keys {sorted(map(str, value))[:10]}"
    if isinstance(value, list):
        kinds = sorted({_kind(v) for v in value[:100]})
        return f"a list of {len(value)} " + ("items" if not kinds else " and ".join(k + "s" * (len(value) != 1) for k in kinds))
    return f"{_kind(value)} {value!r:.60}"


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {dict: "object", list: "list", str: "string", type(None): "null"}.get(type(value), "value")


# --------------------------------------------------------------------------- JSON Feed


def _parse_json_feed(raw: RawDocument, feed: dict) -> ParsedDocument:
    items = feed.get("items")
    if not isinstance(items, list):
        raise InputRejected("no posts", expected='a JSON Feed "items" list', found=describe(items))
    notes: list[str] = []
    base = http_url(_string(feed, "home_page_url", notes), None) or source_url(raw)
    title, description = _string(feed, "title", notes), _string(feed, "description", notes)
    tz = stamps.zone(raw.options.tz)
    drafts, warnings = _collect(items, lambda item, item_notes: _feed_draft(item, tz, base, item_notes))
    posts, dropped = _assemble(raw, drafts, warnings, 'JSON Feed items with "date_published"')
    blog = BlogMeta(id=raw.blog_id, title=_str(title) or None, url=base, standfirst=_str(description) or None)
    return ParsedDocument(format="json", blog=blog, posts=posts, warnings=notes + warnings + dropped)


def _string(obj: dict, key: str, notes: list[str]) -> str | None:
    """``obj[key]`` when it is a string (JSON Feed's type for every text and URL field), None when
    absent or null; another type is ignored with a note naming the field, never read as text."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    notes.append(f'ignored "{key}": expected a string, found {describe(value)}')
    return None


def _feed_draft(item: dict, tz: tzinfo, base: str | None, notes: list[str]) -> Draft:
    published, modified = item.get("date_published"), item.get("date_modified")
    if not published and not modified:
        raise InputRejected("undated item", expected='"date_published"', found="neither it nor \"date_modified\"")
    item_id = item.get("id")
    if item_id is not None and not isinstance(item_id, str | int) or isinstance(item_id, bool):
        notes.append(f'ignored "id": expected a string, found {describe(item_id)}')
    return Draft(
        title=_str(_string(item, "title", notes)),
        body=_feed_body(item, base, notes),
        published_at=to_utc(published or modified, tz, what="date_published"),
        updated_at=to_utc(modified, tz, what="date_modified") if published and modified else None,
        author=author_name(item.get("authors")) or author_name(item.get("author")),
        url=http_url(_string(item, "url", notes), base),
        source_id=str(item_id) if isinstance(item_id, str | int) and not isinstance(item_id, bool)
        and str(item_id).strip() else None,
    )


def _feed_body(item: dict, base: str | None, notes: list[str]) -> Extracted:
    html = _string(item, "content_html", notes)
    text = _string(item, "content_text", notes) or _string(item, "summary", notes)
    if html and html.strip():
        return html_fragment_to_paragraphs(html, base_url=base)
    return text_to_paragraphs(text) if text else Extracted()


# --------------------------------------------------------------------------- generic mapping


@dataclass(frozen=True)
class Mapping:
    """Dotted paths into a newsroom payload; see docs/formats.md for each key."""

    items: str
    time: str
    id: str | None = None
    title: str | None = None
    body: str | None = None
    updated: str | None = None
    author: str | None = None
    url: str | None = None
    body_format: str = "auto"
    blog_title: str | None = None
    blog_url: str | None = None
    blog_description: str | None = None

    @classmethod
    def from_option(cls, option: object) -> Mapping:
        """Validate the json_mapping option, naming the first thing wrong with it."""
        expected = f"a json_mapping object with string values for 'items', 'time' and 'title' or 'body' " \
                   f"(allowed keys: {', '.join(MAPPING_KEYS)})"
        if not isinstance(option, dict):
            raise InputRejected("invalid json_mapping", expected=expected, found=describe(option))
        unknown = sorted(set(map(str, option)) - set(MAPPING_KEYS))
        missing = [k for k in ("items", "time") if k not in option]
        wrong = sorted(k for k, v in option.items() if not isinstance(v, str))
        if unknown or missing or wrong or not ({"title", "body"} & set(option)):
            found = "; ".join(filter(None, [
                unknown and f"unknown keys {unknown}", missing and f"missing {missing}",
                wrong and f"non-string values for {wrong}",
                not ({"title", "body"} & set(option)) and "neither 'title' nor 'body'",
            ]))
            raise InputRejected("invalid json_mapping", expected=expected, found=found)
        if option.get("body_format", "auto") not in BODY_FORMATS:
            raise InputRejected("invalid json_mapping", expected=f"body_format one of {BODY_FORMATS}",
                                found=repr(option["body_format"]))
        return cls(**option)


class _Missing(Exception):
    """Raised inside path lookups; turned into InputRejected or a skipped field by the caller."""


def lookup(data: object, path: str) -> object:
    """Follow a dotted path ("data.posts", "authors.0.name"); "" or "$" is the document itself."""
    if path in ("", "$"):
        return data
    segments = path.removeprefix("$.").split(".")
    if len(segments) > MAX_PATH_SEGMENTS:
        raise _Missing(f"a path of {len(segments)} segments (at most {MAX_PATH_SEGMENTS})")
    return _walk(data, segments, [])


def _walk(data: object, segments: list[str], walked: list[str]) -> object:
    """``lookup`` from ``data`` along ``segments``; ``*`` takes the rest of the path from each
    element of a list and gives the list of what was found (elements without it are left out;
    lists found are joined), e.g. ``blocks.*.text`` for the paragraphs of a CMS body."""
    value = data
    for at, segment in enumerate(segments):
        if segment == "*":
            if not isinstance(value, list):
                where = ".".join(walked) or "the document root"
                raise _Missing(f"expected a list at '*' after {where}, found {describe(value)}")
            found: list = []
            for element in value:
                try:
                    item = _walk(element, segments[at + 1 :], [*walked, "*"])
                except _Missing:
                    continue
                if item is not None:
                    found.extend(item if isinstance(item, list) else [item])
            return found
        if isinstance(value, dict) and segment in value:
            value = value[segment]
        elif isinstance(value, list) and segment.lstrip("-").isdigit() and -len(value) <= int(segment) < len(value):
            value = value[int(segment)]
        else:
            where = ".".join(walked) or "the document root"
            raise _Missing(f"no {segment!r} in {where}, which is {describe(value)}")
        walked.append(segment)
    return value


def _parse_mapped(raw: RawDocument, data: object, mapping: Mapping) -> ParsedDocument:
    try:
        items = lookup(data, mapping.items)
    except _Missing as exc:
        raise InputRejected("json_mapping path not found", expected=f"a list at {mapping.items!r}",
                            found=str(exc)) from exc
    if not isinstance(items, list) or not any(isinstance(i, dict) for i in items):
        raise InputRejected("json_mapping items are not a list of objects",
                            expected=f"a list of objects at {mapping.items!r}", found=describe(items))
    notes: list[str] = []
    blog = _mapped_blog(raw, data, mapping, notes)
    tz = stamps.zone(raw.options.tz)
    drafts, warnings = _collect(items, lambda item, item_notes: _mapped_draft(item, mapping, tz, blog.url, item_notes))
    posts, dropped = _assemble(raw, drafts, warnings, f"items with a time at {mapping.time!r}")
    return ParsedDocument(format="json", blog=blog, posts=posts, warnings=notes + warnings + dropped)


def _field(item: dict, path: str | None) -> object:
    if path is None:
        return None
    try:
        return lookup(item, path)
    except _Missing:
        return None


def _is_string(value: object) -> bool:
    return isinstance(value, str)


def _is_id(value: object) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def _is_author(value: object, *, nested: bool = False) -> bool:
    if isinstance(value, str) or (isinstance(value, dict) and isinstance(value.get("name"), str)):
        return True
    return not nested and isinstance(value, list) and all(_is_author(v, nested=True) for v in value)


def _is_time(value: object) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number or isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value))


def _is_body(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


# What each mapped field must hold: (test, what the warning says was expected). ``time`` is not
# here: an item without a readable time is skipped, and to_utc's refusal names what it found.
FIELD_TYPES = {
    "id": (_is_id, "a string or an integer"),
    "updated": (_is_time, "a time: an ISO 8601 or RFC 822 string, epoch seconds, or a [Y, M, D, h, m] list"),
    "title": (_is_string, "a string"),
    "body": (_is_body, "a string or a list of strings"),
    "author": (_is_author, 'a string, {"name": a string}, or a list of those'),
    "url": (_is_string, "a string"),
    "blog_title": (_is_string, "a string"),
    "blog_url": (_is_string, "a string"),
    "blog_description": (_is_string, "a string"),
}


def _typed(data: object, mapping: Mapping, key: str, notes: list[str]) -> object:
    """The value at the mapping's path for ``key``, or None when it is absent, null or of the wrong
    type; a wrong type is noted (field, path, expected and found), never silently dropped. A body
    list keeps its strings (the note names what else it held)."""
    path = getattr(mapping, key)
    value = _field(data, path)
    check, expected = FIELD_TYPES[key]
    if value is None or check(value):
        return value
    if key == "body" and isinstance(value, list):
        notes.append(f'ignored what is not a string in "body" at {path!r}: expected {expected}, found {describe(value)}')
        return [v for v in value if isinstance(v, str)]
    notes.append(f'ignored "{key}" at {path!r}: expected {expected}, found {describe(value)}')
    return None


def _mapped_draft(item: dict, mapping: Mapping, tz: tzinfo, base: str | None, notes: list[str]) -> Draft:
    when = _field(item, mapping.time)
    if when is None:
        raise InputRejected("item without a time", expected=f"a value at {mapping.time!r}", found=describe(item))
    updated = _typed(item, mapping, "updated", notes)  # of the wrong type: ignored, the post is kept
    source_id = _typed(item, mapping, "id", notes)
    url = _typed(item, mapping, "url", notes)
    return Draft(
        title=_str(_typed(item, mapping, "title", notes)),
        body=_mapped_body(_typed(item, mapping, "body", notes), mapping.body_format, base),
        published_at=to_utc(when, tz, what=f"time at {mapping.time!r}"),
        updated_at=to_utc(updated, tz, what=f"time at {mapping.updated!r}") if updated is not None else None,
        author=author_name(_typed(item, mapping, "author", notes)),
        url=http_url(url if isinstance(url, str) else None, base),
        source_id=str(source_id) if _is_id(source_id) and str(source_id).strip() else None,
    )


def _mapped_body(value: object, body_format: str, base: str | None) -> Extracted:
    """A string, or a list of paragraph strings; HTML when told so or when it parses as markup."""
    if isinstance(value, list):
        value = "\n\n".join(v for v in value if isinstance(v, str))
    if not isinstance(value, str):
        return Extracted()
    is_html = body_format == "html" or (body_format == "auto" and looks_like_html(value))
    return html_fragment_to_paragraphs(value, base_url=base) if is_html else text_to_paragraphs(value)


def _mapped_blog(raw: RawDocument, data: object, mapping: Mapping, notes: list[str]) -> BlogMeta:
    title, url, description = (_typed(data, mapping, key, notes) if isinstance(data, dict) else None
                               for key in ("blog_title", "blog_url", "blog_description"))
    return BlogMeta(
        id=raw.blog_id,
        title=_str(title) or None,
        url=http_url(url if isinstance(url, str) else None, None) or source_url(raw),
        standfirst=_str(description) or None,
    )


# --------------------------------------------------------------------------- shared


def _collect(items: list, make) -> tuple[list[Draft], list[str]]:
    """Drafts from the items that are usable; a warning for each one that is not, and for each
    field of a kept item that ``make(item, notes)`` noted as ignored."""
    drafts, warnings = [], []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            warnings.append(f"skipped item {index}: expected an object, found {describe(item)}")
            continue
        notes: list[str] = []
        try:
            drafts.append(make(item, notes))
        except InputRejected as exc:
            warnings.append(f"skipped item {index}: {exc}")
            continue
        warnings.extend(f"item {index}: {note}" for note in notes)
    return drafts, warnings


def _assemble(raw: RawDocument, drafts: list[Draft], warnings: list[str], expected: str):
    if not drafts:
        raise InputRejected("no posts", expected=expected,
                            found="; ".join(warnings[:3]) or "an empty list")
    return assemble(raw, drafts, expected=expected)


def _str(value: object) -> str:
    return tidy(value) if isinstance(value, str) else ""
