"""The plain-text parser against hand-written ground truth, plus rejections and format detection."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from schemas.documents import ParseOptions, RawDocument
from schemas.errors import InputRejected
from schemas.posts import ParsedDocument, rfc3339
from workers.parsers import detect_format, parse

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SAMPLE_NAMES = sorted(p.stem for p in SAMPLES.glob("*.txt"))
FETCHED_AT = datetime(2030, 1, 1, tzinfo=timezone.utc)


def document(data: bytes, *, tz: str = "UTC", day: date | None = None, blog_id: str = "blog",
             fetched_at: datetime = FETCHED_AT) -> RawDocument:
    return RawDocument.from_bytes(data, blog_id=blog_id, source=f"{blog_id}.txt", fetched_at=fetched_at,
                                  options=ParseOptions(tz=tz, date=day))


def expected_for(name: str) -> dict:
    return json.loads((SAMPLES / f"{name}.expected.json").read_text(encoding="utf-8"))


def parse_sample(name: str) -> ParsedDocument:
    return parse(document((SAMPLES / f"{name}.txt").read_bytes(), tz=expected_for(name)["tz"], blog_id=name))


def paragraphs(body: str) -> list[str]:
    return [p for p in body.split("\n\n") if p]


def test_every_sample_has_its_ground_truth() -> None:
    assert len(SAMPLE_NAMES) >= 3
    assert all((SAMPLES / f"{name}.expected.json").is_file() for name in SAMPLE_NAMES)


@pytest.fixture(params=SAMPLE_NAMES)
def sample(request: pytest.FixtureRequest) -> tuple[ParsedDocument, dict]:
    return parse_sample(request.param), expected_for(request.param)


def test_samples_parse_as_text_with_one_post_per_stamp(sample) -> None:
    parsed, expected = sample

    assert parsed.format == "text"
    assert len(parsed.posts) == len(expected["posts"])


def test_samples_titles_match(sample) -> None:
    parsed, expected = sample

    assert [p.title for p in parsed.posts] == [e["title"] for e in expected["posts"]]


def test_samples_authors_match_and_are_none_when_absent(sample) -> None:
    parsed, expected = sample

    assert [p.author for p in parsed.posts] == [e["author"] for e in expected["posts"]]


def test_samples_times_are_the_expected_utc_instants(sample) -> None:
    parsed, expected = sample

    assert [rfc3339(p.published_at) for p in parsed.posts] == [e["utc"] for e in expected["posts"]]
    assert all(p.published_at.utcoffset().total_seconds() == 0 for p in parsed.posts)


def test_samples_published_at_serialises_as_rfc3339_with_z(sample) -> None:
    parsed, expected = sample

    dumped = [p.model_dump(mode="json")["published_at"] for p in parsed.posts]
    assert dumped == [e["utc"] for e in expected["posts"]]


def test_samples_body_paragraph_counts_match(sample) -> None:
    parsed, expected = sample

    assert [len(paragraphs(p.body)) for p in parsed.posts] == [e["body_paragraphs"] for e in expected["posts"]]


def test_samples_bodies_start_as_expected(sample) -> None:
    parsed, expected = sample

    assert [p.body[: len(e["body_starts"])] for p, e in zip(parsed.posts, expected["posts"])] == [
        e["body_starts"] for e in expected["posts"]
    ]


def test_samples_related_links_match_and_are_not_in_the_body(sample) -> None:
    parsed, expected = sample

    assert [[r.text for r in p.related_links] for p in parsed.posts] == [e["related_links"] for e in expected["posts"]]
    for post in parsed.posts:
        for link in post.related_links:
            assert link.text not in paragraphs(post.body)


def test_samples_credit_lines_never_appear_in_a_body(sample) -> None:
    parsed, expected = sample

    for post, truth in zip(parsed.posts, expected["posts"]):
        body_paragraphs = paragraphs(post.body)
        for credit in truth["credits"]:
            assert credit not in body_paragraphs, (post.title, credit)
            if " " in credit or credit.startswith("("):  # a bare "Reuters" may be a word of prose
                assert credit not in post.body, (post.title, credit)


def test_samples_headline_and_key_points_match(sample) -> None:
    parsed, expected = sample

    assert parsed.blog.title == expected["headline"]
    assert parsed.blog.key_points == expected["key_points"]
    assert parsed.blog.standfirst  # the paragraphs between headline and key points


def test_samples_position_counts_from_the_oldest_post(sample) -> None:
    parsed, _ = sample
    oldest_first = sorted(parsed.posts, key=lambda p: p.published_at)

    assert [p.position for p in oldest_first] == list(range(len(parsed.posts)))
    assert parsed.posts[-1].position == 0  # the samples are newest first


def test_samples_post_ids_are_unique_and_stable_across_parses(sample) -> None:
    parsed, _ = sample
    name = parsed.blog.id
    again = parse_sample(name)

    ids = [p.post_id for p in parsed.posts]
    assert len(set(ids)) == len(ids)
    assert [p.post_id for p in again.posts] == ids
    assert all(p.blog_id == name for p in parsed.posts)


def test_samples_post_ids_do_not_depend_on_when_the_page_was_fetched() -> None:
    name = SAMPLE_NAMES[0]
    data = (SAMPLES / f"{name}.txt").read_bytes()
    tz = expected_for(name)["tz"]

    first = parse(document(data, tz=tz, blog_id=name, fetched_at=datetime(2030, 1, 1, tzinfo=timezone.utc)))
    later = parse(document(data, tz=tz, blog_id=name, fetched_at=datetime(2031, 6, 1, tzinfo=timezone.utc)))

    assert [p.post_id for p in later.posts] == [p.post_id for p in first.posts]


def test_samples_posts_with_a_title_and_no_body_are_posts_with_an_empty_body(sample) -> None:
    parsed, expected = sample
    bodiless = [p for p, e in zip(parsed.posts, expected["posts"]) if e["body_paragraphs"] == 0]

    assert bodiless, "every sample has at least one title-only post"
    assert all(p.body == "" and p.title for p in bodiless)


# --- small hand-made pages -------------------------------------------------------------------

TWO_POSTS = """Harbour live: gales close the port

