"""Whatever arrives, each parser ends in a ParsedDocument or an InputRejected - nothing else."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.documents import ParseOptions, RawDocument
from schemas.errors import InputRejected
from schemas.posts import ParsedDocument
from workers.parsers import feeds, html, jsonfeed, parse

FETCHED = datetime(2025, 1, 1, tzinfo=timezone.utc)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(parser, body: str, **options) -> None:
    raw = RawDocument.from_bytes(body.encode("utf-8", "surrogatepass"), blog_id="p", source="prop",
                                 fetched_at=FETCHED, options=ParseOptions(**options))
    try:
        assert isinstance(parser(raw, body), ParsedDocument)
    except InputRejected:
        pass


tags = st.sampled_from(["<article>", "</article>", "<h2>", "</h2>", "<time datetime='2025-01-01T10:00Z'>", "<time>",
                        "</time>", "<p>", "</p>", "<a href='/x'>", "</a>", "<script>", "</script>", "<br>",
                        "<figure>", "<div id='p1'>", "</div>", "<h1>", "<time>12:31</time>", "Read more here"])
html_like = st.lists(st.one_of(tags, st.text(max_size=20)), max_size=40).map("".join)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)
item = st.fixed_dictionaries({}, optional={
    "id": json_values, "title": json_values, "content_html": st.one_of(html_like, json_values),
    "content_text": json_values, "date_published": st.one_of(st.just("2025-01-01T10:00:00Z"), json_values),
    "date_modified": json_values, "authors": json_values, "url": json_values,
})
json_feed = st.fixed_dictionaries({"version": st.just("https://jsonfeed.org/version/1.1"),
                                   "items": st.lists(st.one_of(item, json_values), max_size=5)})
rss_item = st.tuples(st.text(max_size=15), st.sampled_from(["Sat, 12 Jul 2025 09:00:00 GMT", "2025-13-45", "", "x"]),
                     html_like).map(lambda t: f"<item><guid>{t[0]}</guid><pubDate>{t[1]}</pubDate>"
                                              f"<description><![CDATA[{t[2]}]]></description></item>")
rss_like = st.lists(rss_item, max_size=4).map(lambda items: f"<rss version='2.0'><channel>{''.join(items)}</channel></rss>")


@SETTINGS
@given(st.text(max_size=300))
def test_html_parser_on_any_text(body):
    outcome(html.parse, body)


@SETTINGS
@given(html_like)
def test_html_parser_on_tag_soup(body):
    outcome(html.parse, f"<html><body>{body}</body></html>")


@SETTINGS
@given(st.one_of(st.text(max_size=300), rss_like))
def test_feed_parser_on_any_text(body):
    outcome(feeds.parse, body)


@SETTINGS
@given(st.one_of(st.text(max_size=300), json_values.map(json.dumps), json_feed.map(json.dumps)))
def test_json_parser_on_any_text(body):
    outcome(jsonfeed.parse, body)


@SETTINGS
@given(json_values.map(json.dumps), st.one_of(st.none(), json_values,
                                              st.just({"items": "", "time": "t", "title": "h"})))
def test_json_parser_with_any_mapping(body, mapping):
    outcome(jsonfeed.parse, body, json_mapping=mapping if isinstance(mapping, dict) or mapping is None else {"items": mapping})


@SETTINGS
@given(st.binary(max_size=300), st.sampled_from(["auto", "html", "rss", "json"]))
def test_any_bytes_through_the_entry_point(data, fmt):
    raw = RawDocument.from_bytes(data, blog_id="p", source="prop", fetched_at=FETCHED, options=ParseOptions(format=fmt))
    try:
        assert isinstance(parse(raw), ParsedDocument)
    except InputRejected:
        pass


# the mojibake pre-check tries the hint, over the UTF-8 bytes, only where a match can start;
# held to the plain search (a lone surrogate included: it is encoded, never matched)
_MOJIBAKE_ALPHABET = list("aZ 1\n") + ["\u0080", "\u009f", "\u00a0", "\u00a3", "\u00c1", "\u00c2", "\u00c3", "\u00e9",
                                        "\u00f4", "\u00f5", "\u00bf", "\u00c0", "\u0152", "\u2019", "\u2014", "\u20ac",
                                        "\u2122", "\u0600", "\u201f", "\u2023", "\u0153", "\u017e", "\ud800"]


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=_MOJIBAKE_ALPHABET, max_size=16))
def test_mojibake_precheck_is_the_plain_hint_search(text):
    from workers.parsers import _common

    assert _common.may_hold_mojibake(text) == bool(_common._MOJIBAKE_HINT.search(text))
