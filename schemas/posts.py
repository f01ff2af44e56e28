"""What a parser makes of a document: blog metadata and posts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_serializer


def rfc3339(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a trailing Z, the one time format on the wire."""
    if value is None:
        return None
    text = value.isoformat().replace("+00:00", "Z")
    return text if text.endswith("Z") else text + "Z"


class RelatedLink(BaseModel):
    """A "read more"-style line: kept apart from the body, never a post of its own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    url: str | None = None


class BlogMeta(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    title: str | None = None
    url: str | None = None
    standfirst: str | None = None
    key_points: list[str] = Field(default_factory=list)


class ParsedPost(BaseModel):
    """One timestamped entry of a live blog, normalized, with times in UTC.

    ``post_id`` is the post key: the source's own id when the format has one,
    else derived from the blog, the stamp and the normalized title, so it is
    stable across polls and body edits. ``position`` counts from the oldest
    post of the document (0), so it does not shift when new posts arrive on top.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    blog_id: str
    post_id: str
    position: int
    title: str
    body: str
    author: str | None = None
    published_at: datetime
    updated_at: datetime | None = None
    url: str | None = None
    source_id: str | None = None
    related_links: list[RelatedLink] = Field(default_factory=list)
    # 0: the page printed the time. Else the page said it relative to when it was fetched ("2 hours
    # ago"), to this many seconds: the next poll may compute another time for the same post, and
    # the pipeline keeps the first-seen one (docs/formats.md). Not serialised: a parse detail.
    published_approx_s: int = Field(default=0, exclude=True)

    @field_serializer("published_at", "updated_at")
    def _times(self, value: datetime | None) -> str | None:
        return rfc3339(value)


class ParsedDocument(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str
    blog: BlogMeta
    posts: list[ParsedPost]
    warnings: list[str] = Field(default_factory=list)