Key Points

  • Port closed to all shipping

Ferry service resumes

11:20 , Ines Varga

The first ferry of the day has left the harbour.

Gales close the harbour

09:05

The harbour master has closed the port to all traffic.
"""


def test_a_page_without_full_dates_uses_the_reference_date_for_the_oldest_post() -> None:
    parsed = parse(document(TWO_POSTS.encode(), tz="Europe/London", day=date(2024, 10, 13)))

    assert [rfc3339(p.published_at) for p in parsed.posts] == ["2024-10-13T10:20:00Z", "2024-10-13T08:05:00Z"]
    assert [p.author for p in parsed.posts] == ["Ines Varga", None]
    assert parsed.blog.key_points == ["Port closed to all shipping"]


@pytest.mark.parametrize("header", ["Key Points", "Key events:", "Principais pontos", "Pontos-chave", "Points clés",
                                    "Les points clés", "L'essentiel", "L’essentiel :", "Das Wichtigste",
                                    "Puntos clave", "Punti chiave", "PRINCIPAIS PONTOS:"])
def test_key_points_headers_in_each_language_are_recognised(header: str) -> None:
    page = TWO_POSTS.replace("Key Points", header)
    parsed = parse(document(page.encode(), tz="Europe/London", day=date(2024, 10, 13)))
    assert parsed.blog.key_points == ["Port closed to all shipping"]
    assert parsed.blog.standfirst is None


def test_a_page_without_any_date_falls_back_to_the_fetch_date() -> None:
    parsed = parse(document(TWO_POSTS.encode(), tz="Europe/London", fetched_at=datetime(2024, 10, 13, 12, 0,
                                                                                         tzinfo=timezone.utc)))

    assert [rfc3339(p.published_at) for p in parsed.posts] == ["2024-10-13T10:20:00Z", "2024-10-13T08:05:00Z"]


def test_a_title_with_no_body_before_the_next_title_is_a_post_with_an_empty_body() -> None:
    page = "Live\n\nBreaking: bridge closed\n\n10:05\n\nBridge reopens\n\n09:00\n\nThe bridge has reopened.\n"

    parsed = parse(document(page.encode(), day=date(2024, 1, 2)))

    assert [(p.title, p.body) for p in parsed.posts] == [
        ("Breaking: bridge closed", ""),
        ("Bridge reopens", "The bridge has reopened."),
    ]


def test_stamp_lines_with_neither_title_nor_body_are_not_posts() -> None:
    # fuzz corpus: text-stamps-without-bodies.txt published one empty post per bare stamp line
    page = ("Live\n\nBridge closed\n\n10:05\n\n10:04\n\n10:03\n\nThe bridge has reopened.\n\n"
            "Ferry resumes\n\n10:02 , Desk\n\n10:01\n")

    parsed = parse(document(page.encode(), day=date(2024, 1, 2)))

    assert [(p.title, p.body, p.position) for p in parsed.posts] == [
        ("Bridge closed", "", 2),                     # a title and no body: a post
        ("", "The bridge has reopened.", 1),          # a body and no title: a post
        ("Ferry resumes", "", 0),
    ]
    assert len({p.post_id for p in parsed.posts}) == 3
    assert parsed.warnings == ["skipped 2 stamp lines with neither title nor body"]


def test_a_page_of_bare_stamp_lines_is_no_posts_saying_what_was_expected_and_found() -> None:
    page = "\n".join(f"{10 + m // 60:02d}:{m % 60:02d} , Desk\n" for m in range(300))

    with pytest.raises(InputRejected) as caught:
        parse(document(page.encode(), day=date(2024, 1, 2)))

    assert caught.value.reason == "no posts"
    assert "title above them or a body below them" in caught.value.expected
    assert caught.value.found == "300 stamp lines, none with a title or a body"


SCRIPT = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


def test_a_paragraph_ending_in_markup_stays_a_paragraph_as_written() -> None:
    # fuzz corpus: text-script-in-title-and-body.txt - the trailing tags hid the full stop, so
    # the paragraph read as another article's headline and went to related_links
    page = (f"Live\n\nRoad closed\n\n10:05\n\nCrews closed the river road overnight. {SCRIPT}\n\n{SCRIPT}\n\n"
            "Council says the road will reopen <b>tomorrow</b>.\n\n(PA) <img src=x>\n\nRiver levels at a record high\n\n"
            'Read more: <a href="https://example.com/floods">Floods</a>\n')

    [post] = parse(document(page.encode(), day=date(2024, 1, 2))).posts

    assert paragraphs(post.body) == [
        f"Crews closed the river road overnight. {SCRIPT}",  # markup kept as text, never run or removed
        SCRIPT,
        "Council says the road will reopen <b>tomorrow</b>.",
    ]
    # what is a related link or a credit without markup still is one with it
    assert [link.text for link in post.related_links] == [
        "River levels at a record high", 'Read more: <a href="https://example.com/floods">Floods</a>']
    assert "(PA)" not in post.body


def test_an_unknown_time_zone_option_is_rejected() -> None:
    with pytest.raises(InputRejected, match="unknown time zone"):
        parse(document(TWO_POSTS.encode(), tz="Atlantis/Harbour"))


def test_a_post_after_midnight_above_the_only_dated_post_is_on_the_next_day() -> None:
    page = """Harbour live

