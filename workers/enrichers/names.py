"""Name tables for the entity scanner: the alias index, surname index and fuzzy matching.

Fuzzy matching (rapidfuzz ``fuzz.ratio`` on folded strings) only applies to capitalised
single words of at least FUZZY_MIN_LENGTH characters that nothing matched exactly, and
only against names that are safe to read alone (surnames marked ``solo``, demonyms,
one-word country names). FUZZY_THRESHOLD = 85 accepts one transposition in an
eight-letter name ("Zelesnky" 87.5) or a stray suffix ("Zelenskyyon" 90) while keeping
ordinary words away (the nearest false hits we saw on the gold set scored below 80).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from rapidfuzz import fuzz, process

from workers.enrichers import gazetteer
from workers.enrichers.places import PlaceRecord, place_index, town_index
from workers.enrichers.text import fold, slug

FUZZY_THRESHOLD = 85.0
FUZZY_MIN_LENGTH = 6


@dataclass(frozen=True, slots=True)
class Hit:
    """What a known spelling names; ``readings`` holds every place reading when a name is ambiguous.

    ``needs_support``: a name that is only a town (:func:`town`), a place only where the post or
    page names its country."""

    label: str
    canonical: str
    entity_id: str
    readings: tuple[PlaceRecord, ...] = ()
    needs_support: bool = False


def person_hit(canonical: str) -> Hit:
    return Hit("PERSON", canonical, f"person:{slug(canonical)}")


def _is_acronym(alias: str) -> bool:
    letters = alias.replace(".", "").replace("+", "")
    return letters.isupper() and len(letters) <= 6


def _acronym_key(alias: str) -> str:
    return alias.replace(".", "")


@cache
def _indexes() -> tuple[dict[str, Hit], dict[str, Hit]]:
    """(folded key → Hit, exact-case acronym → Hit); the first source to claim a key wins.

    Order: full person names, organisations, events, solo surnames, places, demonyms — so
    "Georgian Dream" is a party, "China" a country rather than the Spanish demonym "china".
    """
    folded: dict[str, Hit] = {}
    exact: dict[str, Hit] = {}

    def add(alias: str, hit: Hit) -> None:
        if _is_acronym(alias):
            exact.setdefault(_acronym_key(alias), hit)
        else:
            folded.setdefault(fold(alias), hit)

    for p in gazetteer.people():
        for alias in (p.canonical, *p.aliases):
            if " " in alias or (p.solo and alias in p.aliases):
                add(alias, person_hit(p.canonical))
    for label, rows, prefix in (("ORG", gazetteer.organisations(), "org"), ("EVENT", gazetteer.events(), "event")):
        for row in rows:
            hit = Hit(label, row.canonical, f"{prefix}:{slug(row.canonical)}")
            for alias in (row.canonical, *row.aliases):
                add(alias, hit)
    for key, readings in place_index().items():
        first = readings[0]
        folded.setdefault(key, Hit(first.label, first.canonical, first.entity_id, readings))
    for acronym in ("US", "USA", "UK", "EEUU", "DPRK", "PRC", "DRC", "NYC", "CDMX"):
        readings = place_index().get(fold(acronym))
        if readings:
            exact.setdefault(acronym, Hit(readings[0].label, readings[0].canonical, readings[0].entity_id, readings))
    for d in gazetteer.demonyms():
        hit = Hit("NORP", d.canonical, f"norp:{d.country_code.lower()}" if d.country_code else f"norp:{slug(d.canonical)}")
        for form in d.forms:
            if form[:1].isupper():
                add(form, hit)
    return folded, exact


@lru_cache(maxsize=65536)
def town(surface: str) -> Hit | None:
    """The town readings of a capitalised word that nothing else names ("Carlisle"), or None."""
    readings = town_index().get(fold(surface))
    if not readings:
        return None
    first = readings[0]
    return Hit(first.label, first.canonical, first.entity_id, readings, needs_support=True)


def lookup(surface: str) -> Hit | None:
    """Exact lookup of a surface span: acronyms case-sensitively, everything else folded."""
    folded, exact = _indexes()
    return exact.get(_acronym_key(surface)) or folded.get(fold(surface))


@cache
def lowercase_demonyms() -> dict[str, Hit]:
    """Spanish/French/German adjective forms ("ruso", "russe", "russische") that are written lower-case."""
    table = {}
    for d in gazetteer.demonyms():
        hit = Hit("NORP", d.canonical, f"norp:{d.country_code.lower()}" if d.country_code else f"norp:{slug(d.canonical)}")
        for form in d.forms:
            if form[:1].islower():
                table.setdefault(form, hit)
    return table


@cache
def surname_index() -> dict[str, tuple[gazetteer.Person, ...]]:
    """Folded surname spelling → every curated person it may name (several for "Sullivan", "Johnson")."""
    index: dict[str, list[gazetteer.Person]] = {}
    for p in gazetteer.people():
        for key in p.surnames:
            index.setdefault(key, []).append(p)
    return {k: tuple(v) for k, v in index.items()}


@cache
def _fuzzy_choices() -> tuple[tuple[str, ...], tuple[Hit, ...]]:
    keys: list[str] = []
    hits: list[Hit] = []
    for p in gazetteer.people():
        if p.solo:
            for key in sorted(p.surnames):
                keys.append(key)
                hits.append(person_hit(p.canonical))
    folded, _ = _indexes()
    for key, hit in sorted(folded.items()):
        if hit.label in ("NORP", "GPE") and " " not in key and hit.entity_id.count("-") == 0:
            keys.append(key)
            hits.append(hit)
    return tuple(keys), tuple(hits)


@lru_cache(maxsize=65536)
def fuzzy(surface: str) -> Hit | None:
    """Nearest safe name for a misspelt word, or None below FUZZY_THRESHOLD; ties go to the first choice."""
    key = fold(surface)
    if len(key) < FUZZY_MIN_LENGTH or not key.isalpha():
        return None
    keys, hits = _fuzzy_choices()
    best = process.extractOne(key, keys, scorer=fuzz.ratio, score_cutoff=FUZZY_THRESHOLD)
    return hits[best[2]] if best else None


def person_by_full_name(first: str, surname: str) -> Hit | None:
    """A curated person whose given name matches and whose surname matches exactly or fuzzily.

    This is what turns "Volodymyr Zelenskyyon" or "Sergey Lavrov" into the curated entry while
    "Heather Nuland" (a different given name) stays a person of its own.
    """
    candidates = surname_index().get(fold(surname), ())
    if not candidates:
        hit = fuzzy(surname)
        candidates = tuple(p for p in gazetteer.people() if hit and hit.label == "PERSON" and p.canonical == hit.canonical)
    given = fold(first)
    for p in candidates:
        if given in p.first_names:
            return person_hit(p.canonical)
    return None


def curated_by_surname(surname: str) -> Hit | None:
    """The only curated person with this surname (exact or fuzzy), for "Mr Kirby" with no one else in view."""
    candidates = surname_index().get(fold(surname), ())
    if len(candidates) == 1:
        return person_hit(candidates[0].canonical)
    hit = fuzzy(surname) if not candidates else None
    return hit if hit and hit.label == "PERSON" else None


_DOUBLED = re.compile(r"(.)\1+")
_TRANSLITERATIONS = (("tsch", "ch"), ("sch", "sh"), ("cz", "ch"), ("sz", "sh"), ("ck", "k"), ("ph", "f"),
                     ("w", "v"), ("y", "i"))


@lru_cache(maxsize=65536)
def spelling_key(folded: str) -> str:
    """What two spellings of one surname share when they differ as transliterations or regional forms
    do: Polish cz/sz against ch/sh, w against v, y against i, doubled letters, and the final vowel
    ("Kowalczyk" and "Kowalchik" → "kovalchik"; "Olmedo" and "Olmeda" → "olmed*"). Other letters stay:
    "Miller" and "Millar" keep different keys."""
    key = folded
    for a, b in _TRANSLITERATIONS:
        key = key.replace(a, b)
    key = _DOUBLED.sub(r"\1", key)
    return key[:-1] + "*" if key[-1:] in ("a", "e", "i", "o", "u") else key


def same_surname(a: str, b: str) -> bool:
    """Two folded surnames of at least FUZZY_MIN_LENGTH letters that one person may be written with:
    within FUZZY_THRESHOLD ("Macintosh"/"McIntosh") or with the same spelling key. Only ever asked
    for names that already share a given name (or where an honorific vouches for the surname)."""
    if a == b:
        return True
    if len(a) < FUZZY_MIN_LENGTH or len(b) < FUZZY_MIN_LENGTH:
        return False
    return spelling_key(a) == spelling_key(b) or fuzz.ratio(a, b) >= FUZZY_THRESHOLD


def given_key(name: str) -> str:
    """A given name's folded spelling, the same for its variants ("Xosé", "José" → "jose")."""
    folded = fold(name)
    return gazetteer.given_name_variants().get(folded, folded)
