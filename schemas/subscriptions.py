"""Subscriptions, their rules and the alerts they produce (docs/alerts.md).

A rule is a small tree: leaves test one property of an event (a keyword or phrase, an
entity, a country, a topic, a minimum urgency, a blog) and ``all`` / ``any`` / ``not``
combine them. Exactly one of the fields is set on each node, so a rule read back from
Redis or typed on the command line means one thing only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

SUBSCRIPTION_SCHEMA_VERSION = "1.0"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Names that would collide with the dispatcher's own streams under ``liveblog:alerts:``.
RESERVED_NAMES = frozenset({"deadletter"})
LEAVES = ("keyword", "phrase", "entity", "country", "topic", "min_urgency", "blog")
BRANCHES = ("all", "any", "not_")


class Rule(BaseModel):
    """One node of a rule tree; ``not`` is spelled ``not`` in JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    all: list[Rule] | None = None
    any: list[Rule] | None = None
    not_: Rule | None = Field(default=None, alias="not")
    keyword: str | None = None
    phrase: str | None = None
    entity: str | None = None
    country: str | None = None
    topic: str | None = None
    min_urgency: float | None = Field(default=None, ge=0.0, le=1.0)
    blog: str | None = None

    @model_validator(mode="after")
    def _one_field(self) -> Rule:
        given = [name for name in (*BRANCHES, *LEAVES) if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a rule node sets exactly one of all, any, not, {', '.join(LEAVES)}; found {given or 'none'}"
            )
        for name in ("all", "any"):
            value = getattr(self, name)
            if value is not None and not value:
                raise ValueError(f"{name!r} needs at least one rule")
        for name in ("keyword", "phrase", "entity", "country", "topic", "blog"):
            value = getattr(self, name)
            if value is not None and not value.strip():
                raise ValueError(f"{name!r} must not be empty")
        for name in ("keyword", "phrase", "entity"):
            value = getattr(self, name)
            if value is not None and not re.search(r"[^\W_]", value):  # no word: it would match every post
                raise ValueError(f"{name!r}: expected at least one letter or digit, found {value!r}")
        if self.country is not None and not re.fullmatch(r"[A-Za-z]{2}", self.country):
            raise ValueError(f"'country': expected a two-letter ISO 3166-1 code (GB, UA, US), found {self.country!r}")
        return self

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)


