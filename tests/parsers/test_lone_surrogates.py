"""Lone UTF-16 surrogates never leave a parser: each becomes U+FFFD where the text enters.

JSON may escape one ("\\ud800", or a pair written in reverse); Python decodes it to a str that
cannot be encoded as UTF-8, so hashing the post or publishing the event failed far from the
parser, as an "internal error" dead letter (fuzz corpus: json-lone-*-surrogate-*.json,
json-reversed-surrogate-pair.json). Now the document is processed and every string is UTF-8.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from schemas.documents import ParseOptions, RawDocument
from schemas.posts import ParsedDocument
from workers.identity import content_hash
from workers.parsers import parse
from workers.parsers._common import load_json

FETCHED = datetime(2024, 10, 12, 12, 0, tzinfo=timezone.utc)
BODY = "Crews closed the river road after the water rose quickly overnight."


def raw_json(text: str, mapping: dict | None = None) -> RawDocument:
    return RawDocument.from_bytes(text.encode("utf-8"), blog_id="s", source="s.json", fetched_at=FETCHED,
                                  options=ParseOptions(json_mapping=mapping))


def feed(item: str) -> str:
    """A JSON Feed whose single item is written by hand, so escapes stay as written."""
    return '{"version": "https://jsonfeed.org/version/1.1", "title": "Feed \\udfff", "items": [%s]}' % item


def assert_encodable(doc: ParsedDocument) -> None:
    """What the pipeline does next with the text: hash it, serialise it, encode it strictly."""
    for post in doc.posts:
        content_hash(title=post.title, body=post.body, author=post.author, published_at=post.published_at)
        post.model_dump_json().encode("utf-8")
    doc.blog.model_dump_json().encode("utf-8")
    json.dumps(doc.warnings, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize(("escaped", "decoded"), [
    ("Broken \\ud800 title", "Broken \ufffd title"),            # lone high
    ("Broken \\udfff title", "Broken \ufffd title"),            # lone low
    ("Pair \\udc00\\ud800", "Pair \ufffd\ufffd"),               # a pair in the wrong order
    ("Emoji \\ud83d\\ude00 kept", "Emoji \U0001f600 kept"),     # a real pair is a real character
    ("Escaped \\\\ud800 backslash", "Escaped \\ud800 backslash"),  # "\\" then "ud800": plain text
])
def test_a_json_feed_title_with_a_surrogate_escape_is_a_post_with_a_replacement_character(escaped, decoded):
    doc = parse(raw_json(feed(f'{{"id": "a", "title": "{escaped}", "content_text": "{BODY}", '
                              '"date_published": "2024-10-12T10:20:00Z"}')))

    [post] = doc.posts
    assert post.title == decoded and post.body == BODY
    assert doc.blog.title == "Feed \ufffd"
    assert_encodable(doc)


def test_surrogates_in_ids_bodies_authors_urls_and_keys_are_replaced_everywhere():
    item = ('{"id": "a\\ud800", "title": "T", "content_html": "<p>x \\udfff y</p>", "url": "https://e.example/\\ud800",'
            ' "authors": [{"name": "Ana \\udc00"}], "date_published": "2024-10-12T10:20:00Z", "_k\\ud800": 1}')
    doc = parse(raw_json(feed(item)))

    [post] = doc.posts
    assert (post.source_id, post.body, post.author) == ("a\ufffd", "x \ufffd y", "Ana \ufffd")
    assert post.url == "https://e.example/\ufffd"
    assert_encodable(doc)


def test_a_mapped_newsroom_api_gets_the_same_treatment():
    payload = ('{"data": {"posts": [{"uuid": "u1\\ud800", "headline": "Head \\ud800", '
               '"content": {"text": "Body \\udfff."}, "published": "2024-10-12T10:20:00Z"}]}}')
    mapping = {"items": "data.posts", "id": "uuid", "title": "headline", "body": "content.text", "time": "published"}

    [post] = parse(raw_json(payload, mapping)).posts

    assert (post.title, post.body, post.source_id) == ("Head \ufffd", "Body \ufffd.", "u1\ufffd")


def test_json_ld_in_an_html_page_gets_the_same_treatment():
    ld = ('{"@context": "https://schema.org", "@type": "LiveBlogPosting", "headline": "Live \\ud800", '
          '"liveBlogUpdate": [{"@type": "BlogPosting", "@id": "https://e.example/live#u1", "headline": "Up \\udfff", '
          f'"datePublished": "2024-10-12T11:20:00+01:00", "articleBody": "{BODY} \\ud800"}}]}}')
    page = f'<!DOCTYPE html><html><head><script type="application/ld+json">{ld}</script></head><body></body></html>'
    raw = RawDocument.from_bytes(page.encode(), blog_id="h", source="h.html", fetched_at=FETCHED)

    doc = parse(raw)

    [post] = doc.posts
    assert post.title == "Up \ufffd" and post.body == f"{BODY} \ufffd"
    assert_encodable(doc)


def test_a_job_payload_whose_body_carries_a_surrogate_is_read_with_a_replacement_character():
    # from_bytes never makes one, but a payload is JSON, and "\ud800" is valid JSON
    page = "Live\n\nRoad \ud800 closed\n\n10:05\n\nThe water \udfff rose overnight.\n"
    payload = RawDocument.from_bytes(page.encode("utf-8", "surrogatepass"), blog_id="t", source="t.txt",
                                     fetched_at=FETCHED).encode()
    payload.update(body=page, body_b64=None)
    raw = RawDocument.decode(json.loads(json.dumps(payload)))
    assert raw.body == page

    doc = parse(raw)

    [post] = doc.posts
    assert post.title == "Road \ufffd closed" and post.body == "The water \ufffd rose overnight."
    assert_encodable(doc)


def test_load_json_walks_deep_values_without_recursion_and_leaves_clean_json_alone():
    deep = "[" * 900 + '"\\ud800"' + "]" * 900
    value = load_json(deep)
    for _ in range(900):
        [value] = value
    assert value == "\ufffd"
    assert load_json('{"a": ["\\u00e9", 1, null, {"b": "c"}]}') == {"a": ["é", 1, None, {"b": "c"}]}
