"""Alerts committed with their events, on a private redis-server: once per subscriber per story."""

from __future__ import annotations

import json

import pytest

from liveblog.web.sse import alert_event_id
from schemas.keys import Keys
from schemas.subscriptions import alert_id
from tests.dedup.pages import FLOOD, OTHER_FLOOD, page, post, repost_intro
from tests.helpers import PlainEnricher, alerts, counters, stream_events, subscribe
from workers.pipeline import DocumentProcessor

pytestmark = pytest.mark.redis
KEYS = Keys()
INTRO = "If you are just joining us, here is how the morning began in Keldby."



def test_a_story_told_three_times_alerts_each_subscriber_once(conn, settings):
    subscribe(conn, "floods", {"keyword": "Tessel"})
    subscribe(conn, "bakers", {"all": [{"keyword": "bakery"}, {"blog": "coast"}]})
    processor = DocumentProcessor(conn, settings, PlainEnricher())
    original = post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD)
    repost = post("r", 9, "Recap: how the Tessel flooded Keldby", repost_intro(FLOOD, INTRO))
    other = post("x", 10, "Family rescued at Sallow End", OTHER_FLOOD)
    processor.process(page([original], minutes_after=5))
    processor.process(page([original, repost, other], minutes_after=5))
    syndicated = post("s", 11, "Keldby flooding: the Tessel overflows", FLOOD, blog="coast")
    processor.process(page([syndicated], minutes_after=5, blog="coast"))

    events = stream_events(conn)
    assert len({e["data"]["story_id"] for e in events if e["data"]["post"]["title"] != other.title}) == 1
    floods = alerts(conn, "floods")
    assert len(floods) == 1, "three tellings of one story, one alert"
    first = next(e for e in events if e["data"]["post"]["title"] == original.title)
    assert floods[0]["event_id"] == first["id"]
    assert floods[0]["id"] == alert_id("floods", first["id"])
    assert json.loads(floods[0]["rule"]) == ["keyword:Tessel"]
    assert json.loads(floods[0]["event"]) == first
    (_, raw), = conn.xrange(KEYS.alerts("floods"))
    assert alert_event_id(raw) == first["id"], "the live page highlights the event the alert names"
    bakers = alerts(conn, "bakers")  # first match of this rule is the syndicated copy: its first alert
    assert [a["event_id"] for a in bakers] == [events[-1]["id"]]
    c = counters(conn)
    assert c["alerts_matched"] == 2 and c["alerts_suppressed"] == 2


def test_an_edit_alerts_only_when_it_newly_matches(conn, settings):
    subscribe(conn, "bakery", {"keyword": "bakery"})
    processor = DocumentProcessor(conn, settings, PlainEnricher())
    plain = OTHER_FLOOD
    processor.process(page([post("p", 6, "Sallow End rescue", plain)], minutes_after=5))
    assert alerts(conn, "bakery") == []
    edited = plain + " A bakery van carried blankets."
    processor.process(page([post("p", 6, "Sallow End rescue", edited)], minutes_after=30))
    processor.process(page([post("p", 6, "Sallow End rescue", edited + " More soon.")], minutes_after=60))
    events = stream_events(conn)
    assert [e["data"]["post"]["revision"] for e in events] == [1, 2, 3]
    first, *rest = alerts(conn, "bakery")
    assert first["event_id"] == events[1]["id"] and "kind" not in first
    # the third revision does not alert again: it is a correction of the alerted post (test_followups.py)
    assert [(a["kind"], a["event_id"], a["original_id"]) for a in rest] == [("correction", events[2]["id"], first["id"])]


def test_a_plan_made_with_a_stale_subscription_set_is_replanned(conn, settings):
    processor = DocumentProcessor(conn, settings, PlainEnricher())
    processor.subscriptions.current()  # cached: no subscriptions
    subscribe(conn, "late", {"keyword": "Tessel"})  # moves the version behind the cache's back
    processor.subscriptions.version = "0"  # the cache still believes in the old set
    processor.subscriptions.subscriptions = ()
    original_current = processor.subscriptions.current
    calls = []

    def stale_once(version=None):
        calls.append(1)
        if len(calls) == 1:
            return "0", ()
        return original_current(version)

    processor.subscriptions.current = stale_once
    outcome = processor.process(page([post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD)], minutes_after=5))
    assert outcome.commit_attempts == 2, "the script refused the stale plan"
    assert len(alerts(conn, "late")) == 1


def test_replaying_the_same_documents_gives_the_same_alerts(redis_url, settings):
    import redis as redis_lib

    def run() -> list[dict]:
        conn = redis_lib.Redis.from_url(redis_url)
        conn.flushall()
        subscribe(conn, "floods", {"keyword": "Keldby"})
        processor = DocumentProcessor(conn, settings, PlainEnricher())
        processor.process(page([post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD)], minutes_after=5))
        processor.process(page([post("x", 10, "Family rescued near Keldby", OTHER_FLOOD)], minutes_after=5))
        return alerts(conn, "floods")

    first, second = run(), run()
    assert len(first) == 2 and first == second


def test_topic_streams_and_notifications_are_written_by_the_commit(conn, settings):
    from schemas.events import Enrichment

    class Topical(PlainEnricher):
        def enrich(self, post, context):
            return Enrichment(language="en", topics=["weather", "transport"], enrichers={"plain": "0"})

    pubsub = conn.pubsub()
    pubsub.subscribe(KEYS.notify, KEYS.blog_notify("valley"))
    pubsub.get_message(timeout=1), pubsub.get_message(timeout=1)  # the two subscribe confirmations
    DocumentProcessor(conn, settings, Topical()).process(
        page([post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD)], minutes_after=5))
    event = stream_events(conn)[0]
    assert stream_events(conn, KEYS.topic_events("weather")) == [event]
    assert stream_events(conn, KEYS.topic_events("transport")) == [event]
    notes = [pubsub.get_message(timeout=1) for _ in range(2)]
    assert {n["channel"].decode() for n in notes} == {"liveblog:notify", "liveblog:notify:valley"}
    assert json.loads(notes[0]["data"]) == {"id": event["id"], "blog": "valley", "type": "liveblog.post.created"}
    pubsub.close()
