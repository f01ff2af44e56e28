"""The project's curated name lists (workers/enrichers/data/), parsed once per process.

The files are facts about the world (who is Ukraine's president, what NATO is called in
French), kept as TSV so a reviewer can diff them. Nothing here knows about any post.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from workers.enrichers.text import fold

DATA_DIR = Path(__file__).with_name("data")


@dataclass(frozen=True, slots=True)
class Person:
    canonical: str
    aliases: tuple[str, ...]
    solo: bool  # the surname alone names this person in any text

    @property
    def first_names(self) -> frozenset[str]:
        """Folded given names over all spellings ("sergey", "sergei") to confirm a fuzzy surname hit."""
        names = {fold(n.split()[0]) for n in (self.canonical, *self.aliases) if len(n.split()) > 1}
        return frozenset(names)

    @property
    def surnames(self) -> frozenset[str]:
        """Folded surname spellings: the last word of every multi-word name plus the one-word aliases."""
        keys = {fold(n.split()[-1]) for n in (self.canonical, *self.aliases)}
        keys |= {fold(n) for n in self.aliases if " " not in n and "-" not in n[:1]}
        return frozenset(keys)


@dataclass(frozen=True, slots=True)
class Named:
    """An organisation or event: one canonical spelling and its aliases."""

    canonical: str
    aliases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Demonym:
    forms: tuple[str, ...]
    country_code: str | None
    canonical: str


@dataclass(frozen=True, slots=True)
class CuratedPlace:
    kind: str  # "LOC" regions and seas, "PLACE" a city spelling the gazetteer lacks, "NAME" short names of a gazetteer city
    canonical: str
    country_code: str | None
    latitude: float
    longitude: float
    aliases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TopicRule:
    topic: str
    weight: float
    terms: tuple[str, ...]


def _rows(name: str) -> list[list[str]]:
    lines = (DATA_DIR / name).read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


def _aliases(field: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in field.split("|") if a.strip())


@cache
def people() -> tuple[Person, ...]:
    return tuple(Person(r[0], _aliases(r[1]), r[2].strip() == "1") for r in _rows("people.tsv"))


@cache
def organisations() -> tuple[Named, ...]:
    return tuple(Named(r[0], _aliases(r[1]) if len(r) > 1 else ()) for r in _rows("organisations.tsv"))


@cache
def events() -> tuple[Named, ...]:
    return tuple(Named(r[0], _aliases(r[1]) if len(r) > 1 else ()) for r in _rows("events.tsv"))


@cache
def demonyms() -> tuple[Demonym, ...]:
    return tuple(Demonym(_aliases(r[0]), None if r[1] == "-" else r[1], r[2]) for r in _rows("demonyms.tsv"))


@cache
def curated_places() -> tuple[CuratedPlace, ...]:
    return tuple(
        CuratedPlace(r[0], r[1], None if r[2] == "-" else r[2], float(r[3]), float(r[4]),
                     _aliases(r[5]) if len(r) > 5 else ())
        for r in _rows("locations.tsv")
    )


@cache
def country_cues() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(ISO code, curated institution names) whose mention places a text in that country."""
    return tuple((r[0], _aliases(r[1])) for r in _rows("country_cues.tsv"))


@cache
def topic_rules() -> tuple[TopicRule, ...]:
    return tuple(TopicRule(r[0], float(r[1]), _aliases(r[2])) for r in _rows("topics.tsv"))


def _words(name: str) -> frozenset[str]:
    lines = (DATA_DIR / name).read_text(encoding="utf-8").splitlines()
    return frozenset(fold(w) for line in lines if not line.startswith("#") for w in line.split())


@cache
def given_name_variants() -> dict[str, str]:
    """Folded given name → the folded first spelling of its line in given_name_variants.txt ("xose" → "jose")."""
    table: dict[str, str] = {}
    for line in (DATA_DIR / "given_name_variants.txt").read_text(encoding="utf-8").splitlines():
        spellings = [fold(w) for w in line.split()] if not line.startswith("#") else []
        for spelling in spellings:
            table.setdefault(spelling, spellings[0])
    return table


@cache
def first_names() -> frozenset[str]:
    return _words("first_names.txt") | frozenset(given_name_variants())


@cache
def place_stopwords() -> frozenset[str]:
    lines = (DATA_DIR / "place_stopwords.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(fold(line) for line in lines if line.strip() and not line.startswith("#"))
