"""The live page in a real browser: Debian's Chromium, driven by Playwright.

A post committed by a worker shows within a second, topic and entity filters leave only
matching cards, edits show as edits, hostile titles stay text, and a screenshot is kept in
``test-artifacts/web.png``. Chromium comes from the system (``apt-get install -y chromium``);
without it this test fails in CI (``CI=true``) and is skipped elsewhere, with the fix.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from rq.serializers import JSONSerializer

from producers.enqueue import ingest_queue, submit
from tests.conftest import ROOT
from tests.helpers import STORM, doc, growing_snapshots, stream_events
from tests.web.server import event_json, publish, serve
from workers import runtime
from workers.worker import LiveblogWorker

pytestmark = pytest.mark.redis
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LATENCY_BUDGET_S = 1.0


def chromium_path() -> str:
    path = os.environ.get("LIVEBLOG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if Path(path).exists():
        return path
    message = ("Chromium is not installed: run `make setup` as root (it runs `apt-get install -y chromium`), "
               "or set LIVEBLOG_CHROMIUM to a Chromium binary")
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def page(tmp_path):
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=executable, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 1400},
        )
        try:
            tab = context.new_page()
            errors: list[str] = []
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            yield tab
            assert errors == [], f"the page raised: {errors}"
        finally:
            context.close()


@pytest.fixture
def work(conn, settings):
    runtime.configure(settings)  # the real enrichers: the page shows their entities and topics

    def run() -> None:
        LiveblogWorker([ingest_queue(conn, settings)], connection=conn, serializer=JSONSerializer).work(burst=True)

    yield run
    runtime.configure(settings)


def wait_for_cards(page, count: int) -> None:
    """Until the feed shows ``count`` cards. A locator assertion polls through Playwright's
    selector engine; ``wait_for_function`` with a string falls back to ``eval`` inside the
    page when it has to poll, which the page's own CSP (no 'unsafe-eval') rightly refuses."""
    from playwright.sync_api import expect

    expect(page.locator("article.card")).to_have_count(count, timeout=5000)


def visible_titles(page) -> list[str]:
    return page.eval_on_selector_all("article.card:not([hidden]) .title", "nodes => nodes.map(n => n.textContent)")


def assert_filtered(page, select: str, value: str, chip: str, expected: list[str], total: int) -> None:
    """Choose ``value`` in the ``select`` filter: exactly the ``expected`` titles stay visible,
    the counter says so, and every visible card carries a ``chip`` chip with that value."""
    page.select_option(select, value)
    assert sorted(visible_titles(page)) == expected
    assert page.text_content("#counts") == f"showing {len(expected)} of {total} posts"
    for chips in page.eval_on_selector_all(
        "article.card:not([hidden]) .chips",
        "nodes => nodes.map(n => [...n.querySelectorAll('." + chip + "')].map(c => c.textContent))",
    ):
        assert value in chips


