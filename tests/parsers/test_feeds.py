"""RSS 2.0 and Atom feeds: ids, edits, times, authors and malformed XML."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from schemas.documents import ParseOptions, RawDocument
from schemas.errors import InputRejected
from workers.parsers import feeds, parse

FORMATS = Path(__file__).resolve().parents[2] / "samples" / "formats"
FETCHED = datetime(2025, 6, 21, 20, 0, tzinfo=timezone.utc)


def load_sample(name: str) -> tuple[RawDocument, dict]:
    """The fixture as a producer would enqueue it, and its hand-written ground truth."""
    expected = json.loads((FORMATS / f"{name}.expected.json").read_text(encoding="utf-8"))
    options = dict(expected["options"])
    if mapping_file := options.pop("json_mapping_file", None):
        options["json_mapping"] = json.loads((FORMATS / mapping_file).read_text(encoding="utf-8"))
    raw = RawDocument.from_bytes(
        (FORMATS / expected["file"]).read_bytes(), blog_id=name, source=f"samples/formats/{expected['file']}",
        fetched_at=datetime.fromisoformat(expected["fetched_at"]), options=ParseOptions(**options),
    )
    return raw, expected


def check_against_expected(name: str) -> None:
    raw, expected = load_sample(name)
    doc = parse(raw)
    assert doc.format == expected["format"]
    assert doc.blog.model_dump(include={"title", "url", "standfirst"}) == expected["blog"]
    if "warnings" in expected:
        assert doc.warnings == expected["warnings"]
    for fragment in expected.get("warnings_contain", []):
        assert any(fragment in w for w in doc.warnings), (fragment, doc.warnings)
    assert len(doc.posts) == len(expected["posts"])
    for post, want in zip(doc.posts, expected["posts"]):
        got = post.model_dump(mode="json")
        for key, value in want.items():
            if key == "body_starts":
                assert post.body.startswith(value), (post.title, post.body[:80])
            elif key == "body_paragraphs":
                assert len(post.body.split("\n\n")) == value, (post.title, post.body)
            else:
                assert got[key] == value, (post.title, key, got[key], value)


def feed_doc(xml: str, tz: str = "UTC") -> RawDocument:
    return RawDocument.from_bytes(xml.encode(), blog_id="f", source="feed.xml", fetched_at=FETCHED,
                                  options=ParseOptions(tz=tz))


@pytest.mark.parametrize("name", ["transit-strike-v1", "transit-strike-v2", "eclipse-watch-atom", "mojibake-feed"])
def test_feed_fixture_matches_ground_truth(name):
    check_against_expected(name)


def test_edited_item_keeps_its_post_id_while_its_title_changes():
    def poll(name: str) -> dict:
        raw = load_sample(name)[0].model_copy(update={"blog_id": "valmora-transit"})
        return {p.source_id: p for p in parse(raw).posts}

    before, after = poll("transit-strike-v1"), poll("transit-strike-v2")
    old, new = before["valmora-live-transit-118"], after["valmora-live-transit-118"]
    assert old.title != new.title
    assert old.post_id == new.post_id
    assert new.updated_at is not None and old.updated_at is None
    assert set(after) - set(before) == {"valmora-live-transit-119"}
    assert all(before[k].post_id == after[k].post_id for k in before)


def test_mojibake_is_repaired_in_titles_bodies_and_authors():
    doc = parse(load_sample("mojibake-feed")[0])
    dumped = doc.model_dump_json()
    assert "â€" not in dumped and "Ã" not in dumped
    assert doc.posts[1].author == "João Brennan"


def test_naive_pubdate_is_read_in_the_blog_zone():
    xml = """<rss version="2.0"><channel><title>t</title><item><guid>a</guid><title>Naive</title>
    <pubDate>Sat, 12 Jul 2025 09:00:00</pubDate></item></channel></rss>"""
    [post] = parse(feed_doc(xml, tz="America/New_York")).posts
    assert post.published_at == datetime(2025, 7, 12, 13, 0, tzinfo=timezone.utc)


def test_truncated_xml_is_rejected_even_though_feedparser_recovers_an_item():
    xml = '<rss version="2.0"><channel><item><guid>1</guid><title>Cut off</ti'
    with pytest.raises(InputRejected) as caught:
        parse(feed_doc(xml))
    assert caught.value.reason == "invalid XML"
    assert "SAXParseException" in caught.value.found


def test_feed_with_no_items_is_rejected_as_no_posts():
    xml = '<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet day</title></channel></rss>'
    with pytest.raises(InputRejected) as caught:
        parse(feed_doc(xml))
    assert caught.value.reason == "no posts"
    assert "'Quiet day'" in caught.value.found


def test_undated_items_are_skipped_with_a_warning():
    xml = """<rss version="2.0"><channel><title>t</title>
    <item><guid>a</guid><title>Dated</title><pubDate>Sat, 12 Jul 2025 09:00:00 GMT</pubDate></item>
    <item><guid>b</guid><title>Undated</title></item></channel></rss>"""
    doc = parse(feed_doc(xml))
    assert [p.title for p in doc.posts] == ["Dated"]
    assert doc.warnings and "undated entry" in doc.warnings[0]


def test_xml_that_is_not_a_feed_is_rejected():
    with pytest.raises(InputRejected) as caught:
        feeds.parse(feed_doc("<note><to>x</to></note>"), "<note><to>x</to></note>")
    assert caught.value.reason == "not a feed"


def test_a_path_in_the_body_is_never_opened_as_a_file(tmp_path):
    secret = tmp_path / "secret.xml"
    secret.write_text('<rss version="2.0"><channel><item><guid>s</guid><title>Secret</title>'
                      '<pubDate>Sat, 12 Jul 2025 09:00:00 GMT</pubDate></item></channel></rss>')
    with pytest.raises(InputRejected):
        feeds.parse(feed_doc(str(secret)), str(secret))
