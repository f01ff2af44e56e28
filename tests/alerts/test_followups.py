"""Follow-up alerts: a post that alerted a subscriber is retracted, corrected or restored.

Each follow-up is committed by the script that publishes the event it is about, so it is
sent once per (subscriber, event) whatever retries and re-plans do, and only to the
subscribers the post itself alerted.
"""

from __future__ import annotations

import json

import pytest

from schemas.keys import Keys
from schemas.subscriptions import Rule, Subscription, alert_id, followup_id
from tests.dedup.pages import FILLER, FLOOD, OTHER_FLOOD, page, post, repost_intro
from tests.helpers import PlainEnricher, alerts, counters, stream_events, subscribe
from workers.alerts import store
from workers.pipeline import DocumentProcessor

pytestmark = pytest.mark.redis
KEYS = Keys()
TITLE = "River Tessel bursts its banks at Keldby"



def around(flood_body: str = FLOOD, *, minutes_after: float = 5, author: str | None = None):
    """The valley page: the flood post between two notices (so its absence is a retraction)."""
    flood = post("o", 6, TITLE, flood_body)
    if author:
        flood = flood.__class__(**{**flood.__dict__, "author": author})
    return page([post("n1", 5, "Valley notice one", FILLER[0]), flood,
                 post("n2", 7, "Valley notice two", FILLER[1])], minutes_after=minutes_after)


def without_flood(minutes_after: float = 30):
    return page([post("n1", 5, "Valley notice one", FILLER[0]), post("n2", 7, "Valley notice two", FILLER[1])],
                minutes_after=minutes_after)


def by_type(conn, etype: str) -> list[dict]:
    return [e for e in stream_events(conn) if e["type"] == etype]


def test_a_retracted_post_sends_one_retraction_follow_up_to_the_subscriber_it_alerted(conn, settings):
    subscribe(conn, "desk", {"keyword": "Tessel"})
    subscribe(conn, "quiet", {"keyword": "volcano"})  # never alerted: never followed up
    processor = DocumentProcessor(conn, settings, PlainEnricher())
    processor.process(around())
    (original,) = alerts(conn, "desk")
    processor.process(without_flood())
    (retracted,) = by_type(conn, "liveblog.post.retracted")
    assert retracted["data"]["post"]["title"] == TITLE
    first, follow = alerts(conn, "desk")
    assert first == original
    assert follow["kind"] == "retraction" and follow["original_id"] == original["id"]
    assert follow["event_id"] == retracted["id"] and follow["type"] == "liveblog.post.retracted"
    assert follow["id"] == followup_id("desk", retracted["id"], "retraction") != alert_id("desk", retracted["id"])
    assert json.loads(follow["event"]) == retracted and follow["story_id"] == original["story_id"]
    assert json.loads(follow["rule"]) is None and json.loads(follow["changes"]) == []
    assert alerts(conn, "quiet") == []
    c = counters(conn)
    assert c["alerts_matched"] == 1 and c["alerts_followups"] == 1 and c["alerts_followups_retraction"] == 1
    processor.process(without_flood(minutes_after=60))  # polled again: nothing new
    assert len(alerts(conn, "desk")) == 2


def test_a_body_correction_follows_up_whether_or_not_the_rule_still_matches(conn, settings):
    subscribe(conn, "bakery", {"keyword": "bakery"})  # only the flood body's last sentence names it
    subscribe(conn, "river", {"keyword": "Tessel"})
    processor = DocumentProcessor(conn, settings, PlainEnricher())
    processor.process(around())
    corrected = FLOOD.replace("Joan Pelling, who has run the bakery on Mill Row for thirty years, said",
                              "Joan Pelling, who lives on Mill Row, said")
    assert corrected != FLOOD
    processor.process(around(corrected, minutes_after=30))
    (updated,) = by_type(conn, "liveblog.post.updated")
    assert updated["data"]["changes"] == ["body"]
    for name, still in (("bakery", None), ("river", ["keyword:Tessel"])):
        original, follow = alerts(conn, name)
        assert (follow["kind"], follow["original_id"], follow["event_id"]) == ("correction", original["id"], updated["id"])
        assert json.loads(follow["changes"]) == ["body"] and json.loads(follow["rule"]) == still, name
        assert json.loads(follow["event"])["data"]["post"]["body"] == corrected
    assert counters(conn)["alerts_followups_correction"] == 2


def test_an_author_only_change_sends_no_follow_up(conn, settings):
    subscribe(conn, "desk", {"keyword": "Tessel"})
    processor = DocumentProcessor(conn, settings, PlainEnricher())
    processor.process(around())
    processor.process(around(minutes_after=30, author="Editor"))
    (updated,) = by_type(conn, "liveblog.post.updated")
    assert updated["data"]["changes"] == ["author"]
    assert len(alerts(conn, "desk")) == 1
    assert "alerts_followups" not in counters(conn)