def test_a_committed_post_appears_within_a_second_and_the_topic_filter_keeps_only_matches(
    page, conn, settings, work
):
    snapshots = growing_snapshots(STORM.read_text())
    submit(conn, doc(snapshots[-2].encode(), minutes=0), settings)
    work()
    before = len(stream_events(conn))
    with serve(settings) as url:
        page.goto(url + "/")
        wait_for_cards(page, before)
        assert page.text_content("#status") == "live"

        submit(conn, doc(snapshots[-1].encode(), minutes=5), settings)  # the page grew by one post
        work()
        committed = time.time()
        [new_entry] = conn.xrevrange("liveblog:events", count=1)
        new_event = stream_events(conn)[-1]
        selector = f'article.card[data-post-id="{new_event["data"]["post"]["id"]}"]'
        page.wait_for_selector(selector, timeout=LATENCY_BUDGET_S * 1000)
        seen = time.time()
        commit_ms = int(new_entry[0].decode().split("-")[0])  # the Redis clock at the XADD
        assert seen - committed < LATENCY_BUDGET_S
        assert seen - commit_ms / 1000 < LATENCY_BUDGET_S + 0.2  # from the commit itself (same host clock)
        assert page.text_content(selector + " .title") == new_event["data"]["post"]["title"]
        assert page.query_selector(f"#feed > section.story:first-child {selector}") is not None  # newest on top

        events = stream_events(conn)
        topic = "military"
        expected = sorted(e["data"]["post"]["title"] for e in events if topic in e["data"]["topics"])
        assert 0 < len(expected) < len(events)
        assert_filtered(page, "#filter-topic", topic, "topic", expected, len(events))

        page.select_option("#filter-topic", "")
        assert len(visible_titles(page)) == len(events)

        # the entity filter: the most mentioned entity that not every post has
        mentions: dict[str, int] = {}
        for e in events:
            for canonical in {x["canonical"] for x in e["data"]["entities"]}:
                mentions[canonical] = mentions.get(canonical, 0) + 1
        entity = max((n, c) for c, n in mentions.items() if n < len(events))[1]
        with_entity = sorted(e["data"]["post"]["title"] for e in events
                             if entity in {x["canonical"] for x in e["data"]["entities"]})
        assert 1 < len(with_entity) < len(events)
        options = page.eval_on_selector_all("#filter-entity option", "os => os.map(o => o.value)")
        assert options[0] == "" and set(options[1:]) == set(mentions)  # one option per entity on the page
        assert_filtered(page, "#filter-entity", entity, "entity", with_entity, len(events))
        hidden_stories = page.eval_on_selector_all("section.story[hidden]", "ns => ns.length")
        assert hidden_stories > 0  # a story with no matching card is hidden as a whole
        both = sorted(e["data"]["post"]["title"] for e in events
                      if entity in {x["canonical"] for x in e["data"]["entities"]} and topic in e["data"]["topics"])
        page.select_option("#filter-topic", topic)  # filters combine: entity and topic
        assert sorted(visible_titles(page)) == both
        page.select_option("#filter-topic", "")
        page.select_option("#filter-entity", "")
        assert len(visible_titles(page)) == len(events)

        page.fill("#filter-urgency", "0.7")
        page.dispatch_event("#filter-urgency", "input")
        urgent = [e for e in events if e["data"]["urgency"] >= 0.7]
        assert len(visible_titles(page)) == len(urgent) > 0
        assert page.eval_on_selector_all("article.card:not([hidden])", "ns => ns.every(n => n.classList.contains('alert'))")
        page.fill("#filter-urgency", "0")
        page.dispatch_event("#filter-urgency", "input")
        page.select_option("#filter-topic", topic)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web.png"), full_page=True)
    assert (ARTIFACTS / "web.png").stat().st_size > 10_000


def test_edits_replace_the_card_stories_group_and_source_markup_stays_text(page, conn, settings):
    hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    publish(conn, event_json("e1", post_id="p1", title="Bridge closed", story_id="st-1", topics=["transport"]))
    publish(conn, event_json("e2", post_id="p2", title=hostile, body=hostile, story_id="st-1"))
    publish(conn, event_json("e3", post_id="p3", title="Other news", story_id="st-2"))
    conn.xadd("liveblog:alerts:newsdesk", {"event_id": "unrelated"})  # the stream exists when the page opens
    with serve(settings) as url:
        page.goto(url + "/")
        wait_for_cards(page, 3)
        assert page.text_content('[data-post-id="p2"] .title') == hostile  # shown as characters
        assert page.evaluate("window.pwned === undefined")
        assert page.query_selector('[data-post-id="p2"] img') is None
        assert page.text_content('section[data-story="st-1"] .story-head') == "Story · 2 posts"
        assert page.text_content('section[data-story="st-2"] .story-head') == ""

        publish(conn, event_json("e1b", post_id="p1", title="Bridge reopened", revision=2, story_id="st-1",
                                 changes=["title"], urgency=0.8))
        page.wait_for_selector('[data-post-id="p1"][data-revision="2"]', timeout=1000)
        assert page.eval_on_selector_all('[data-post-id="p1"]', "ns => ns.length") == 1  # replaced, not added
        assert page.text_content('[data-post-id="p1"] .title') == "Bridge reopened"
        assert page.text_content('[data-post-id="p1"] .edited') == "edited (r2)"
        assert page.get_attribute('[data-post-id="p1"] .edited', "title") == "changed: title"
        assert "alert" in page.get_attribute('[data-post-id="p1"]', "class")

        conn.xadd("liveblog:alerts:newsdesk", {"event_id": "e3"})  # an alert names a calm post
        page.wait_for_selector('[data-post-id="p3"].alert', timeout=1000)
        assert page.text_content('[data-post-id="p3"] .alert-badge') == "alert"
        assert "alert" not in page.get_attribute('[data-post-id="p2"]', "class")
