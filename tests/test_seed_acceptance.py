"""Acceptance against the real seed blog (The Independent, Ukraine live, 27-28 January 2022).

The expectations below were read off the seed file by hand. January is GMT in London,
so local wall-clock times and UTC coincide.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from schemas.documents import ParseOptions, RawDocument
from schemas.posts import ParsedDocument, ParsedPost, rfc3339
from workers.parsers import parse

SEED = Path(__file__).resolve().parents[1].parent / "shared" / "seeds" / "independent-ukraine-live-2022-01-28.txt"

if not SEED.is_file():
    pytest.skip(f"seed blog not found at {SEED}", allow_module_level=True)


@pytest.fixture(scope="module")
def seed() -> ParsedDocument:
    raw = RawDocument.from_bytes(
        SEED.read_bytes(), blog_id="independent-ukraine-live-2022-01-28", source=str(SEED),
        fetched_at=datetime(2022, 1, 28, 13, 0, tzinfo=timezone.utc), options=ParseOptions(tz="Europe/London"),
    )
    return parse(raw)


def by_title(doc: ParsedDocument, start: str) -> ParsedPost:
    [post] = [p for p in doc.posts if p.title.startswith(start)]
    return post


def paragraphs(body: str) -> list[str]:
    return [p for p in body.split("\n\n") if p]


def summary(post: ParsedPost) -> tuple[str, str | None, str | None]:
    return post.title, post.author, rfc3339(post.published_at)


def test_the_seed_has_52_posts(seed: ParsedDocument) -> None:
    assert seed.format == "text"
    assert len(seed.posts) == 52


def test_the_three_newest_posts_have_their_titles_authors_and_times(seed: ParsedDocument) -> None:
    assert [summary(p) for p in seed.posts[:3]] == [
        ("Russia says it wants peace but has ‘gun on the table’ - US envoy", "Thomas Kingsley", "2022-01-28T12:31:00Z"),
        ("Over two in five support NATO military intervention if Russia invade Ukraine", "Thomas Kingsley",
         "2022-01-28T12:15:00Z"),
        ("Russia says it won't start a war as Ukraine tensions mount", "Thomas Kingsley", "2022-01-28T12:00:00Z"),
    ]


def test_the_three_oldest_posts_have_their_titles_authors_and_times(seed: ParsedDocument) -> None:
    assert [summary(p) for p in seed.posts[-3:]] == [
        ("Watch: Russia holds navy drills in Black Sea as tensions with Ukraine grow", "Emily Atkinson",
         "2022-01-27T13:11:00Z"),
        ("Foreign secretary Liz Truss calls on Moscow to ‘de-escalate’", "Emily Atkinson", "2022-01-27T13:05:00Z"),
        ("France pledges support to Romania amid security fears in eastern Europe", "Emily Atkinson",
         "2022-01-27T12:54:00Z"),
    ]


def test_bare_times_roll_over_midnight_onto_the_28th(seed: ParsedDocument) -> None:
    midnight = by_title(seed, "Ukraine disagrees with Biden assessment")
    below = seed.posts[seed.posts.index(midnight) + 1]

    assert summary(midnight) == ("Ukraine disagrees with Biden assessment", "John Bowden", "2022-01-28T00:00:00Z")
    assert summary(below) == (
        "US is asking China to persuade Russia against war, State Department says", "John Bowden",
        "2022-01-27T23:30:00Z",
    )


def test_times_never_increase_down_the_page_and_positions_count_from_the_oldest(seed: ParsedDocument) -> None:
    times = [p.published_at for p in seed.posts]

    assert times == sorted(times, reverse=True)
    assert [p.position for p in seed.posts] == list(range(51, -1, -1))
    assert len({p.post_id for p in seed.posts}) == 52


def test_the_three_title_only_posts_have_an_empty_body(seed: ParsedDocument) -> None:
    bodiless = [p for p in seed.posts if p.body == ""]

    assert [summary(p) for p in bodiless] == [
        ("Ukraine approves of US response to Russia’s demands, says foreign affairs minister", "Emily Atkinson",
         "2022-01-27T15:52:00Z"),
        ("‘Nothing will be off the table, including Nord Stream 2’, says US German ambassador", "Emily Atkinson",
         "2022-01-27T14:25:00Z"),
        ("Foreign secretary Liz Truss calls on Moscow to ‘de-escalate’", "Emily Atkinson", "2022-01-27T13:05:00Z"),
    ]
    assert all(p.related_links == [] for p in bodiless)


@pytest.mark.parametrize("credit", ["(AP)", "PA", "(Copyright 2022 The Associated Press. All rights reserved)",
                                    "Ukraine Tensions"])
def test_picture_credits_never_appear_in_a_body(seed: ParsedDocument, credit: str) -> None:
    for post in seed.posts:
        assert credit not in paragraphs(post.body), post.title
        if credit != "PA":  # "PA" alone is checked as a paragraph: it is a substring of ordinary words
            assert credit not in post.body, post.title


def test_the_posts_that_carried_credits_keep_exactly_their_prose(seed: ParsedDocument) -> None:
    war = by_title(seed, "Russia says it won't start a war")
    putin = by_title(seed, "UK urges Putin to ‘de-escalate’")
    poll = by_title(seed, "Over two in five support NATO")

    assert len(paragraphs(war.body)) == 3
    assert paragraphs(war.body)[-1].startswith('"There won\'t be a war as far as it depends on the Russian Federation')
    assert len(paragraphs(putin.body)) == 4
    assert paragraphs(putin.body)[-1].startswith("One of the threats Washington has put on the table")
    assert len(paragraphs(poll.body)) == 4
    assert paragraphs(poll.body)[-1].startswith("The UK's Defence Minister has said")


def test_full_report_here_is_a_related_link_of_its_post_not_body(seed: ParsedDocument) -> None:
    post = by_title(seed, "US fears dirty money in ‘Londongrad’")

    assert [r.text for r in post.related_links] == ["Thomas Kingsley has a full report here"]
    assert "full report here" not in post.body
    assert len(paragraphs(post.body)) == 4


def test_read_more_here_is_a_related_link_of_its_post_not_body(seed: ParsedDocument) -> None:
    post = by_title(seed, "Watch: Russia holds navy drills in Black Sea")

    assert [r.text for r in post.related_links] == ["Read more here."]
    assert "Read more here" not in post.body
    assert len(paragraphs(post.body)) == 3


def test_read_more_here_belongs_to_no_other_post(seed: ParsedDocument) -> None:
    holders = [p.title for p in seed.posts if any(r.text == "Read more here." for r in p.related_links)]

    assert holders == ["Watch: Russia holds navy drills in Black Sea as tensions with Ukraine grow"]


def test_the_paragraph_split_after_mr_in_the_macron_post_is_joined(seed: ParsedDocument) -> None:
    post = by_title(seed, "What to expect from Macron-Putin talks today")
    body = paragraphs(post.body)

    assert len(body) == 4
    assert "clarifications from Mr Putin and emphasise" in body[1]
    assert body[1].startswith("Mr Macron is expected to use the conversation")
    assert not any(p.startswith("Putin and emphasise") for p in body)


def test_a_prose_line_starting_with_a_weekday_is_not_a_stamp(seed: ParsedDocument) -> None:
    post = by_title(seed, "Rhetoric shows no signs of cooling down")

    assert summary(post) == ("Rhetoric shows no signs of cooling down", "John Bowden", "2022-01-28T01:00:00Z")
    assert post.body.startswith("Thursday ended with both Russia and the US")
    assert len(paragraphs(post.body)) == 3


def test_the_headline_and_six_key_points(seed: ParsedDocument) -> None:
    assert seed.blog.title == (
        "Ukraine news - live: US says Russia could invade next month as UK warns of cyber-warfare"
    )
    assert seed.blog.key_points == [
        "Five killed after Ukranian soldier fires at a military factory",
        "US threatens future of Nord Stream 2 should invasion occur",
        "Biden dials Ukraine’s Zelenskyy: ‘...If Russia further invades Ukraine’",
        "US wants UN meet over ‘Russia’s threatening behaviour’",
        "Taiwan extends empathy with Ukraine, cites China’s military action",
        "Davis-Monthan Air Force Base to help if Russia invades Ukraine",
    ]
    assert seed.blog.standfirst.startswith("US President Joe Biden has warned there is a “distinct possibility”")