def test_no_follow_up_for_a_post_that_never_alerted_the_subscriber(conn, settings):
    """The re-post matched too, but was held back (the story had alerted): its edit and its
    retraction say nothing; nor does a post that matched no rule."""
    subscribe(conn, "desk", {"keyword": "Tessel"})
    processor = DocumentProcessor(conn, settings, PlainEnricher())
    intro = "If you are just joining us, here is how the morning began in Keldby."
    repost = post("r", 6.5, "Recap: how the Tessel flooded Keldby", repost_intro(FLOOD, intro))
    other = post("x", 6.7, "Family rescued at Sallow End", OTHER_FLOOD)
    notice = [post("n1", 5, "Valley notice one", FILLER[0]), post("n2", 7, "Valley notice two", FILLER[1])]
    processor.process(page([notice[0], post("o", 6, TITLE, FLOOD), repost, other, notice[1]], minutes_after=5))
    (original,) = alerts(conn, "desk")
    created = {e["data"]["post"]["title"]: e for e in by_type(conn, "liveblog.post.created")}
    assert original["event_id"] == created[TITLE]["id"]  # the original, not the re-post
    edited = repost.__class__(**{**repost.__dict__, "body": repost.body + " More soon."})
    other_edit = other.__class__(**{**other.__dict__, "body": other.body + " More soon."})
    processor.process(page([notice[0], post("o", 6, TITLE, FLOOD), edited, other_edit, notice[1]], minutes_after=30))
    processor.process(page([notice[0], post("o", 6, TITLE, FLOOD), notice[1]], minutes_after=60))
    assert {e["data"]["post"]["title"] for e in by_type(conn, "liveblog.post.retracted")} == {repost.title, other.title}
    assert len(by_type(conn, "liveblog.post.updated")) == 2
    assert alerts(conn, "desk") == [original]
    assert counters(conn).get("alerts_followups", 0) == 0


def test_a_retracted_post_shown_again_is_a_restoration(conn, settings):
    subscribe(conn, "desk", {"keyword": "Tessel"})
    processor = DocumentProcessor(conn, settings, PlainEnricher())
    processor.process(around())
    processor.process(without_flood())
    processor.process(around(minutes_after=90))
    original, retraction, restoration = alerts(conn, "desk")
    assert [retraction["kind"], restoration["kind"]] == ["retraction", "restoration"]
    assert retraction["original_id"] == restoration["original_id"] == original["id"]
    assert restoration["event_id"] == by_type(conn, "liveblog.post.updated")[0]["id"]


def test_a_retried_commit_sends_the_follow_up_once(conn, settings, monkeypatch):
    subscribe(conn, "desk", {"keyword": "Tessel"})
    processor = DocumentProcessor(conn, settings, PlainEnricher())
    processor.process(around())
    real_commit, results = processor.committer.commit, []

    def commit_twice(**kwargs):  # the worker dies after the commit; the job's retry commits again
        results.append(real_commit(**kwargs))
        results.append(real_commit(**kwargs))
        return results[0]

    monkeypatch.setattr(processor.committer, "commit", commit_twice)
    processor.process(without_flood())
    assert [r[0] for r in results] == ["ok", "done"]
    assert [a.get("kind") for a in alerts(conn, "desk")] == [None, "retraction"]
    assert counters(conn)["alerts_followups"] == 1


def test_a_re_planned_commit_sends_the_follow_up_once(conn, settings, monkeypatch):
    """Two workers with two polls of the same correction: the second to commit finds the post
    moved under its plan, re-plans, and sees a duplicate - no second follow-up."""
    subscribe(conn, "desk", {"keyword": "Tessel"})
    DocumentProcessor(conn, settings, PlainEnricher()).process(around())
    corrected = FLOOD.replace("1.8 metres", "2.1 metres")
    racing, other = DocumentProcessor(conn, settings, PlainEnricher()), DocumentProcessor(conn, settings, PlainEnricher())
    real_commit, plans = racing.committer.commit, []

    def commit_after_the_other(**kwargs):
        plans.append(len(kwargs["channels"].followups))
        if len(plans) == 1:
            other.process(around(corrected, minutes_after=31))
        return real_commit(**kwargs)

    monkeypatch.setattr(racing.committer, "commit", commit_after_the_other)
    outcome = racing.process(around(corrected, minutes_after=30))
    assert outcome.commit_attempts == 2 and plans == [1, 0], "planned once, re-planned without it"
    assert [a.get("kind") for a in alerts(conn, "desk")] == [None, "correction"]
    assert len(by_type(conn, "liveblog.post.updated")) == 1
    assert counters(conn)["alerts_followups"] == 1


def test_without_subscriptions_the_commit_runs_no_extra_command(conn, settings):
    processor = DocumentProcessor(conn, settings, PlainEnricher())
    processor.process(around())
    before = {k: v["calls"] for k, v in conn.info("commandstats").items()}
    processor.process(without_flood())
    after = {k: v["calls"] for k, v in conn.info("commandstats").items()}
    ran = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert "alerts_followups" not in counters(conn)
    assert "cmdstat_hget" not in ran and ran.get("cmdstat_hincrby") == 11, ran


