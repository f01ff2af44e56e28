"""RawDocument: what a producer saw, untouched, plus the parse options that travel with it."""

from __future__ import annotations

import base64
import hashlib
import datetime as dt
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas import SCHEMA_VERSION
from schemas.errors import DecodeError, DocumentTooLarge

# The largest document liveblog takes (docs/security.md): its characters, or its bytes when it is
# not UTF-8 text (kept as body_b64). Producers refuse a larger one before accepting it; the worker
# still refuses one that reached the queue another way (workers.parsers.decode_body).
MAX_DOCUMENT_CHARS = 20_000_000

Format = Literal["auto", "text", "html", "rss", "json"]


class ParseOptions(BaseModel):
    """How a document is to be read; chosen by whoever produced it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Format = "auto"
    tz: str = "UTC"
    date: dt.date | None = None
    json_mapping: dict | None = None
    # True: the page as it stood when fetched, so a post it no longer shows inside its time
    # span was taken down (a retraction). False: some posts of the blog, pushed one by one and
    # batched by a producer (producers.batch); what it lacks says nothing, nothing is retracted.
    snapshot: bool = True

    def _identity(self) -> str:
        """What the document id hashes: every option, ``snapshot`` only when it is not the
        default, so documents made before the option existed keep their ids."""
        return self.model_dump_json(exclude=None if not self.snapshot else {"snapshot"})


class RawDocument(BaseModel):
    """One fetch of a live page (or one file): the unit of work of a worker job.

    ``body`` is the text when the bytes were valid UTF-8; otherwise ``body_b64``
    keeps the bytes untouched so the dead letter can show exactly what arrived.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    document_id: str
    blog_id: str
    source: str
    content_type: str | None = None
    fetched_at: datetime
    etag: str | None = None
    body: str | None = None
    body_b64: str | None = None
    options: ParseOptions = Field(default_factory=ParseOptions)

    @field_validator("fetched_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        blog_id: str,
        source: str,
        fetched_at: datetime,
        content_type: str | None = None,
        etag: str | None = None,
        options: ParseOptions | None = None,
    ) -> RawDocument:
        """Wrap what a producer read; the id depends only on what was read and when."""
        options = options or ParseOptions()
        fetched_at = cls._utc(fetched_at)
        try:
            text, b64 = data.decode("utf-8"), None
        except UnicodeDecodeError:
            text, b64 = None, base64.b64encode(data).decode("ascii")
        digest = hashlib.sha256()
        for part in (blog_id, source, fetched_at.isoformat(), options._identity()):
            digest.update(part.encode("utf-8") + b"\x1f")
        digest.update(data)
        return cls(
            document_id=digest.hexdigest()[:32],
            blog_id=blog_id,
            source=source,
            content_type=content_type,
            fetched_at=fetched_at,
            etag=etag,
            body=text,
            body_b64=b64,
            options=options,
        )

    def size(self) -> tuple[int, str]:
        """How large the document is, and in what: characters of its text, or bytes when it is
        not UTF-8 text (counted from the base64 without decoding it)."""
        if self.body is not None:
            return len(self.body), "characters"
        b64 = self.body_b64 or ""
        return len(b64) // 4 * 3 - b64[-2:].count("="), "bytes"

    def check_size(self) -> None:
        """Raise DocumentTooLarge when the document is over MAX_DOCUMENT_CHARS (characters, or
        bytes for a body that is not UTF-8), naming the limit and what was found."""
        size, unit = self.size()
        if size > MAX_DOCUMENT_CHARS:
            raise DocumentTooLarge(
                "document too large",
                expected=f"at most {MAX_DOCUMENT_CHARS:,} {unit}"
                         + (" (the document is not UTF-8 text)" if unit == "bytes" else ""),
                found=f"{size:,} {unit}",
            )

    def raw_bytes(self) -> bytes:
        if self.body is not None:
            return self.body.encode("utf-8")
        return base64.b64decode(self.body_b64 or "")

    def encode(self) -> dict:
        """The JSON-ready payload a job carries (never pickle). ``options.snapshot`` travels
        only when false, so a snapshot's payload is what workers before the option read."""
        return self.model_dump(mode="json", exclude=None if not self.options.snapshot else {"options": {"snapshot"}})

    @classmethod
    def decode(cls, payload: object) -> RawDocument:
        """Validate a job payload; any failure becomes one DecodeError."""
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "document"
            raise DecodeError(
                "invalid job payload",
                expected=f"a RawDocument (schema {SCHEMA_VERSION}) with a valid {where!r}",
                found=f"{first['msg']} ({first.get('input')!r:.80})",
            ) from exc


class PushedPost(BaseModel):
    """One post as a pushing source sends it (one JSON object per line to ``liveblog push``):
    a CMS webhook, a wire or a message bus delivers posts one at a time, not pages."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    blog_id: str = Field(min_length=1)
    id: str = Field(min_length=1)  # the source's own post id: an edit is the same id again
    title: str = ""
    body: str = ""
    author: str | None = None
    published_at: datetime
    received_at: datetime | None = None  # when the source sent it; the batch's fetched_at

    @field_validator("published_at", "received_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a time with its UTC offset (RFC 3339), not a local time without one")
        try:
            return value.astimezone(timezone.utc)
        except OverflowError:  # 9999-12-31T23:59-12:00 is in year 10000 in UTC: not a ValueError, so say it
            raise ValueError(f"a time whose UTC reading is within years 1-9999, found {value.isoformat()}") from None

    @model_validator(mode="after")
    def _says_something(self) -> PushedPost:
        if not (self.title.strip() or self.body.strip()):
            raise ValueError("a title or a body: both are empty")
        return self

    @classmethod
    def decode_line(cls, line: str | bytes) -> PushedPost:
        """One NDJSON line; any failure becomes one DecodeError naming the field at fault."""
        try:
            return cls.model_validate_json(line)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise DecodeError(
                "invalid pushed post",
                expected="one JSON object per line with 'blog_id', 'id', 'published_at' (RFC 3339 with its offset) "
                         "and a 'title' or a 'body'",
                found=f"{where + ': ' if where else ''}{first['msg']} ({first.get('input')!r:.80})",
            ) from exc
