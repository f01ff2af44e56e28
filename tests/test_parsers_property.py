"""Any input ends as posts with UTC times or as one clear InputRejected, never another exception."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.documents import ParseOptions, RawDocument
from schemas.errors import InputRejected
from schemas.posts import ParsedDocument
from workers.parsers import parse

FETCHED_AT = datetime(2024, 10, 13, 12, 0, tzinfo=timezone.utc)
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ZONES = st.sampled_from(["UTC", "Europe/London", "America/New_York", "Europe/Madrid", "Asia/Tokyo",
                         "Pacific/Kiritimati", "Pacific/Pago_Pago"])
DAYS = ("Monday", "jueves", "Sat", "samedi", "")
MONTHS = ("January", "agosto", "Sept", "décembre", "März", "oct")
AMPM = ("", "am", "pm", "a.m.", " PM")
ZONE_ABBREVIATIONS = ("", " BST", " EDT", " CEST", " JST", " Z")


@st.composite
def stamp_lines(draw: st.DrawFn) -> str:
    """Lines shaped like stamps, valid or not: bare, 12-hour, full-dated, with zones and authors."""
    hour = draw(st.integers(0, 99))
    minute = draw(st.integers(0, 99))
    sep = draw(st.sampled_from([":", ".", "h"]))
    clock = f"{hour:02d}{sep}{minute:02d}" if draw(st.booleans()) else f"{hour}{sep}{minute:02d}"
    clock += draw(st.sampled_from(AMPM)) + draw(st.sampled_from(ZONE_ABBREVIATIONS))
    if draw(st.booleans()):
        # Years stay within 1900-2100 here; the year 1 / year 9999 edges have their own tests below.
        day = draw(st.integers(0, 40))
        year = draw(st.integers(1900, 2100))
        clock = f"{draw(st.sampled_from(DAYS))} {day} {draw(st.sampled_from(MONTHS))} {year} {clock}".strip()
    author = draw(st.one_of(st.just(""), st.text(max_size=30).map(lambda a: f" , {a}"),
                            st.sampled_from([" , Jane Doe", " | Ana Whitcombe", " - Iker Zubiaurre"])))
    return clock + author


TEXT_LINES = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=80),
    st.text(alphabet="0123456789:.", min_size=1, max_size=400),  # huge digit strings
    st.sampled_from(["", "Key Points", "  • A key point", "(AP)", "PA", "Read more here.", "Mr", "Jane Doe reports:",
                     "Thursday ended with both sides talking.", "12.5 million people"]),
)


def check(raw: RawDocument) -> None:
    try:
        doc = parse(raw)
    except InputRejected as rejected:
        assert rejected.reason and rejected.expected and rejected.found
        return
    assert isinstance(doc, ParsedDocument)
    assert doc.posts
    for post in doc.posts:
        assert post.published_at.tzinfo is not None
        assert post.published_at.utcoffset().total_seconds() == 0
    assert sorted(p.position for p in doc.posts) == list(range(len(doc.posts)))


def raw_from(data: bytes, tz: str = "UTC", day: date | None = None) -> RawDocument:
    return RawDocument.from_bytes(data, blog_id="prop", source="prop.txt", fetched_at=FETCHED_AT,
                                  options=ParseOptions(tz=tz, date=day))


@PROPERTY
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_become_posts_or_a_rejection(data: bytes) -> None:
    check(raw_from(data))


@PROPERTY
@given(st.text(max_size=2000), ZONES)
def test_arbitrary_text_becomes_posts_or_a_rejection(text: str, tz: str) -> None:
    check(raw_from(text.encode("utf-8"), tz))


@PROPERTY
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0xFFFF), max_size=500))
def test_text_with_nuls_and_lone_surrogates_becomes_posts_or_a_rejection(text: str) -> None:
    # lone surrogates survive only through 'surrogatepass', which makes the bytes invalid UTF-8
    check(raw_from(("\x00" + text + "\ud800").encode("utf-8", "surrogatepass")))
    check(raw_from(text.replace("\n", "\x00\n").encode("utf-8", "surrogatepass")))


@PROPERTY
@given(st.lists(st.one_of(stamp_lines(), TEXT_LINES), min_size=1, max_size=40), ZONES,
       st.one_of(st.none(), st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))))
def test_stamp_like_lines_interleaved_with_random_text_become_posts_or_a_rejection(
    lines: list[str], tz: str, day: date | None
) -> None:
    check(raw_from("\n\n".join(lines).encode("utf-8", "surrogatepass"), tz, day))


@PROPERTY
@given(st.lists(stamp_lines(), min_size=1, max_size=30), ZONES)
def test_pages_of_only_stamps_become_posts_or_a_rejection(lines: list[str], tz: str) -> None:
    check(raw_from("\n".join(f"Title {i}\n{line}\nBody {i}." for i, line in enumerate(lines)).encode(), tz))


# --- found by looking for the edges the random strategies above leave out ----------------------


@pytest.mark.parametrize(
    ("page", "tz"),
    [
        ("Late\n\n00:10\n\nEarly\n\n23:00\n\nEarliest\n\nFriday 31 December 9999 12:00\n", "UTC"),
        ("Post\n\nMonday 1 January 0001 00:10\n", "Asia/Tokyo"),
        ("Post\n\nMonday 1 January 0001 00:10 JST\n", "UTC"),
    ],
    ids=["rollover-past-9999", "year-1-east-of-utc", "year-1-with-zone-abbreviation"],
)
def test_stamps_at_the_ends_of_the_calendar_are_rejected_not_crashing(page: str, tz: str) -> None:
    check(raw_from(page.encode(), tz))


def test_a_page_with_a_unicode_lookalike_month_is_parsed_or_rejected() -> None:
    check(raw_from("Post\n\n1 ſeptember 2022 10:00\n\nBody.\n".encode()))