Ferry service resumes after night of gales

00:10 , Ines Varga

The first ferry of the day has left the harbour.

Gales close the harbour

Saturday 12 October 2024 23:35 , Ines Varga

The harbour master has closed the port to all traffic.
"""
    parsed = parse(document(page.encode(), tz="Europe/London"))

    assert [rfc3339(p.published_at) for p in parsed.posts] == ["2024-10-12T23:10:00Z", "2024-10-12T22:35:00Z"]
    assert [p.position for p in parsed.posts] == [1, 0]


# --- rejections ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason", "expected_part", "found_part"),
    [
        (b"", "empty document", "live-blog page", "0 blank characters"),
        (b"  \n\t\n   \n", "empty document", "live-blog page", "blank characters"),
        (bytes(range(256)) * 20, "invalid UTF-8", "UTF-8", "byte 0x80 at offset 128"),
        (b"\xff\xfe abc", "invalid UTF-8", "UTF-8", "byte 0xff at offset 0"),
        (bytes(range(32)) * 50, "binary data", "text", "control characters"),
        (
            "Harbour live\n\nThe port stayed closed all day.\n\nNo times were given by anyone.\n".encode(),
            "no posts",
            "'12:31 , Author'",
            "3 non-blank lines and no stamp line",
        ),
    ],
    ids=["empty", "whitespace", "binary-garbage", "invalid-utf8", "control-characters", "prose-without-stamps"],
)
def test_unreadable_input_is_rejected_saying_what_was_expected_and_found(
    data: bytes, reason: str, expected_part: str, found_part: str
) -> None:
    with pytest.raises(InputRejected) as caught:
        parse(document(data))

    error = caught.value
    assert error.reason == reason
    assert expected_part in error.expected
    assert found_part in error.found
    assert str(error) == f"{error.reason}: expected {error.expected}, found {error.found}"


def test_a_format_without_a_parser_is_rejected_naming_the_known_formats() -> None:
    raw = document(b"Live\n\nTitle\n\n12:31\n")
    # bypasses ParseOptions' validation, as a payload from a newer producer might
    raw = raw.model_copy(update={"options": ParseOptions.model_construct(format="pdf", tz="UTC", date=None,
                                                                          json_mapping=None)})

    with pytest.raises(InputRejected) as caught:
        parse(raw)

    assert caught.value.reason == "unsupported format"
    assert "'text'" in caught.value.expected
    assert "'pdf'" in caught.value.found


# --- format detection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fmt"),
    [
        ('{"posts": []}', "json"),
        ("  \n[1, 2]", "json"),
        ('<?xml version="1.0"?>\n<rss version="2.0"><channel/></rss>', "rss"),
        ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"></feed>', "rss"),
        ("<rss><channel/></rss>", "rss"),
        ("<feed></feed>", "rss"),
        ("<!DOCTYPE html><html><body></body></html>", "html"),
        ("<div class='live'>x</div>", "html"),
        ("\ufeffStorm live\n\n12:31 , Jane Doe\n", "text"),
        ("Storm live\n\n12:31 , Jane Doe\n", "text"),
    ],
)
def test_format_is_detected_from_the_content(body: str, fmt: str) -> None:
    assert detect_format(body) == fmt


def test_every_sample_is_detected_as_text() -> None:
    for name in SAMPLE_NAMES:
        assert detect_format((SAMPLES / f"{name}.txt").read_text(encoding="utf-8")) == "text"


def test_stamps_on_the_title_line_with_zone_abbreviations_cross_midnight():
    """Layout where the stamp opens the title line ("9.40am BST: Title"); the zone
    abbreviation wins over --tz, and the bare times roll over midnight."""
    raw = RawDocument.from_bytes(
        (SAMPLES / "harbour-fire-inline.txt").read_bytes(), blog_id="harbour", source="harbour.txt",
        fetched_at=datetime(2024, 9, 15, 12, 0, tzinfo=timezone.utc), options=ParseOptions(tz="UTC", date=date(2024, 9, 14)),
    )
    doc = parse(raw)
    assert [p.title for p in doc.posts] == [
        "Terminal to stay closed until Monday",
        "Road through the docks reopens",
        "Fire service scales down its response",
        "Fire now under control",
        "Residents told to keep windows shut",
        "Large fire reported at grain terminal",
    ]
    assert [rfc3339(p.published_at) for p in doc.posts] == [
        "2024-09-15T08:40:00Z", "2024-09-15T07:15:00Z", "2024-09-15T06:30:00Z", "2024-09-15T00:05:00Z",
        "2024-09-14T22:50:00Z", "2024-09-14T21:10:00Z",
    ]
    assert all(p.author is None for p in doc.posts)
    assert doc.posts[0].body.count("\n\n") == 1 and "(PA)" not in doc.posts[0].body
    assert doc.posts[2].body == ""
    assert [link.text for link in doc.posts[3].related_links] == ["Read more here."]
    assert doc.blog.title.startswith("Harbour fire live")


def test_a_sentence_opening_with_a_time_does_not_split_a_post_of_the_common_layout():
    text = "Blog\n\nTitle one\n\n12:31 , Ana Ruiz\n\n10:30 Police closed the road near the bridge.\n"
    doc = parse(RawDocument.from_bytes(text.encode(), blog_id="b", source="b.txt",
                                       fetched_at=datetime(2024, 1, 1, tzinfo=timezone.utc)))
    assert len(doc.posts) == 1 and doc.posts[0].body.startswith("10:30 Police closed")


def test_a_headline_after_a_dash_is_not_taken_for_an_author():
    from workers.stamps import parse_stamp_line

    assert parse_stamp_line("12:31 - Thomas Kingsley").author == "Thomas Kingsley"
    assert parse_stamp_line("12:31 – police close the road") is None


RELATIVE_PAGE = """Storm live