def test_a_retraction_follow_up_is_delivered_signed_after_its_original(conn, settings):
    import base64

    from liveblog.dispatch import Dispatcher
    from tests.alerts.receiver import Receiver

    secret = "whsec_" + base64.b64encode(b"a follow-up test secret!").decode()
    fast = settings.model_copy(update={"webhook_backoff_base_s": 0.02, "webhook_backoff_max_s": 0.1})
    with Receiver(secret) as receiver:
        store.save(conn, KEYS, Subscription(name="desk", rule=Rule(keyword="Tessel"), webhook_url=receiver.url,
                                            webhook_secret=secret))
        processor = DocumentProcessor(conn, settings, PlainEnricher())
        processor.process(around())
        processor.process(without_flood())
        assert Dispatcher(conn, fast, allow_private=True).run(burst=True) == 2
    assert all(r["verified"] for r in receiver.requests) and len(receiver.requests) == 2
    original, follow = (body for _, body in sorted(receiver.received.values(), key=lambda tb: tb[0]))
    assert original["type"] == "liveblog.alert" and original["kind"] == "alert" and "original_id" not in original
    (retracted,) = by_type(conn, "liveblog.post.retracted")
    assert follow["type"] == "liveblog.alert.retraction" and follow["kind"] == "retraction"
    assert follow["original_id"] == original["id"] and follow["event_id"] == retracted["id"]
    assert follow["event"] == retracted and follow["rule"] is None and follow["changes"] == []
    assert receiver.requests[1]["headers"]["webhook-id"] == follow["id"]
    import jsonschema

    from liveblog.schema_cli import alert_schema
    for body in (original, follow):  # what `liveblog schema alert` prints describes both
        jsonschema.validate(body, alert_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**follow, "kind": "erratum"}, alert_schema())
    sent = [{k.decode(): v.decode() for k, v in f.items()} for _, f in conn.xrange(KEYS.deliveries)]
    assert [(d["outcome"], d.get("kind")) for d in sent] == [("sent", None), ("sent", "retraction")]
    assert counters(conn)["alerts_sent"] == 2


def test_feed_and_tail_show_the_follow_up_with_its_kind_and_original(redis_url, conn, settings):
    from tests.conftest import run_cli

    subscribe(conn, "desk", {"keyword": "Tessel"})
    processor = DocumentProcessor(conn, settings, PlainEnricher())
    processor.process(around())
    processor.process(without_flood())
    original, follow = alerts(conn, "desk")
    feed = run_cli("feed", "--subscription", "desk", redis_url=redis_url)
    assert feed.returncode == 0, feed.stderr
    newest, oldest = json.loads(feed.stdout)["items"]
    assert newest["id"] == follow["id"] and newest["title"] == f"Retracted: {TITLE}"
    assert newest["_liveblog"]["kind"] == "retraction" and newest["_liveblog"]["original_id"] == original["id"]
    assert oldest["id"] == original["id"] and oldest["_liveblog"]["kind"] == "alert"
    tail = run_cli("tail", "--subscription", "desk", redis_url=redis_url)
    assert tail.returncode == 0, tail.stderr
    lines = [json.loads(line) for line in tail.stdout.decode().splitlines()]
    assert [(b["type"], b["id"], b.get("original_id")) for b in lines] == [
        ("liveblog.alert", original["id"], None), ("liveblog.alert.retraction", follow["id"], original["id"])]
    refused = run_cli("tail", "--subscription", "desk", "--group", "dispatch", redis_url=redis_url)
    assert refused.returncode == 2 and b"dispatcher" in refused.stderr


def test_stats_count_follow_ups_by_kind_and_reconcile(conn, settings):
    from liveblog import stats

    subscribe(conn, "desk", {"keyword": "Tessel"})
    processor = DocumentProcessor(conn, settings, PlainEnricher())
    processor.process(around())
    processor.process(around(FLOOD.replace("1.8 metres", "2.1 metres"), minutes_after=20))  # correction
    processor.process(without_flood())  # retraction
    report = stats.collect(conn, settings)
    c = report["counters"]
    assert (c["alerts_matched"], c["alerts_followups"], c["alerts_followups_correction"],
            c["alerts_followups_retraction"], c["alerts_followups_restoration"]) == (1, 2, 1, 1, 0)
    assert report["reconciled"]["followups"]  # (documents do not: these were never produced, only processed)
    assert "follow-ups 2 = retractions 1 + corrections 1 + restorations 0   [ok]" in stats.render(report)
    assert len(alerts(conn, "desk")) == c["alerts_matched"] + c["alerts_followups"]
    conn.hincrby(KEYS.stats, "alerts_followups", 1)  # a follow-up of no kind: they no longer add up
    broken = stats.collect(conn, settings)
    assert not broken["reconciled"]["followups"] and not broken["reconciled"]["ok"]
    assert "[MISMATCH]" in stats.render(broken).splitlines()[5]
