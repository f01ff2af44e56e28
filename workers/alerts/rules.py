"""Deciding whether an event matches a rule, and saying why.

Matching is a pure function of the event's data (text, entities, places, topics,
urgency, blog), so a replay matches the same way. Text is compared case- and
accent-folded ("Zelenskyy" matches "ZELENSKYY", "Córdoba" matches "cordoba") and only
on word boundaries ("gas" does not match "Vegas"); phrases match across any run of
spaces and punctuation between their words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from schemas.subscriptions import Rule

WORD_GAP = r"[\W_]+"


def fold(text: str) -> str:
    """Lower-case without accents: the form both sides are compared in."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@lru_cache(maxsize=4096)
def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """Whole words, in order, separated by anything that is not a word character."""
    words = re.findall(r"\w+", fold(phrase))
    return re.compile(r"(?<!\w)" + WORD_GAP.join(re.escape(w) for w in words) + r"(?!\w)")


@dataclass(frozen=True)
class Subject:
    """The parts of an event a rule can look at, folded once per event."""

    text: str
    entity_ids: frozenset[str]
    entity_names: frozenset[str]
    countries: frozenset[str]
    topics: frozenset[str]
    urgency: float
    blog: str

    @classmethod
    def from_event(cls, event: dict) -> Subject:
        data = event["data"]
        post = data["post"]
        entities = data.get("entities") or []
        return cls(
            text=fold(f"{post.get('title') or ''}\n{post.get('body') or ''}"),
            entity_ids=frozenset(e["id"].casefold() for e in entities if e.get("id")),
            entity_names=frozenset(fold(e["canonical"]) for e in entities if e.get("canonical")),
            countries=frozenset((p.get("country_code") or "").upper() for p in data.get("places") or []) - {""},
            topics=frozenset(t.casefold() for t in data.get("topics") or []),
            urgency=float(data.get("urgency") or 0.0),
            blog=data["blog"]["id"],
        )


def explain(rule: Rule, subject: Subject) -> list[str] | None:
    """The leaves that made ``rule`` match (for the alert and ``subscribe test``), or None."""
    if rule.all is not None:
        reasons: list[str] = []
        for child in rule.all:
            got = explain(child, subject)
            if got is None:
                return None
            reasons += got
        return reasons
    if rule.any is not None:
        for child in rule.any:
            got = explain(child, subject)
            if got is not None:
                return got
        return None
    if rule.not_ is not None:
        return None if explain(rule.not_, subject) is not None else [f"not({rule.not_.to_json()})"]
    return _leaf(rule, subject)


def _leaf(rule: Rule, s: Subject) -> list[str] | None:
    if rule.keyword is not None or rule.phrase is not None:
        words = rule.keyword if rule.keyword is not None else rule.phrase
        name = "keyword" if rule.keyword is not None else "phrase"
        return [f"{name}:{words}"] if phrase_pattern(words).search(s.text) else None  # type: ignore[arg-type]
    if rule.entity is not None:
        return _entity(rule.entity, s)
    if rule.country is not None:
        return [f"country:{rule.country.upper()}"] if rule.country.upper() in s.countries else None
    if rule.topic is not None:
        return [f"topic:{rule.topic}"] if rule.topic.casefold() in s.topics else None
    if rule.min_urgency is not None:
        return [f"urgency:{s.urgency:.2f}>={rule.min_urgency:.2f}"] if s.urgency >= rule.min_urgency else None
    if rule.blog is not None:
        return [f"blog:{rule.blog}"] if rule.blog == s.blog else None
    raise AssertionError(f"rule node with nothing to test: {rule!r}")  # the model forbids it


def _entity(wanted: str, s: Subject) -> list[str] | None:
    """An entity by id (``org:nato``), or by name: a canonical name the enrichers linked,
    else the full name written in the text (a name the gazetteer does not know yet is
    still that entity when it is spelled out in full)."""
    if wanted.casefold() in s.entity_ids:
        return [f"entity:{wanted}"]
    if re.match(r"^[a-z]+:[\w.-]+$", wanted):  # an id that is not there
        return None
    if fold(wanted) in s.entity_names:
        return [f"entity:{wanted}"]
    return [f"entity:{wanted} (named in text)"] if phrase_pattern(wanted).search(s.text) else None
