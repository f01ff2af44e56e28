"""JSON Feed 1.1 and the generic newsroom mapping."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from schemas.documents import ParseOptions, RawDocument
from schemas.errors import InputRejected
from tests.parsers.fixtures import check_against_expected
from workers.parsers import jsonfeed, parse

FETCHED = datetime(2025, 6, 21, 20, 0, tzinfo=timezone.utc)


MAPPING = {"items": "data.posts", "id": "uuid", "title": "headline", "body": "content.text", "time": "published"}


def json_doc(payload: object, mapping: dict | None = None, tz: str = "UTC") -> RawDocument:
    return RawDocument.from_bytes(json.dumps(payload).encode(), blog_id="j", source="api.json", fetched_at=FETCHED,
                                  options=ParseOptions(tz=tz, json_mapping=mapping))


def rejection(payload: object, mapping: dict | None = None) -> InputRejected:
    with pytest.raises(InputRejected) as caught:
        parse(json_doc(payload, mapping))
    return caught.value


@pytest.mark.parametrize("name", ["marathon-jsonfeed", "newsroom-api", "maltempo-cms-blocks"])
def test_json_fixture_matches_ground_truth(name):
    check_against_expected(name)


@pytest.mark.parametrize(
    ("value", "utc"),
    [
        ("2025-09-14T06:20:00+09:00", datetime(2025, 9, 13, 21, 20, tzinfo=timezone.utc)),
        ("2025-09-14T06:20:00", datetime(2025, 9, 13, 21, 20, tzinfo=timezone.utc)),
        (1757790000, datetime(2025, 9, 13, 19, 0, tzinfo=timezone.utc)),
        ("1757790000", datetime(2025, 9, 13, 19, 0, tzinfo=timezone.utc)),
        ([2025, 9, 14, 6, 20], datetime(2025, 9, 13, 21, 20, tzinfo=timezone.utc)),
    ],
)
def test_mapped_time_notations_become_utc(value, utc):
    payload = {"data": {"posts": [{"uuid": "x", "headline": "H", "published": value}]}}
    [post] = parse(json_doc(payload, MAPPING, tz="Asia/Tokyo")).posts
    assert post.published_at == utc


def test_mapped_id_keeps_the_key_when_the_headline_changes():
    first = {"data": {"posts": [{"uuid": "u-1", "headline": "Early title", "published": 1757790000}]}}
    second = {"data": {"posts": [{"uuid": "u-1", "headline": "Corrected title", "published": 1757790000}]}}
    assert parse(json_doc(first, MAPPING)).posts[0].post_id == parse(json_doc(second, MAPPING)).posts[0].post_id


def test_missing_items_path_names_what_was_expected_and_found():
    error = rejection({"data": {"stories": []}}, MAPPING)
    assert error.reason == "json_mapping path not found"
    assert error.expected == "a list at 'data.posts'"
    assert "no 'posts' in data" in error.found and "stories" in error.found


@pytest.mark.parametrize(
    ("mapping", "found"),
    [
        ({"items": "data.posts", "title": "headline"}, "missing ['time']"),
        ({"items": "data.posts", "time": "t", "title": "h", "colour": "c"}, "unknown keys ['colour']"),
        ({"items": "data.posts", "time": 5, "title": "h"}, "non-string values for ['time']"),
        ({"items": "data.posts", "time": "t"}, "neither 'title' nor 'body'"),
    ],
)
def test_invalid_mapping_is_rejected_with_the_problem(mapping, found):
    error = rejection({"data": {"posts": []}}, mapping)
    assert error.reason == "invalid json_mapping"
    assert found in error.found


def test_list_of_numbers_is_rejected():
    error = rejection([1, 2, 3])
    assert error.reason == "unrecognised JSON"
    assert error.found == "a list of 3 numbers"
    assert "JSON Feed" in error.expected


def test_list_of_numbers_under_a_mapping_is_rejected():
    error = rejection([1, 2, 3], {"items": "", "time": "t", "title": "h"})
    assert error.reason == "json_mapping items are not a list of objects"


def test_deeply_nested_json_is_rejected():
    body = "[" * 100_000 + "]" * 100_000
    raw = RawDocument.from_bytes(body.encode(), blog_id="j", source="deep.json", fetched_at=FETCHED)
    with pytest.raises(InputRejected) as caught:
        parse(raw)
    assert caught.value.reason == "JSON nested too deeply"


def test_invalid_json_is_rejected():
    raw = RawDocument.from_bytes(b'{"version": ', blog_id="j", source="bad.json", fetched_at=FETCHED)
    assert pytest.raises(InputRejected, parse, raw).value.reason == "invalid JSON"


def test_items_with_bad_times_are_skipped_and_all_bad_is_no_posts():
    payload = {"data": {"posts": [{"uuid": "a", "headline": "A", "published": "not a time"},
                                  {"uuid": "b", "headline": "B", "published": [2025, 13, 1, 0, 0]}]}}
    error = rejection(payload, MAPPING)
    assert error.reason == "no posts"
    assert "invalid time at 'published'" in error.found


def test_epoch_milliseconds_are_refused_rather_than_misread():
    payload = {"data": {"posts": [{"uuid": "a", "headline": "A", "published": 1757790000000},
                                  {"uuid": "b", "headline": "B", "published": 1757790000}]}}
    doc = parse(json_doc(payload, MAPPING))
    assert [p.title for p in doc.posts] == ["B"]
    assert "milliseconds" in doc.warnings[0]


def test_a_year_alone_is_refused_not_read_as_seconds_after_1970():
    payload = {"data": {"posts": [{"uuid": "a", "headline": "A", "published": "2025"},
                                  {"uuid": "b", "headline": "B", "published": 2025},
                                  {"uuid": "c", "headline": "C", "published": 1757790000}]}}
    doc = parse(json_doc(payload, MAPPING))
    assert [p.title for p in doc.posts] == ["C"]  # were 1970-01-01T00:33:45Z
    assert sum("a year alone (2025) is not a time" in w for w in doc.warnings) == 2


def test_json_feed_without_items_list_is_no_posts():
    error = rejection({"version": "https://jsonfeed.org/version/1.1", "title": "Empty"})
    assert error.reason == "no posts"


def test_html_body_in_mapping_is_read_as_html():
    mapping = {**MAPPING, "body_format": "html"}
    payload = {"data": {"posts": [{"uuid": "a", "headline": "A", "published": 1757790000,
                                   "content": {"text": "<p>One</p><script>x()</script><p>Two</p>"}}]}}
    assert parse(json_doc(payload, mapping)).posts[0].body == "One\n\nTwo"


def test_lookup_follows_list_indexes():
    assert jsonfeed.lookup({"a": [{"b": "c"}]}, "a.0.b") == "c"


def json_feed(item: dict | None = None, **feed) -> dict:
    item = {"id": "1", "title": "T", "content_text": "Body", "date_published": "2024-01-01T00:00:00Z", **(item or {})}
    return {"version": "https://jsonfeed.org/version/1.1", **feed, "items": [item]}


@pytest.mark.parametrize("value", [5, ["https://a.example/"], {"url": "https://a.example/"}, True])
def test_a_feed_url_field_that_is_not_a_string_is_ignored_with_a_warning(value):
    # "home_page_url": 5 was AttributeError: 'int' object has no attribute 'strip'
    doc = parse(json_doc(json_feed(home_page_url=value, title=7, description=[1])))
    assert doc.blog.url is None and doc.blog.title is None and doc.blog.standfirst is None
    assert [p.title for p in doc.posts] == ["T"]
    assert f'ignored "home_page_url": expected a string, found {jsonfeed.describe(value)}' in doc.warnings
    assert 'ignored "title": expected a string, found number 7' in doc.warnings
    assert 'ignored "description": expected a string, found a list of 1 number' in doc.warnings


@pytest.mark.parametrize(("field", "value", "found"), [
    ("title", ["a", "b"], "a list of 2 strings"),
    ("content_html", {"x": 1}, "an object with keys ['x']"),
    ("content_text", 42, "number 42"),
    ("url", 7, "number 7"),
    ("id", {"n": 1}, "an object with keys ['n']"),
])
def test_an_item_field_of_the_wrong_type_is_a_warning_naming_item_and_field(field, value, found):
    # these were read silently as an empty title, body, link or id
    doc = parse(json_doc(json_feed({field: value, "content_html": "<p>Html</p>"} if field != "content_html"
                                   else {field: value})))
    [post] = doc.posts
    assert f'item 0: ignored "{field}": expected a string, found {found}' in doc.warnings
    assert post.body in ("Html", "Body") and (field == "title") == (post.title == "")


def test_a_wrong_typed_content_text_falls_back_to_the_summary():
    doc = parse(json_doc(json_feed({"content_text": ["x"], "summary": "From the summary"})))
    assert doc.posts[0].body == "From the summary"


def test_a_byte_order_mark_before_the_json_is_skipped():
    # was "invalid JSON: Unexpected UTF-8 BOM", though detection and the other formats skip it
    body = "\ufeff".encode() + json.dumps(json_feed()).encode()
    raw = RawDocument.from_bytes(body, blog_id="j", source="bom.json", fetched_at=FETCHED)
    doc = parse(raw)
    assert doc.format == "json" and [p.title for p in doc.posts] == ["T"]


FULL_MAPPING = {**MAPPING, "updated": "mod", "author": "byline", "url": "link", "blog_title": "blog.name",
                "blog_url": "blog.link", "blog_description": "blog.about"}


def mapped(item: dict, blog: dict | None = None) -> dict:
    base = {"uuid": "p1", "headline": "Bridge closed", "content": {"text": "Gusts of 70mph."},
            "published": "2025-07-12T09:00:00Z"}
    return {"data": {"posts": [{"uuid": "p0", "headline": "First", "published": "2025-07-12T08:00:00Z"},
                               {**base, **item}]}, **({"blog": blog} if blog else {})}


@pytest.mark.parametrize(("item", "warning"), [
    ({"headline": 17}, "item 1: ignored \"title\" at 'headline': expected a string, found number 17"),
    ({"content": {"text": {"html": "<p>x</p>"}}},
     "item 1: ignored \"body\" at 'content.text': expected a string or a list of strings, found an object with keys ['html']"),
    ({"mod": ["2025-07-12"]},
     "item 1: ignored \"updated\" at 'mod': expected a time: an ISO 8601 or RFC 822 string, epoch seconds, or a "
     "[Y, M, D, h, m] list, found a list of 1 string"),
    ({"mod": {"at": 1}}, "item 1: ignored \"updated\" at 'mod': expected a time: an ISO 8601 or RFC 822 string, "
                         "epoch seconds, or a [Y, M, D, h, m] list, found an object with keys ['at']"),
    ({"uuid": True}, "item 1: ignored \"id\" at 'uuid': expected a string or an integer, found boolean True"),
    ({"byline": 5}, "item 1: ignored \"author\" at 'byline': expected a string, {\"name\": a string}, or a list of "
                    "those, found number 5"),
    ({"link": ["https://example.org/p1"]}, "item 1: ignored \"url\" at 'link': expected a string, found a list of 1 string"),
])
def test_a_mapped_field_of_the_wrong_type_is_ignored_with_a_warning_naming_it(item, warning):
    doc = parse(json_doc(mapped(item), FULL_MAPPING))
    assert warning in doc.warnings
    assert [p.source_id or p.title for p in doc.posts] == ["p0", "p1" if "uuid" not in item else "Bridge closed"]


def test_a_body_list_keeps_its_strings_and_names_what_else_it_held():
    doc = parse(json_doc(mapped({"content": {"text": ["One.", 2, "Two."]}}), FULL_MAPPING))
    assert doc.posts[1].body == "One.\n\nTwo."
    assert ("item 1: ignored what is not a string in \"body\" at 'content.text': expected a string or a list of strings, "
            "found a list of 3 numbers and strings") in doc.warnings


def test_a_blog_field_of_the_wrong_type_is_ignored_with_a_warning():
    doc = parse(json_doc(mapped({}, blog={"name": 42, "link": "https://example.org/live", "about": ["a"]}), FULL_MAPPING))
    assert doc.blog.title is None and doc.blog.url == "https://example.org/live"
    assert "ignored \"blog_title\" at 'blog.name': expected a string, found number 42" in doc.warnings
    assert "ignored \"blog_description\" at 'blog.about': expected a string, found a list of 1 string" in doc.warnings


def test_fields_of_the_right_type_give_no_warning():
    doc = parse(json_doc(mapped({"mod": [2025, 7, 12, 10, 0], "byline": [{"name": "Ana"}, "Bo"], "link": "https://x.org/1",
                                 "uuid": 7}), FULL_MAPPING))
    assert doc.warnings == [] and doc.posts[1].author == "Ana, Bo" and doc.posts[1].source_id == "7"


def test_a_star_in_a_path_collects_a_field_from_every_block_of_a_cms_body():
    # CMS APIs give a post's body as typed blocks (paragraphs, images, embeds, related links):
    # "blocks" alone was "a list of 3 objects", ignored, and the body was empty
    payload = {"entries": [{"entryId": 5512, "createdAt": "2025-03-30T03:05:00+02:00", "headline": "Riaperta la A12",
                            "authors": [{"displayName": "Giulia Ferraro"}, {"displayName": "Marco Bellandi"}],
                            "blocks": [{"type": "paragraph", "text": "Autostrade comunica la riapertura del tratto."},
                                       {"type": "image", "url": "https://img.example/a12.jpg", "credit": "Foto ANSA"},
                                       {"type": "paragraph", "text": "Restano chiuse le uscite di Recco."}]}]}
    mapping = {"items": "entries", "id": "entryId", "title": "headline", "time": "createdAt",
               "body": "blocks.*.text", "author": "authors.*.displayName"}
    doc = parse(json_doc(payload, mapping))
    assert doc.warnings == []
    post = doc.posts[0]
    assert post.body == "Autostrade comunica la riapertura del tratto.\n\nRestano chiuse le uscite di Recco."
    assert post.author == "Giulia Ferraro, Marco Bellandi"


def test_a_star_over_something_that_is_not_a_list_is_a_missing_field():
    with pytest.raises(jsonfeed._Missing, match="expected a list at '\\*'"):
        jsonfeed.lookup({"blocks": {"text": "x"}}, "blocks.*.text")
