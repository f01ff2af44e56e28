"""RSS 2.0 and Atom feeds: ids, edits, times, authors and malformed XML."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from schemas.documents import ParseOptions, RawDocument
from schemas.errors import InputRejected
from tests.parsers.fixtures import check_against_expected, load_sample
from workers.parsers import feeds, parse

FETCHED = datetime(2025, 6, 21, 20, 0, tzinfo=timezone.utc)


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


def one_item(description: str, title: str = "Bridge") -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>t</title><item><guid>a</guid>'
            f"<title>{title}</title><pubDate>Sat, 12 Jul 2025 09:00:00 GMT</pubDate>"
            f"<description>{description}</description></item></channel></rss>")


@pytest.mark.parametrize(("ref", "what"), [
    ("&#xD800;", "a UTF-16 surrogate, not a character"),   # fuzz corpus: rss-entities-mixed.xml
    ("&#55296;", "a UTF-16 surrogate, not a character"),
    ("&#xD83D;&#xDE00;", "a UTF-16 surrogate, not a character"),  # an emoji split the UTF-16 way
    ("&#x110000;", "beyond U+10FFFF"),
    ("&#" + "9" * 5000 + ";", "beyond U+10FFFF"),
    ("&#x1;", "not an XML character"),
])
def test_a_reference_to_an_invalid_character_is_invalid_xml_naming_it_and_where(ref, what):
    # feedparser's lenient fallback raised UnicodeEncodeError, ValueError or OverflowError on
    # these, which a worker dead-lettered as "internal error"
    xml = one_item(f"The bridge is closed {ref} tonight.")
    with pytest.raises(InputRejected) as caught:
        parse(feed_doc(xml))
    error = caught.value
    assert error.reason == "invalid XML"
    assert "character references to XML characters only" in error.expected
    column = xml.split("\n")[1].index("&#")
    first = ref[: ref.index(";") + 1][:24]  # the first bad reference is named
    assert error.found == f"reference to invalid character number {first} ({what}) at line 2, column {column}"


def test_the_same_references_in_cdata_comments_and_as_escaped_text_are_text():
    xml = one_item("<![CDATA[<p>Closed &#xD800; tonight.</p>]]><!-- &#x110000; -->",
                   title="Bridge &amp;#xD800; closed")
    [post] = parse(feed_doc(xml)).posts
    assert post.title == "Bridge \ufffd closed"  # escaped: text to XML; an RSS title is HTML, read as HTML is
    assert post.body == "Closed \ufffd tonight."   # HTML content: the HTML parser's replacement character
    post.model_dump_json().encode("utf-8")


def test_valid_character_references_are_read():
    [post] = parse(feed_doc(one_item("Caf&#233; &#x1F600; &#9;ok.", title="&#x2014;"))).posts
    assert (post.title, post.body) == ("\u2014", "Café \U0001f600 ok.")


def rss_dated(pub_date: str) -> str:
    return (f'<rss version="2.0"><channel><title>t</title><item><guid>a</guid><title>Bridge</title>'
            f"<pubDate>{pub_date}</pubDate></item></channel></rss>")


def atom_dated(published: str) -> str:
    return ('<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>f</id><entry><id>a</id>'
            f"<title>Bridge</title><published>{published}</published></entry></feed>")


@pytest.mark.parametrize(("xml", "what", "why"), [
    # feedparser's fallback read these as other dates (2023-12-27T19:21Z, 2025-01-01, 2001-01-01)...
    (rss_dated("Mon, 01 Jan 2024 00:00:00 +9999"), "invalid published", "UTC offset +9999 is beyond 24 hours"),
    (atom_dated("2024-13-45T10:00:00Z"), "invalid published", "month must be in 1..12"),
    (rss_dated("Mon, 01 Jan 0001 00:00:00 GMT"), "invalid published", "year 0001"),
    # ...raised ValueError: year 10000 is out of range...
    (atom_dated("9999-12-31T23:59:59-12:00"), "invalid published", "date value out of range"),
    # ...or left "no posts" without naming the date
    (rss_dated("Wed, 31 Feb 2024 10:00:00 GMT"), "invalid published", "day is out of range for month"),
])
def test_an_invalid_date_is_rejected_naming_it_never_read_as_another_date(xml, what, why):
    with pytest.raises(InputRejected) as caught:
        parse(feed_doc(xml))
    error = caught.value
    assert error.reason == "no posts"
    assert what in error.found and why in error.found
    assert "expected an ISO 8601 or RFC 822 string" in error.found


def test_an_item_with_an_invalid_date_is_skipped_with_a_warning_naming_the_date():
    xml = rss_dated("Sat, 12 Jul 2025 09:00:00 GMT").replace(
        "</channel>", "<item><guid>b</guid><title>Bad</title><pubDate>Mon, 01 Jan 2024 00:00:00 +9999</pubDate>"
                      "</item></channel>")
    doc = parse(feed_doc(xml))
    assert [p.title for p in doc.posts] == ["Bridge"]
    [warning] = doc.warnings
    assert "skipped entry 'b'" in warning and "'Mon, 01 Jan 2024 00:00:00 +9999'" in warning


@pytest.mark.parametrize(("xml", "utc"), [
    (rss_dated("Sat, 12 Jul 2025 09:00:00 +01:00"), datetime(2025, 7, 12, 8, 0, tzinfo=timezone.utc)),
    (rss_dated("Sat, 12 Jul 2025"), datetime(2025, 7, 12, 0, 0, tzinfo=timezone.utc)),
    (rss_dated("Sat, 12 Jul 2025 09:00:00 PDT"), datetime(2025, 7, 12, 16, 0, tzinfo=timezone.utc)),
    (atom_dated("2025-07-12 09:00:00 +0100"), datetime(2025, 7, 12, 8, 0, tzinfo=timezone.utc)),
    (atom_dated("2025-07-12T09:00:00 Z"), datetime(2025, 7, 12, 9, 0, tzinfo=timezone.utc)),
])
def test_unusual_but_valid_dates_are_read_without_feedparser(xml, utc):
    # these were read by feedparser's fallback (the colon offset was even dropped, 09:00 read as UTC)
    [post] = parse(feed_doc(xml)).posts
    assert post.published_at == utc


LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE rss [\n <!ENTITY lol "lol">\n'
          + "".join(f' <!ENTITY lol{i} "{("&lol" + str(i - 1 if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10))
          + "]>\n")


@pytest.mark.parametrize(("prologue", "declaration", "line"), [
    (LAUGHS, "'<!ENTITY lol'", 3),                                           # was "undefined entity"
    ('<!DOCTYPE rss [<!ENTITY big "' + "x" * 100_000 + '">]>\n', "'<!ENTITY big'", 1),  # was "syntax error"
    ('<!DOCTYPE rss [<!ENTITY % p "x">]>\n', "'<!ENTITY % p'", 1),
    ('<!DOCTYPE rss [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n', "'<!ENTITY e'", 1),
])
def test_an_entity_declaration_is_refused_by_name(prologue, declaration, line):
    xml = prologue + rss_dated("Sat, 12 Jul 2025 09:00:00 GMT").replace("Bridge", "Bridge &lol9;")
    with pytest.raises(InputRejected) as caught:
        parse(feed_doc(xml))
    error = caught.value
    assert error.reason == "entity declarations are not allowed"
    assert error.expected == "an RSS 2.0 or Atom document without <!ENTITY> declarations"
    assert error.found.startswith(f"an entity declaration {declaration} at line {line}, column ")


def test_an_entity_declaration_as_text_is_text():
    xml = rss_dated("Sat, 12 Jul 2025 09:00:00 GMT").replace(
        "<title>Bridge</title>", "<title><![CDATA[The <!ENTITY x> tag]]></title><!-- <!ENTITY y> -->")
    [post] = parse(feed_doc(xml)).posts
    assert "tag" in post.title


def test_a_feed_with_no_items_says_so_rather_than_an_empty_reason():
    with pytest.raises(InputRejected) as caught:
        parse(feed_doc('<rss version="2.0"><channel><title>Quiet</title></channel></rss>'))
    assert caught.value.reason == "no posts" and "titled 'Quiet' with no items" in caught.value.found


SUBSET = ('<?xml version="1.0"?>\n<!DOCTYPE rss [\n  <!ELEMENT rss ANY>\n'
          '  <!ATTLIST rss version CDATA #REQUIRED note CDATA "a > b">\n  <!-- a comment > -->\n]>\n')


@pytest.mark.parametrize("xml", [
    SUBSET + rss_dated("Sat, 12 Jul 2025 09:00:00 GMT"),                       # was "syntax error" at 3:2
    '<!DOCTYPE feed [ <!ELEMENT feed ANY> <!NOTATION n SYSTEM "x"> ]>' + atom_dated("2025-07-12T09:00:00Z"),
    ('<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"\n'
     ' "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n'
     + rss_dated("Sat, 12 Jul 2025 09:00:00 GMT").replace('version="2.0"', 'version="0.91"')),
])
def test_a_doctype_without_entity_declarations_is_ignored(xml):
    # <!ELEMENT>, <!ATTLIST>, <!NOTATION> and a public DTD say nothing a reader needs: the feed parses
    [post] = parse(feed_doc(xml)).posts
    assert post.title == "Bridge" and post.published_at == datetime(2025, 7, 12, 9, 0, tzinfo=timezone.utc)


def test_errors_after_an_internal_subset_keep_their_line_numbers():
    xml = SUBSET + rss_dated("Sat, 12 Jul 2025 09:00:00 GMT").replace("<channel>", "\n<channel>").replace(
        "</title><pubDate>", "</titl><pubDate>")
    with pytest.raises(InputRejected) as caught:
        parse(feed_doc(xml))
    assert caught.value.reason == "invalid XML" and ":8:" in caught.value.found  # the line as sent


def test_an_entity_declaration_in_a_subset_with_other_declarations_is_still_refused():
    xml = SUBSET.replace("]>", '<!ENTITY e "x">\n]>') + rss_dated("Sat, 12 Jul 2025 09:00:00 GMT")
    with pytest.raises(InputRejected, match="entity declarations are not allowed") as caught:
        parse(feed_doc(xml))
    assert caught.value.found.startswith("an entity declaration '<!ENTITY e' at line 6, column ")
