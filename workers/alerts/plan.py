"""Which planned events alert which subscribers, prepared for the commit script.

Python decides whether a rule matches (deterministic, from the event's data); the
script decides, atomically, whether the match becomes an alert: not when this
subscriber was already alerted about the story, and not when an earlier revision of
the same post already matched.

A post that produced an alert remembers it (the post hash's ``al`` field, written by the
script with the alert); when it is later retracted, corrected (title or body) or restored
after a retraction, each subscriber it alerted gets a follow-up, whatever its rule says of
the new revision. The field changes only with a revision of the post, which the script
re-checks, so planning follow-ups from what the pre-check read is safe.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from schemas.keys import Keys
from schemas.subscriptions import CORRECTION_CHANGES, Subscription, alert_id, followup_id
from workers.alerts.rules import Subject, explain


@dataclass(frozen=True)
class PlannedAlert:
    """A rule match on one event; the script turns it into at most one alert."""

    post_index: int  # into the document's planned posts
    subscription: str
    alert_id: str
    event_id: str
    story_id: str
    reasons: str  # JSON list: the rule leaves that matched
    stream_key: str
    alerted_key: str
    matched_key: str


@dataclass(frozen=True)
class PlannedFollowUp:
    """A follow-up to an alert a post produced, bound to the event that corrects, retracts or
    restores the post (committed with it, so once)."""

    index: int  # into the document's planned posts, or its retractions when ``retraction``
    retraction: bool
    subscription: str
    kind: str  # retraction | correction | restoration
    alert_id: str
    original_id: str  # the alert the post produced
    event_id: str
    story_id: str
    changes: str  # JSON list: what the update changed ([] for a retraction)
    reasons: str  # JSON: the leaves the new revision matches, null when it does not (or retracted)
    stream_key: str


def alerted_by(field: str) -> dict[str, str]:
    """A post's ``al`` field: subscriber -> the alert id the post produced for it."""
    out = {}
    for entry in field.split(",") if field else ():
        name, _, alert = entry.partition("=")
        out[name] = alert
    return out


def plan_alerts(
    events: Iterable[tuple[int, dict]], subscriptions: tuple[Subscription, ...], keys: Keys,
    alerted: dict[int, dict[str, str]] | None = None,
) -> list[PlannedAlert]:
    """``events``: (planned post index, event as a dict) of created and updated events;
    ``alerted``: per post index, the subscribers the post already alerted (a follow-up, not a
    new alert, is what they get for its revisions)."""
    if not subscriptions:
        return []
    alerted = alerted or {}
    out = []
    for index, event in events:
        subject = Subject.from_event(event)
        data = event["data"]
        story = data.get("story_id") or data["post"]["id"]
        already = alerted.get(index, {})
        for sub in subscriptions:
            if sub.name in already:
                continue
            reasons = explain(sub.rule, subject)
            if reasons is None:
                continue
            out.append(PlannedAlert(
                post_index=index, subscription=sub.name, alert_id=alert_id(sub.name, event["id"]),
                event_id=event["id"], story_id=story, reasons=json.dumps(reasons, ensure_ascii=False),
                stream_key=keys.alerts(sub.name), alerted_key=keys.alerted(sub.name, story),
                matched_key=keys.matched(sub.name, data["blog"]["id"], data["post"]["id"]),
            ))
    return out


def plan_followups(
    updates: Iterable[tuple[int, dict, str, bool]], retractions: Iterable[tuple[int, dict, str]],
    subscriptions: tuple[Subscription, ...], keys: Keys,
) -> list[PlannedFollowUp]:
    """``updates``: (planned post index, updated event, the post's ``al`` field, whether it was
    retracted); ``retractions``: (retraction index, retracted event, the post's ``al`` field).

    A retraction follows up every subscriber the post alerted; an update of a retracted post
    is a restoration; any other update is a correction when it changed the title or the body
    (a new time or author alone is not worth a message). A subscription removed since the
    alert gets nothing."""
    if not subscriptions:
        return []
    by_name = {s.name: s for s in subscriptions}
    out = []

    def add(index: int, event: dict, field: str, kind: str, retraction: bool) -> None:
        data = event["data"]
        subject = None if retraction else Subject.from_event(event)
        for name, original in sorted(alerted_by(field).items()):
            sub = by_name.get(name)
            if sub is None:
                continue
            reasons = None if subject is None else explain(sub.rule, subject)
            out.append(PlannedFollowUp(
                index=index, retraction=retraction, subscription=name, kind=kind,
                alert_id=followup_id(name, event["id"], kind), original_id=original, event_id=event["id"],
                story_id=data.get("story_id") or data["post"]["id"],
                changes=json.dumps(data.get("changes") or []),
                reasons=json.dumps(reasons, ensure_ascii=False), stream_key=keys.alerts(name),
            ))

    for index, event, field, was_retracted in updates:
        if not field:
            continue
        if was_retracted:
            add(index, event, field, "restoration", False)
        elif CORRECTION_CHANGES.intersection(event["data"].get("changes") or ()):
            add(index, event, field, "correction", False)
    for index, event, field in retractions:
        if field:
            add(index, event, field, "retraction", True)
    return out
