"""Rule matching without Redis: folding, word boundaries, entities, combinators, reasons."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.subscriptions import Rule
from workers.alerts.rules import Subject, explain


def event(title="", body="", *, entities=(), places=(), topics=(), urgency=0.0, blog="b") -> dict:
    return {"id": "e1", "data": {
        "blog": {"id": blog}, "post": {"id": "p1", "title": title, "body": body},
        "entities": [{"id": i, "canonical": c} for i, c in entities],
        "places": [{"name": "x", "country_code": cc} for cc in places],
        "topics": list(topics), "urgency": urgency, "story_id": "st-p1"}}


def match(rule: dict, **kw) -> list[str] | None:
    return explain(Rule.model_validate(rule), Subject.from_event(event(**kw)))


def test_keywords_ignore_case_and_accents_but_respect_word_boundaries():
    assert match({"keyword": "cordoba"}, body="Fires near CÓRDOBA tonight") == ["keyword:cordoba"]
    assert match({"keyword": "gas"}, body="Prices in Las Vegas") is None
    assert match({"keyword": "gas"}, body="Gas prices rise.") == ["keyword:gas"]


def test_a_phrase_matches_its_words_in_order_across_punctuation():
    assert match({"phrase": "nord stream 2"}, body="the Nord-Stream 2 pipeline") == ["phrase:nord stream 2"]
    assert match({"phrase": "nord stream 2"}, body="Stream 2 of the Nord") is None
    assert match({"phrase": "nord stream 2"}, body="Nord Stream 23") is None


def test_entities_match_by_id_by_canonical_name_or_by_full_name_in_the_text():
    linked = {"entities": [("person:volodymyr-zelensky", "Volodymyr Zelensky")], "body": "Zelenskyy spoke."}
    assert match({"entity": "person:volodymyr-zelensky"}, **linked) == ["entity:person:volodymyr-zelensky"]
    assert match({"entity": "Volodymyr Zelensky"}, **linked) == ["entity:Volodymyr Zelensky"]
    assert match({"entity": "org:nato"}, body="org:nato NATO") is None  # an id is never looked for in text
    assert match({"entity": "Nord Stream 2"}, body="Nord Stream 2 will not go ahead") == [
        "entity:Nord Stream 2 (named in text)"]


def test_country_topic_urgency_and_blog_leaves():
    kw = dict(places=["ua"], topics=["energy"], urgency=0.8, blog="live")
    assert match({"country": "UA"}, **kw) == ["country:UA"]
    assert match({"topic": "Energy"}, **kw) == ["topic:Energy"]
    assert match({"min_urgency": 0.7}, **kw) == ["urgency:0.80>=0.70"]
    assert match({"min_urgency": 0.9}, **kw) is None
    assert match({"blog": "live"}, **kw) == ["blog:live"] and match({"blog": "other"}, **kw) is None


def test_all_any_not_combine_and_report_the_leaves_that_matched():
    rule = {"all": [{"any": [{"keyword": "pipeline"}, {"keyword": "gas"}]}, {"topic": "energy"},
                    {"not": {"keyword": "football"}}]}
    assert match(rule, body="A gas pipeline", topics=["energy"]) == [
        "keyword:pipeline", "topic:energy", 'not({"keyword":"football"})']
    assert match(rule, body="A gas pipeline and football", topics=["energy"]) is None
    assert match(rule, body="A gas pipeline", topics=["sport"]) is None


@pytest.mark.parametrize("bad", [{}, {"keyword": "a", "topic": "b"}, {"all": []}, {"keyword": " "},
                                 {"min_urgency": 2}, {"colour": "red"}])
def test_a_rule_node_sets_exactly_one_valid_field(bad):
    with pytest.raises(ValidationError):
        Rule.model_validate(bad)


@pytest.mark.parametrize("bad", [{"keyword": "!!!"}, {"phrase": "-"}, {"entity": "…"}])
def test_a_text_leaf_without_a_word_is_refused_instead_of_matching_every_post(bad):
    # phrase_pattern of no words is an empty pattern between two non-word positions: every post matched
    with pytest.raises(ValidationError, match="at least one letter or digit"):
        Rule.model_validate(bad)


@pytest.mark.parametrize("bad", ["Britain", "GBR", "U.K.", "g"])
def test_a_country_is_a_two_letter_iso_code_and_anything_else_says_so(bad):
    # places carry ISO 3166-1 alpha-2 codes only: any other value could never match
    with pytest.raises(ValidationError, match="two-letter ISO 3166-1 code"):
        Rule.model_validate({"country": bad})
    assert Rule.model_validate({"country": "gb"}).country == "gb"
