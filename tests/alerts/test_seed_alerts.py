"""The Independent's Ukraine live page (../shared/seeds): a Nord Stream 2 + energy
subscription alerts once per story, not once per post that mentions the pipeline.

Verified by hand against the page (times UTC; the page's zone is Europe/London, UTC in January):
- six posts name Nord Stream 2 and carry the energy topic: 27 Jan 14:05 ("US and Germany
  could target key Russian pipeline..."), 14:25 ("'Nothing will be off the table, including
  Nord Stream 2'..."), 17:14 ("State Department says Nord Stream 2 is dead..."), 28 Jan 01:00
  ("Rhetoric shows no signs of cooling down", Ned Price on stopping the pipeline), 10:16
  (Lavrov-Baerbock call; the pipeline awaits German approval) and 11:47 (UK urges Putin to
  de-escalate; the US threat to halt the pipeline);
- 14:05 and 17:14 tell the same story (Ned Price's NPR quote, linked by tests/dedup): one alert,
  on 14:05, the first telling; 17:14 is held back.
- The enrichers' gazetteer does not know "Nord Stream 2" as an entity (no entity id on any post),
  so the entity rule matches the full name written in the text; the reasons say so.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from schemas.documents import ParseOptions, RawDocument
from schemas.keys import Keys
from schemas.subscriptions import Rule, Subscription
from tests.conftest import SEEDS
from tests.helpers import stream_events
from workers.alerts import store
from workers.pipeline import DocumentProcessor

pytestmark = pytest.mark.redis
SEED = SEEDS / "independent-ukraine-live-2022-01-28.txt"
RULE = {"all": [{"entity": "Nord Stream 2"}, {"topic": "energy"}]}
MENTIONS = {"2022-01-27T14:05:00Z", "2022-01-27T14:25:00Z", "2022-01-27T17:14:00Z", "2022-01-28T01:00:00Z",
            "2022-01-28T10:16:00Z", "2022-01-28T11:47:00Z"}


def test_nord_stream_energy_subscription_alerts_once_per_story(conn, settings):
    if not SEED.exists():
        pytest.skip(f"seed page not present at {SEED}")
    keys = Keys()
    store.save(conn, keys, Subscription(name="pipeline-desk", rule=Rule.model_validate(RULE)))
    raw = RawDocument.from_bytes(
        SEED.read_bytes(), blog_id="independent-ukraine", source=SEED.name,
        fetched_at=datetime(2022, 1, 28, 12, 40, tzinfo=timezone.utc),
        options=ParseOptions(format="text", tz="Europe/London"),
    )
    DocumentProcessor(conn, settings).process(raw)
    events = stream_events(conn)
    matching = [e for e in events if "Nord Stream 2" in e["data"]["post"]["title"] + e["data"]["post"]["body"]
                and "energy" in e["data"]["topics"]]
    assert {e["data"]["post"]["published_at"] for e in matching} == MENTIONS
    alerts = [json.loads(f[b"event"]) for _, f in conn.xrange(keys.alerts("pipeline-desk"))]
    stories = {e["data"]["story_id"] for e in matching}
    assert sorted(a["data"]["story_id"] for a in alerts) == sorted(stories), "exactly one alert per story"
    assert len(alerts) < len(matching), "a story told twice alerted once"
    by_time = {e["data"]["post"]["published_at"]: e for e in matching}
    assert by_time["2022-01-27T14:05:00Z"]["data"]["story_id"] == by_time["2022-01-27T17:14:00Z"]["data"]["story_id"]
    alerted_times = {a["data"]["post"]["published_at"] for a in alerts}
    assert "2022-01-27T14:05:00Z" in alerted_times and "2022-01-27T17:14:00Z" not in alerted_times
    for story in stories:  # the first telling of each story is the one that alerted
        first = min((e["data"]["post"]["published_at"] for e in matching if e["data"]["story_id"] == story))
        assert first in alerted_times
    reasons = {json.loads(f[b"rule"].decode()).__str__() for _, f in conn.xrange(keys.alerts("pipeline-desk"))}
    assert reasons == {str(["entity:Nord Stream 2 (named in text)", "topic:energy"])}
