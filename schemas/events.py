"""The published event: CloudEvents 1.0 in JSON structured mode."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from schemas.posts import RelatedLink, rfc3339

EVENT_SCHEMA_VERSION = "1.0"
EventType = Literal["liveblog.post.created", "liveblog.post.updated", "liveblog.post.retracted"]
EntityLabel = Literal["PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Entity(_Frozen):
    text: str
    label: EntityLabel
    canonical: str
    id: str
    start: int
    end: int


class Place(_Frozen):
    name: str
    country_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class Quote(_Frozen):
    text: str
    speaker: str | None = None


class Quantity(_Frozen):
    """A number with its unit and kind. ``value`` is the number as written (for a vague
    amount, the lower bound); ``low``/``high`` bound it when the text gives a range or a
    qualifier ("more than", "up to", "tens of thousands"), and ``approximate`` says so."""

    text: str
    value: float | None = None
    unit: str | None = None
    kind: str
    low: float | None = None
    high: float | None = None
    approximate: bool = False


class Enrichment(_Frozen):
    """Everything the enrichers add to a post; all of it a pure function of the post."""

    entities: list[Entity] = Field(default_factory=list)
    places: list[Place] = Field(default_factory=list)
    quotes: list[Quote] = Field(default_factory=list)
    quantities: list[Quantity] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    urgency: float = 0.0
    language: str | None = None
    enrichers: dict[str, str] = Field(default_factory=dict)


class BlogRef(_Frozen):
    id: str
    title: str | None = None
    url: str | None = None


class PostData(_Frozen):
    id: str
    title: str
    body: str
    author: str | None = None
    published_at: datetime
    updated_at: datetime | None = None
    revision: int
    url: str | None = None
    position: int
    related_links: list[RelatedLink] = Field(default_factory=list)

    @field_serializer("published_at", "updated_at")
    def _times(self, value: datetime | None) -> str | None:
        return rfc3339(value)


class EventData(Enrichment):
    blog: BlogRef
    post: PostData
    story_id: str | None = None
    repeat_of: str | None = None
    changes: list[str] = Field(default_factory=list)
    content_hash: str


class Event(_Frozen):
    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    type: EventType
    subject: str
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str = f"urn:liveblog-stream:event:{EVENT_SCHEMA_VERSION}"
    data: EventData

    @field_serializer("time")
    def _time(self, value: datetime) -> str | None:
        return rfc3339(value)

    def to_json(self) -> str:
        return self.model_dump_json()


def event_id(blog_id: str, post_id: str, revision: int, event_type: str) -> str:
    """Deterministic: the same post revision always gets the same id."""
    digest = hashlib.sha256(f"{blog_id}\x1f{post_id}\x1f{revision}\x1f{event_type}".encode())
    return digest.hexdigest()[:32]