Trees down on the coast road
5 minutes ago
Crews are clearing the A39.

Ferry cancelled
2 hours ago | Jane Doe
The 14:30 sailing will not run.

Flood warning issued
yesterday 21:05
The river is expected to peak overnight.
"""


def test_relative_stamp_lines_are_stamps_dated_from_the_fetch() -> None:
    fetched = datetime(2025, 10, 12, 23, 2, 30, tzinfo=timezone.utc)  # 00:02 on the 13th in London
    doc = parse(document(RELATIVE_PAGE.encode(), tz="Europe/London", fetched_at=fetched))
    assert [(p.title, rfc3339(p.published_at), p.author) for p in doc.posts] == [
        ("Trees down on the coast road", "2025-10-12T22:57:00Z", None),
        ("Ferry cancelled", "2025-10-12T21:02:00Z", "Jane Doe"),
        ("Flood warning issued", "2025-10-12T20:05:00Z", None),  # 21:05 BST on the 12th (yesterday in London)
    ]
    assert [p.position for p in doc.posts] == [2, 1, 0]


def test_a_relative_post_keeps_its_key_when_the_next_poll_computes_another_time() -> None:
    first = parse(document(RELATIVE_PAGE.encode(), tz="Europe/London", fetched_at=datetime(2025, 10, 12, 15, 0, tzinfo=timezone.utc)))
    later = RELATIVE_PAGE.replace("5 minutes ago", "8 minutes ago")
    again = parse(document(later.encode(), tz="Europe/London", fetched_at=datetime(2025, 10, 12, 15, 3, tzinfo=timezone.utc)))
    # "2 hours ago" three minutes later is another time (13:03 vs 13:00): still the same post
    assert [p.post_id for p in again.posts] == [p.post_id for p in first.posts]
    assert first.posts[1].published_at != again.posts[1].published_at
    assert [p.published_approx_s for p in again.posts] == [60, 3600, 0]


def test_labelled_relative_stamp_lines_date_their_posts() -> None:
    page = RELATIVE_PAGE.replace("5 minutes ago", "Updated 5 minutes ago").replace("2 hours ago", "Posted 2 hours ago")
    fetched = datetime(2025, 10, 12, 23, 2, 30, tzinfo=timezone.utc)
    doc = parse(document(page.encode(), tz="Europe/London", fetched_at=fetched))
    # "Updated …" is read as the post's stamp (workers/stamps.py): a text post has one time
    assert [(p.title, rfc3339(p.published_at), p.author, p.updated_at) for p in doc.posts] == [
        ("Trees down on the coast road", "2025-10-12T22:57:00Z", None, None),
        ("Ferry cancelled", "2025-10-12T21:02:00Z", "Jane Doe", None),
        ("Flood warning issued", "2025-10-12T20:05:00Z", None, None),
    ]