class Subscription(BaseModel):
    """A named rule and, optionally, where to deliver its alerts: a webhook (signed POST) or
    Apprise URLs (email, Slack, Telegram, ntfy, ...; the optional ``apprise`` extra).

    The webhook secret and the Apprise URLs (which carry tokens and passwords) are
    ``SecretStr``: repr, logs and ``subscribe list`` show them masked; only ``to_store``
    (what goes to Redis) and the dispatcher see them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = SUBSCRIPTION_SCHEMA_VERSION
    name: str
    rule: Rule
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    notify_urls: tuple[SecretStr, ...] = ()

    @model_validator(mode="after")
    def _one_channel(self) -> Subscription:
        if self.webhook_url and self.notify_urls:
            raise ValueError("expected a webhook or Apprise notify URLs, found both: use two subscriptions")
        return self

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value) or value in RESERVED_NAMES:
            raise ValueError(
                f"expected 1-64 letters, digits, '.', '_' or '-' (not {sorted(RESERVED_NAMES)}), found {value!r}"
            )
        return value

    def to_store(self) -> str:
        """The JSON kept in Redis, secret included."""
        data = self.model_dump(mode="json", exclude={"webhook_secret", "rule", "notify_urls"})
        data["rule"] = self.rule.model_dump(mode="json", by_alias=True, exclude_none=True)
        data["webhook_secret"] = self.webhook_secret.get_secret_value() if self.webhook_secret else None
        if self.notify_urls:
            data["notify_urls"] = [url.get_secret_value() for url in self.notify_urls]
        return json.dumps(data, sort_keys=True)

    def public(self) -> dict:
        """What may be printed: the secret is reduced to whether there is one."""
        return {
            "name": self.name,
            "rule": self.rule.model_dump(mode="json", by_alias=True, exclude_none=True),
            "webhook_url": self.webhook_url,
            "webhook_secret": "set" if self.webhook_secret else None,
            "notify": [url.get_secret_value().split("://", 1)[0] + "://***" for url in self.notify_urls],
        }

    @property
    def delivers(self) -> bool:
        return bool(self.webhook_url or self.notify_urls)


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` cannot sign Standard Webhooks deliveries, or None. The format is
    ``whsec_`` and the base64 of the key (the prefix is optional, as the library has it);
    the message never repeats the secret."""
    key = secret.removeprefix("whsec_")
    try:
        decoded = base64.b64decode(key + "=" * (-len(key) % 4), validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if not decoded:
        return "webhook secret: expected whsec_ followed by base64 (e.g. whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw), " \
               f"found {len(secret)} characters that are not"
    return None


def alert_id(subscription: str, event_id: str) -> str:
    """Deterministic: one subscriber, one event, one alert id (the webhook-id on delivery)."""
    return "al-" + hashlib.sha256(f"{subscription}\x1f{event_id}".encode()).hexdigest()[:29]


# What a follow-up alert is about (docs/alerts.md): the post that alerted was retracted, corrected
# (its title or body changed), or shown again after a retraction.
FOLLOWUP_KINDS = ("retraction", "correction", "restoration")
# The changes of an update that make it a correction; time and author alone do not.
CORRECTION_CHANGES = frozenset({"title", "body"})


def followup_id(subscription: str, event_id: str, kind: str) -> str:
    """Deterministic, and never the id of an alert on the same event (the kind is hashed too)."""
    return "al-" + hashlib.sha256(f"{subscription}\x1f{event_id}\x1f{kind}".encode()).hexdigest()[:29]

FOLLOWUP_TITLE = {"retraction": "Retracted: ", "correction": "Corrected: ", "restoration": "Restored: "}


def alert_body(fields: dict[str, str]) -> dict:
    """An alert stream entry as delivered (the webhook body, ``tail --subscription``): the alert,
    with the event it is about. A follow-up (an alerted post retracted, corrected or restored) is
    typed ``liveblog.alert.<kind>`` and names the alert it follows (``original_id``) and what
    changed; its ``rule`` is what the new revision matches, null when it no longer matches or the
    post was retracted (docs/alerts.md)."""
    kind = fields.get("kind", "alert")
    body = {
        "type": "liveblog.alert" if kind == "alert" else f"liveblog.alert.{kind}", "kind": kind, "id": fields["id"],
        "subscription": fields["subscription"], "event_id": fields["event_id"], "story_id": fields["story_id"],
        "rule": json.loads(fields["rule"]),
    }
    if kind != "alert":
        body["original_id"] = fields["original_id"]
        body["changes"] = json.loads(fields.get("changes") or "[]")
    body["event"] = json.loads(fields["event"])
    return body


class AlertPayload(BaseModel):
    """The webhook body of an alert or a follow-up (``alert_body``; ``liveblog schema alert``)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["liveblog.alert", "liveblog.alert.retraction", "liveblog.alert.correction",
                  "liveblog.alert.restoration"]
    kind: Literal["alert", "retraction", "correction", "restoration"] = Field(
        description="alert: a post matched the rule; otherwise a follow-up of the alert original_id")
    id: str = Field(description="the alert id, also the webhook-id header: drop repeats by it")
    subscription: str
    event_id: str = Field(description="the CloudEvent the alert is about (created, updated or retracted)")
    story_id: str
    rule: list[str] | None = Field(description="the rule leaves the event matched; null for a follow-up whose "
                                               "revision no longer matches, and for a retraction")
    original_id: str | None = Field(default=None, description="follow-ups: the id of the alert the post produced")
    changes: list[str] | None = Field(default=None, description="follow-ups: what the update changed "
                                                                "(title, body, time, author); [] for a retraction")
    event: dict = Field(description="the event itself (liveblog schema event)")
