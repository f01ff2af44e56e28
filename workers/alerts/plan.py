"""Which planned events alert which subscribers, prepared for the commit script.

Python decides whether a rule matches (deterministic, from the event's data); the
script decides, atomically, whether the match becomes an alert: not when this
subscriber was already alerted about the story, and not when an earlier revision of
the same post already matched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from schemas.keys import Keys
from schemas.subscriptions import Subscription, alert_id
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


def plan_alerts(
    events: Iterable[tuple[int, dict]], subscriptions: tuple[Subscription, ...], keys: Keys
) -> list[PlannedAlert]:
    """``events``: (planned post index, event as a dict) of created and updated events."""
    if not subscriptions:
        return []
    out = []
    for index, event in events:
        subject = Subject.from_event(event)
        data = event["data"]
        story = data.get("story_id") or data["post"]["id"]
        for sub in subscriptions:
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
