"""Document-wide knowledge that single posts lack: who a bare surname refers to on this page.

A live blog introduces "John Kirby" in one post and says "Mr Kirby" in the next; the worker
builds one :class:`DocumentContext` from all posts of a document so every post resolves the
surname the same way. Built once per document, immutable, safe to share across threads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from types import MappingProxyType

from workers.enrichers.entities import full_names, join_titled, scan, titled_surnames
from workers.enrichers.gazetteer import people
from workers.enrichers.names import FUZZY_MIN_LENGTH, given_key, same_surname
from workers.enrichers.places import entity_country, text_countries
from workers.enrichers.text import fold


@dataclass(frozen=True)
class DocumentContext:
    """Folded surname → the full name it most often belongs to in the document; the surnames
    the document puts after an honorific; each spelling variant of a full name → the
    spelling the document uses most; and ISO country code → how many texts of the document
    name that country (an unambiguous place, demonym, curated institution or "£"), which
    settles a town or city name that several countries share (Newcastle, Denton)."""

    surnames: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    titled: frozenset[str] = frozenset()
    variants: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    countries: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_texts(cls, texts: list[str]) -> DocumentContext:
        """Count full-name mentions over all texts. A surname shared by two people goes to the curated
        one (news figures are quoted; the blog's own reporters share their surnames), then to the more
        frequent, then to the alphabetically first, so the result does not depend on post order."""
        titled = frozenset().union(*[t for t in map(titled_surnames, texts) if t])
        counts: dict[str, Counter[str]] = {}
        for text in texts:
            for key, canonicals in _full_names_of(text, titled):
                counts.setdefault(key, Counter()).update(canonicals)
        curated = _curated()
        variants = _variants(counts, curated, lambda key: sum(_lone_words_of(text)[key] for text in texts))
        best = {key: min(c.items(), key=lambda kv: (kv[0] not in curated, -kv[1], kv[0]))[0] for key, c in counts.items()}
        best = {key: variants.get(name, name) for key, name in best.items()}
        countries = Counter(code for text in texts for code in _countries_of(text))
        return cls(MappingProxyType(best), titled, MappingProxyType(variants), MappingProxyType(dict(sorted(countries.items()))))

    def person_for(self, surname_key: str) -> str | None:
        return self.surnames.get(surname_key)


@cache
def _curated() -> frozenset[str]:
    return frozenset(p.canonical for p in people())


def _variants(counts: dict[str, Counter[str]], curated: frozenset[str], alone: Callable[[str], int]) -> dict[str, str]:
    """Full names one person goes by on a page, spelt differently ("Alasdair Macintosh",
    "Alasdair McIntosh", "Alasdair Mackintosh"; "Xosé Manuel Olmeda", "José Manuel Olmedo"): given
    names that are one name (the same folded, or spellings of one name in given_name_variants.txt),
    middle names that agree (the same, or absent from one of the two: "José Luis" is not "José
    Manuel") and surnames of at least FUZZY_MIN_LENGTH letters that :func:`names.same_surname` takes
    for one. Each maps to the curated spelling, else the one with the most mentions (its surname
    alone counted too), else the alphabetically first; names with no variant are left out."""
    mentions: Counter[str] = Counter()
    for key, names in counts.items():
        for name, n in names.items():
            if fold(name.split()[-1]) == key:  # each mention once, under its own surname
                mentions[name] += n
    by_given: dict[str, list[str]] = {}
    for name in sorted(mentions):
        parts = name.split()
        if len(parts) >= 2 and len(parts[-1]) >= FUZZY_MIN_LENGTH:
            by_given.setdefault(given_key(parts[0]), []).append(name)
    out: dict[str, str] = {}
    counted: set[str] = set()
    for names in by_given.values():
        if len(names) < 2:
            continue
        surname = {name: fold(name.split()[-1]) for name in names}
        middle = {name: tuple(given_key(p) for p in name.split()[1:-1]) for name in names}
        for name in names:
            group = [other for other in names if same_surname(surname[name], surname[other])
                     and (middle[name] == middle[other] or not middle[name] or not middle[other])]
            if len(group) < 2:
                continue
            for g in group:
                if g not in counted:  # "Mr Mackintosh" speaks for its spelling (asked only for variants)
                    counted.add(g)
                    mentions[g] += alone(surname[g])
            best = min(group, key=lambda g: (g not in curated, -mentions[g], g))
            if best != name:
                out[name] = best
    return out


@lru_cache(maxsize=16_384)
def _countries_of(text: str) -> frozenset[str]:
    """Countries a text names unambiguously: places with one reading, demonyms, curated institutions, "£"."""
    found = {entity_country(m.hit.entity_id) for m in scan(text) if m.hit is not None and len(m.hit.readings) <= 1}
    found.update(text_countries(text))
    found.discard(None)
    return frozenset(found)


@lru_cache(maxsize=16_384)
def _lone_words_of(text: str) -> Counter[str]:
    """Folded capitalised words the scan could not place, with how often each occurs."""
    return Counter(fold(text[m.start:m.end]) for m in scan(text) if m.hit is None)


@lru_cache(maxsize=16_384)
def _full_names_of(text: str, titled: frozenset[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The full-name mentions of one post, remembered per process: a re-polled page brings the
    same posts again, so only its new posts are scanned when the context is rebuilt."""
    mentions = scan(text)
    if titled:
        mentions = join_titled(text, mentions, titled)
    return tuple((key, tuple(c for _, c in found)) for key, found in full_names(text, mentions).items())
