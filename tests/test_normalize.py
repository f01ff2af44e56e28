"""Text clean-up: credits dropped, link lines kept apart, broken paragraphs re-joined."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers import normalize
from workers.identity import content_hash
from workers.normalize import (
    clean_text, fingerprint_text, fingerprint_url, is_credit, is_headline_like, is_link_intro, split_body,
)
from workers.parsers._common import repair_text

PROSE_1 = "The harbour master closed the port to all shipping shortly after dawn on Sunday."
PROSE_2 = "Crews from three lifeboat stations spent the morning towing stranded yachts to safety."


# --- credits --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "(AP)",
        " (AP)",
        "PA",
        "Reuters",
        "(Reuters)",
        "Getty Images",
        "(AFP via Getty Images)",
        "(Copyright 2023 The Associated Press. All rights reserved)",
        "Ferry Lights (Copyright 2019 The Associated Press. All rights reserved)",
        "Gulls circle the breakwater at high tide (PA)",
    ],
)
def test_agency_and_copyright_lines_are_credits(line: str) -> None:
    assert is_credit(line)


@pytest.mark.parametrize(
    "line",
    [
        "Reuters reported that the talks had stalled by midnight.",
        "The PA system at the station failed during the evacuation.",
        "Associated Press photographers were among the first on the quay.",
        PROSE_1,
    ],
)
def test_prose_that_mentions_an_agency_is_not_a_credit(line: str) -> None:
    assert not is_credit(line)


def test_credit_lines_never_reach_the_body() -> None:
    body = split_body([
        "Gulls circle the breakwater at high tide (PA)",
        "Gulls circle the breakwater at high tide (PA)",
        PROSE_1,
        " (AP)",
        "(AP)",
        PROSE_2,
        "Ferry Lights (Copyright 2019 The Associated Press. All rights reserved)",
        "PA",
    ])

    assert body.paragraphs == [PROSE_1, PROSE_2]
    assert body.related == []
    assert body.credits == [
        "Gulls circle the breakwater at high tide (PA)",
        "Gulls circle the breakwater at high tide (PA)",
        " (AP)",
        "(AP)",
        "Ferry Lights (Copyright 2019 The Associated Press. All rights reserved)",
        "PA",
    ]


def test_a_caption_line_followed_by_a_lone_agency_line_is_a_credit_not_a_related_link() -> None:
    body = split_body([PROSE_1, "A lifeboat crew hauls a dinghy up the slipway", "Reuters", PROSE_2])

    assert body.paragraphs == [PROSE_1, PROSE_2]
    assert body.related == []
    assert body.credits == ["A lifeboat crew hauls a dinghy up the slipway", "Reuters"]


def test_every_caption_followed_by_the_same_lone_agency_line_is_a_credit() -> None:
    body = split_body([
        PROSE_1,
        "A lifeboat crew hauls a dinghy up the slipway",
        "PA",
        PROSE_2,
        "Fishing boats stay tied up in the inner harbour",
        "PA",
    ])

    assert body.paragraphs == [PROSE_1, PROSE_2]
    assert body.related == []
    assert body.credits == [
        "A lifeboat crew hauls a dinghy up the slipway", "PA", "Fishing boats stay tied up in the inner harbour", "PA",
    ]


# Picture credits as newsrooms print them under or after a picture, in the languages the
# project reads: a label ("Photo:", "Foto:", "Crédit photo :", "Bild:") or "©" and a name.
@pytest.mark.parametrize(
    "line",
    [
        "Photo: Reuters",
        "Photograph: Reuters",
        "Photo : Reuters",
        "Photo: John Smith/AP",
        "Photo by Jane Doe/Reuters",
        "Image: Getty Images",
        "© AFP",
        "© Sébastien Bozon / AFP",
        "Crédit photo : Guillaume Souvant / AFP",
        "Foto: Robert Michael/dpa",
        "(Foto: dpa)",
        "Bild: Keystone",
        "Foto ANSA",
        "Foto: Paulo Novais/Lusa",
        "Copyright AFP 2025",
    ],
)
def test_labelled_picture_credits_are_credits(line: str) -> None:
    assert is_credit(line)


@pytest.mark.parametrize(
    "line",
    [
        "Photo: the harbour wall gave way shortly after 3am, flooding the lower town and forcing families out.",
        "Photographers were kept behind the cordon until the fire was out.",
        "Foto e video circolano sui social: la polizia chiede di non condividerli.",
        "Image rights for the footage were sold to three broadcasters, the company said.",
    ],
)
def test_prose_starting_with_a_credit_word_is_not_a_credit(line: str) -> None:
    assert not is_credit(line)


# --- related links ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Read more here.",
        "Mira Quell has a full report here",
        "Tobias Fenn reports:",
        "Watch below, from CNN:",
        "Our coastal correspondent explains more here",
        "Lee aquí la información completa.",
        "À lire aussi : la carte des zones inondables",
        "A LIRE AUSSI | Crues : vos questions",
        "Voir aussi : notre infographie",
        "Lesen Sie auch: Was Anwohner jetzt wissen müssen",
        "Mehr zum Thema: Hochwasser in Sachsen",
        "Leggi anche: le strade ancora chiuse",
        "Leia também: Como se preparar para uma evacuação",
        "Veja também: o mapa dos incêndios",
        "Saiba mais: o que é a Proteção Civil",
    ],
)
def test_link_intro_lines_are_recognised(line: str) -> None:
    assert is_link_intro(line)


def test_a_long_paragraph_ending_in_here_is_prose_not_a_link_intro() -> None:
    line = ("The council said the temporary barriers would stay on the promenade until the spring tides had passed "
            "and that volunteers were still needed here.")

    assert not is_link_intro(line)


def test_link_intros_and_the_headline_they_introduce_are_related_links_not_body() -> None:
    body = split_body([
        PROSE_1,
        "Mira Quell has a full report here",
        PROSE_2,
        "Tobias Fenn reports:",
        "Why the breakwater failed for the second time in a decade",
    ])

    assert body.paragraphs == [PROSE_1, PROSE_2]
    assert body.related == [
        "Mira Quell has a full report here",
        "Tobias Fenn reports:",
        "Why the breakwater failed for the second time in a decade",
    ]


def test_read_more_here_is_a_related_link() -> None:
    body = split_body([PROSE_1, "Read more here."])

    assert (body.paragraphs, body.related) == ([PROSE_1], ["Read more here."])


def test_a_colon_intro_closing_the_post_is_a_related_link() -> None:
    body = split_body([PROSE_1, PROSE_2, "Watch below, from CNN:"])

    assert body.paragraphs == [PROSE_1, PROSE_2]
    assert body.related == ["Watch below, from CNN:"]


def test_a_colon_paragraph_followed_by_prose_stays_in_the_body() -> None:
    body = split_body(["The coastguard gave three pieces of advice:", PROSE_2])

    assert body.paragraphs == ["The coastguard gave three pieces of advice:", PROSE_2]
    assert body.related == []


@pytest.mark.parametrize(
    ("line", "headline_like"),
    [
        ("Why the breakwater failed for the second time in a decade", True),
        ("Storm Ilsa: The seafront town that keeps flooding", True),
        (PROSE_1, False),
        ("and then the lights went out", False),
        ("", False),
        (" ".join(["word"] * 26).capitalize(), False),
    ],
)
def test_short_unpunctuated_capitalised_lines_look_like_headlines(line: str, headline_like: bool) -> None:
    assert is_headline_like(line) is headline_like


def test_a_short_prose_sentence_ending_in_here_stays_in_the_body() -> None:
    body = split_body([PROSE_1, "Nobody expected the storm to stall over the valley here."])

    assert body.paragraphs == [PROSE_1, "Nobody expected the storm to stall over the valley here."]
    assert body.related == []


# --- broken paragraphs -----------------------------------------------------------------------


def test_a_paragraph_broken_after_mr_is_joined_again() -> None:
    body = split_body([
        "The mayor is expected to seek assurances from Mr",
        "Halvorsen and to ask for more pumps before the next tide.",
        PROSE_2,
    ])

    assert body.paragraphs == [
        "The mayor is expected to seek assurances from Mr Halvorsen and to ask for more pumps before the next tide.",
        PROSE_2,
    ]


def test_a_paragraph_broken_mid_sentence_before_a_lowercase_word_is_joined_again() -> None:
    body = split_body(["Rain is forecast to continue all week and", "into the weekend, forecasters said."])

    assert body.paragraphs == ["Rain is forecast to continue all week and into the weekend, forecasters said."]


def test_complete_paragraphs_are_not_joined() -> None:
    body = split_body([PROSE_1, PROSE_2])

    assert body.paragraphs == [PROSE_1, PROSE_2]
    assert body.text == f"{PROSE_1}\n\n{PROSE_2}"


# --- text clean-up and fingerprints ----------------------------------------------------------


def test_clean_text_normalises_newlines_spaces_and_invisible_characters() -> None:
    raw = "Cafe\u0301 owners\u00a0 wait\u200b\r\nfor   news \t\r\x00tonight  "

    assert clean_text(raw) == "Café owners wait\nfor news\ntonight"


_INVISIBLE = "\u200b\u2060\ufeff"


@given(st.text(alphabet=st.sampled_from(list("ab \n\r\t\x00\u00a0\u00e9\u0301\u201c" + _INVISIBLE)), max_size=40))
@settings(max_examples=300, deadline=None)
def test_the_zero_width_test_agrees_with_the_pattern_it_stands_in_for(text: str) -> None:
    assert normalize._has_zero_width(text) == bool(normalize._ZERO_WIDTH.search(text))
    assert set(_INVISIBLE) == set(normalize._ZERO_WIDTH.pattern.strip("[]").encode().decode("unicode_escape"))


@given(st.text(alphabet=st.sampled_from(list("ab \n\r\x00\u00e9\u0301\u212b\u00c5" + _INVISIBLE)), max_size=40))
@settings(max_examples=300, deadline=None)
def test_clean_text_of_repaired_text_skips_only_a_normalisation_already_done(text: str) -> None:
    repaired = repair_text(text)  # ends in NFC
    assert clean_text(repaired, nfc=True) == clean_text(repaired) == clean_text(text)


def test_clean_text_still_normalises_text_not_said_to_be_nfc() -> None:
    assert clean_text("Cafe\u0301") == "Café"
    assert clean_text("Cafe\u0301", nfc=True) == "Cafe\u0301"  # the caller's word is taken


def test_fingerprint_ignores_curly_versus_straight_quotes_dashes_and_spacing() -> None:
    curly = "“We will not  leave,” she said \u2014 the quay’s  last ‘keeper’."
    straight = "\"We will not leave,\" she said - the quay's last 'keeper'."

    assert fingerprint_text(curly) == fingerprint_text(straight) == straight


def test_fingerprint_still_sees_a_change_of_words() -> None:
    assert fingerprint_text("The quay reopened at noon.") != fingerprint_text("The quay reopened at nine.")


# --- links: tracking parameters are not part of the fingerprint --------------------------------


@pytest.mark.parametrize(
    ("url", "seen_as"),
    [
        ("https://news.example/a?utm_source=tw", "https://news.example/a"),
        ("https://news.example/a?id=123&utm_source=tw&utm_medium=social", "https://news.example/a?id=123"),
        ("https://news.example/a?UTM_Campaign=x&id=123", "https://news.example/a?id=123"),
        ("https://news.example/a?fbclid=IwAR0&gclid=Cj0&msclkid=9&igshid=MzRl&mc_cid=1&mc_eid=2&_ga=2.1&_gl=1*x",
         "https://news.example/a"),
        ("https://x.example/s/1?ref_src=twsrc%5Etfw", "https://x.example/s/1"),
        ("https://news.example/a?id=1&amp;utm_source=tw", "https://news.example/a?id=1"),
        ("https://news.example/live#xtor=RSS-8", "https://news.example/live"),
        ("https://news.example/live#", "https://news.example/live"),
        # kept: what names the page or the post
        ("https://news.example/a?id=123", "https://news.example/a?id=123"),
        ("https://code.example/repo?ref=main", "https://code.example/repo?ref=main"),
        ("https://news.example/live#post-4102", "https://news.example/live#post-4102"),
        ("https://news.example/live?page=2&utm_source=tw#post-4102", "https://news.example/live?page=2#post-4102"),
    ],
)
def test_fingerprint_url_drops_tracking_parameters_only(url: str, seen_as: str) -> None:
    assert fingerprint_url(url) == seen_as


def test_fingerprint_ignores_tracking_parameters_of_links_inside_prose() -> None:
    tw = "Details (https://news.example/rescue?id=123&utm_source=tw). More at www.news.example/map?fbclid=A1, she said."
    fb = "Details (https://news.example/rescue?id=123&utm_source=fb). More at www.news.example/map?fbclid=B2, she said."
    plain = "Details (https://news.example/rescue?id=123). More at www.news.example/map, she said."

    assert fingerprint_text(tw) == fingerprint_text(fb) == fingerprint_text(plain) == plain


def test_fingerprint_still_sees_a_link_that_points_elsewhere() -> None:
    f = fingerprint_text
    assert f("See https://news.example/a?id=123.") != f("See https://news.example/a?id=124.")
    assert f("See https://news.example/live#post-1") != f("See https://news.example/live#post-2")


def test_a_link_in_parentheses_keeps_its_own_balanced_parentheses() -> None:
    text = "(see https://wiki.example/Storm_(2024)?utm_source=tw)"

    assert fingerprint_text(text) == "(see https://wiki.example/Storm_(2024))"


def test_text_without_links_fingerprints_as_before() -> None:
    text = "Rain: 30mm - “danger to life” at 11.20, map/chart; www and http are words."

    assert fingerprint_text(text) == 'Rain: 30mm - "danger to life" at 11.20, map/chart; www and http are words.'


def test_content_hash_ignores_tracking_parameters_but_not_a_changed_id() -> None:
    at = datetime(2024, 10, 13, 11, 20, tzinfo=timezone.utc)

    def chash(body: str) -> str:
        return content_hash(title="Rescue", body=body, author="Desk", published_at=at)

    tw = chash("Read https://n.example/a?id=123&utm_source=tw")
    assert tw == chash("Read https://n.example/a?id=123&utm_source=fb")
    assert tw != chash("Read https://n.example/a?id=124&utm_source=tw")
