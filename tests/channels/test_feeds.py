"""Feeds rendered from the streams: one item per post, the latest revision, `updated` from the edit."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import pytest

from liveblog.feeds import ATOM, atom_feed, json_feed, latest_posts
from schemas.keys import Keys
from schemas.subscriptions import Rule, Subscription
from tests.conftest import run_cli
from tests.dedup.pages import FLOOD, OTHER_FLOOD, page, post
from tests.helpers import PlainEnricher
from workers.alerts import store
from workers.pipeline import DocumentProcessor

pytestmark = pytest.mark.redis
KEYS = Keys()


@pytest.fixture
def edited_blog(conn, settings):
    store.save(conn, KEYS, Subscription(name="rescues", rule=Rule(keyword="rescue")))
    processor = DocumentProcessor(conn, settings, PlainEnricher())
    a = post("a", 6, "River Tessel bursts its banks at Keldby", FLOOD)
    b = post("b", 7, "Sallow End rescue", OTHER_FLOOD)
    processor.process(page([a, b], minutes_after=5))
    processor.process(page([a, post("b", 7, "Sallow End rescue", OTHER_FLOOD + " All five are safe.")],
                           minutes_after=40))
    return KEYS.blog_events("valley")


def test_json_feed_has_one_item_per_post_with_the_edit_time_as_date_modified(conn, edited_blog):
    feed = json_feed(latest_posts(conn, edited_blog, 10), title="valley")
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    rescue, flood = feed["items"]  # newest first
    assert rescue["title"] == "Sallow End rescue" and rescue["content_text"].endswith("All five are safe.")
    assert rescue["_liveblog"]["revision"] == 2
    assert rescue["date_modified"] == "2025-03-02T07:40:00Z" and rescue["date_published"] == "2025-03-02T07:00:00Z"
    assert flood["date_modified"] == flood["date_published"] == "2025-03-02T06:00:00Z"


def test_atom_feed_is_well_formed_and_updated_is_the_latest_revision(conn, edited_blog):
    root = ET.fromstring(atom_feed(latest_posts(conn, edited_blog, 10), title="valley", feed_id="urn:x"))
    entries = root.findall(f"{{{ATOM}}}entry")
    assert [e.findtext(f"{{{ATOM}}}title") for e in entries] == ["Sallow End rescue",
                                                                  "River Tessel bursts its banks at Keldby"]
    assert entries[0].findtext(f"{{{ATOM}}}updated") == "2025-03-02T07:40:00Z"
    assert root.findtext(f"{{{ATOM}}}updated") == "2025-03-02T07:40:00Z"


def test_feed_cli_for_a_blog_and_for_a_subscription(redis_url, edited_blog):
    blog = run_cli("feed", "--blog", "valley", redis_url=redis_url)
    assert blog.returncode == 0 and len(json.loads(blog.stdout)["items"]) == 2
    sub = run_cli("feed", "--subscription", "rescues", "--format", "atom", redis_url=redis_url)
    titles = [e.findtext(f"{{{ATOM}}}title") for e in ET.fromstring(sub.stdout).findall(f"{{{ATOM}}}entry")]
    assert titles == ["Sallow End rescue"]
