"""Quantities: numbers with a unit and a kind.

Kinds: ``people`` (troops, residents, voters…), ``casualties`` (killed, dead, wounded, lives),
``money`` (unit is an ISO 4217 code), ``percentage``, ``distance`` (unit km or mi), ``age``
(years) and ``magnitude`` (earthquakes). A bare number without one of these contexts
(years, dates, scores) is not reported.

``value`` is the number as a float. Vague amounts are approximate ranges and carry their
lower bound: "tens of thousands" → 10 000, "hundreds" → 100, "dozens" → 24; the ``text``
keeps the words so a reader sees the approximation. Numbers follow the post's language:
"8,500" in English, "8.500" in Spanish or German, "8 500" in French.
"""

from __future__ import annotations

import math
import re
from functools import cache

from schemas.events import Quantity
from workers.enrichers import gazetteer
from workers.enrichers._construct import constructor

NAME = "quantities"
VERSION = "1"

WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "a hundred": 100, "a thousand": 1000,
    "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10,
    "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "sept": 7, "huit": 8, "neuf": 9, "dix": 10,
    "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9, "zehn": 10,
}
VAGUE = {  # lower bounds of approximate ranges
    "tens of thousands": 10_000, "hundreds of thousands": 100_000, "thousands": 1_000, "hundreds": 100,
    "dozens": 24, "a dozen": 12, "millions": 1_000_000, "decenas de miles": 10_000, "miles": 1_000,
    "cientos": 100, "centenares": 100, "decenas": 20, "dizaines de milliers": 10_000, "milliers": 1_000,
    "centaines": 100, "dizaines": 20, "zehntausende": 10_000, "tausende": 1_000, "hunderte": 100,
}
SCALES = {
    "thousand": 1e3, "k": 1e3, "million": 1e6, "millions": 1e6, "m": 1e6, "mn": 1e6, "billion": 1e9, "bn": 1e9,
    "b": 1e9, "trillion": 1e12, "tn": 1e12, "millón": 1e6, "millones": 1e6, "mil millones": 1e9, "mil": 1e3,
    "milliard": 1e9, "milliards": 1e9, "millionen": 1e6, "milliarden": 1e9, "mio": 1e6, "mrd": 1e9,
}
CURRENCY_SYMBOLS = {"$": "USD", "us$": "USD", "£": "GBP", "€": "EUR", "¥": "JPY"}
CURRENCY_WORDS = {
    "dollars": "USD", "dollar": "USD", "us dollars": "USD", "dólares": "USD", "dollar américains": "USD",
    "pounds": "GBP", "pound": "GBP", "sterling": "GBP", "libras": "GBP", "euros": "EUR", "euro": "EUR",
    "roubles": "RUB", "rubles": "RUB", "rublos": "RUB", "yuan": "CNY", "hryvnias": "UAH", "hryvnia": "UAH",
}
PEOPLE_NOUNS = """troops soldiers servicemen servicemembers personnel people civilians residents refugees migrants
children workers employees voters fans spectators protesters demonstrators citizens prisoners hostages passengers
pilgrims officers firefighters volunteers athletes students patients families evacuees troop fighters
tropas soldados personas civiles refugiados habitantes vecinos evacuados militares aficionados votantes
soldats personnes civils réfugiés habitants militaires supporters électeurs
Soldaten Menschen Einwohner Zivilisten Flüchtlinge Besucher Fans Wähler""".split()
CASUALTY_NOUNS = """dead deaths killed victims casualties lives bodies injured wounded fatalities
muertos fallecidos heridos víctimas morts blessés victimes Tote Toten Verletzte Opfer""".split()
CASUALTY_VERBS = r"(?:were |have been |had been |are |was )?(?:killed|dead|shot dead|died|wounded|injured|murdered|muertos|murieron|heridos|tués|morts|blessés|getötet|verletzt|starben)"

_WORDS = "|".join(sorted(map(re.escape, WORD_NUMBERS), key=len, reverse=True))
_VAGUE = "|".join(sorted(map(re.escape, VAGUE), key=len, reverse=True))
_SCALE = "|".join(sorted(map(re.escape, SCALES), key=len, reverse=True))


QUALIFIERS = (
    "more than", "over", "at least", "almost", "nearly", "around", "about", "some", "up to", "fewer than",
    "less than", "más de", "unos", "unas", "al menos", "casi", "plus de", "près de", "au moins", "environ",
    "mehr als", "rund", "etwa", "fast", "mindestens",
)
_QUALIFIER_RE = re.compile(r"(?:" + "|".join(map(re.escape, QUALIFIERS)) + r") $", re.IGNORECASE)
# The ASCII qualifiers as the window before a number ends with them, for :func:`_qualifier`.
_QUALIFIER_ENDINGS = tuple(f"{q} " for q in QUALIFIERS if q.isascii())


def _qualifier(text: str, offset: int) -> tuple[int, str] | None:
    """(start, text) of what ``_QUALIFIER_RE.search(text, offset - 20, offset)`` finds, or None.

    The pattern only matches a qualifier and a space that end the window (``$`` also allows
    a newline after them), and no qualifier ends another, so for an ASCII window - where
    IGNORECASE is lower-casing - a suffix test says the same; other windows ask the regex.
    """
    lo = max(0, offset - 20)
    window = text[lo:offset]
    if not window.isascii():
        m = _QUALIFIER_RE.search(text, lo, offset)
        return (m.start(), m.group()) if m else None
    end = len(window) - 1 if window.endswith("\n") else len(window)
    low = window[:end].lower()
    if not low.endswith(_QUALIFIER_ENDINGS):
        return None
    ending = next(e for e in _QUALIFIER_ENDINGS if low.endswith(e))
    return lo + end - len(ending), window[end - len(ending):end]


_DIGIT_START_RE = re.compile(r"(?=[U$£€¥\s\d])(?<![\w.,])(?:US\$|[$£€¥])?\s?\d")  # (?=: fails fast
_WORD_RE = re.compile(r"[^\W\d_]+")
# First words of spelled-out numbers; "a dozen", "a hundred" are found by their second word.
_NUMBER_WORDS = frozenset(w for phrase in (*WORD_NUMBERS, *VAGUE, "half a") for w in phrase.split()[:2] if w not in ("a", "of", "de"))


@cache
def _number_re(lang: str) -> re.Pattern[str]:
    """The number itself, matched only at candidate offsets (see :func:`_candidates`)."""
    group = r"[ \u00a0\u202f]" if lang == "fr" else r"[,.\u00a0\u202f]" if lang in ("es", "de", "it", "pt", "nl") else r"[,\u00a0\u202f]"
    digits = rf"\d{{1,3}}(?:{group}\d{{3}})+(?:[.,]\d+)?(?!\d)|\d+(?:[.,]\d+)?"
    return re.compile(
        rf"(?P<cur>US\$|\$|£|€|¥)?\s?"
        rf"(?:(?P<half>half a) (?P<hscale>million|billion|trillion)|(?P<vague>{_VAGUE})(?: of| de)?|(?P<num>{digits})|(?P<word>{_WORDS}))"
        rf"(?:[ \u00a0]?(?P<scale>{_SCALE})(?![\w]))?",
        re.IGNORECASE,
    )


def _candidates(text: str) -> list[int]:
    """Offsets where a number may start: digits or currency signs, and number words.

    Matching the full pattern only here is what keeps this enricher cheap: trying it at
    every word of a post costs ten times more.
    """
    starts = {m.start() for m in _DIGIT_START_RE.finditer(text)}
    present = _NUMBER_WORDS.intersection(_WORD_RE.findall(text.lower()))
    if present:  # most posts have none or one or two: search only for those
        words = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(present))) + r")\b", re.IGNORECASE)
        for m in words.finditer(text):
            starts.add(m.start() - 2 if text[max(0, m.start() - 2):m.start()].lower() == "a " else m.start())
    return sorted(starts)


_UNIT_RE = re.compile(
    r"\s?(?:(?P<pct>%|per ?cent\b|percent\b|por ciento|pour cent|prozent)"
    r"|(?:de |d'|d’)?(?P<cur>(?:us )?dollars?|dólares|pounds?|sterling|libras|euros?|roubles|rubles|rublos|yuan|hryvnias?)\b"
    r"|(?P<km>km|kilomet(?:re|er)s?|kilómetros|kilomètres)\b|(?P<mi>miles)\b"
    r"|(?P<age>-year-old|-years-old| years? old| años\b| ans\b|-jährige[rn]?|-Jährige[rn]?))",
    re.IGNORECASE,
)
_ADJECTIVES = "more|additional|extra|other|new|armed|civilian|foreign|local|young|elderly|innocent|ordinary"


@cache
def _noun_re() -> re.Pattern[str]:
    """Up to two words between number and noun: capitalised words ("US"), nationality adjectives, a few others."""
    demonyms = "|".join(sorted({re.escape(f) for d in gazetteer.demonyms() for f in d.forms}, key=len, reverse=True))
    filler = rf"(?:(?:[A-Z][\w\-]*|(?i:{_ADJECTIVES}|{demonyms})) ){{0,2}}"
    return re.compile(rf"\s{filler}(?P<noun>(?i:{'|'.join(PEOPLE_NOUNS + CASUALTY_NOUNS)}))\b")


_WORD_RUN_RE = re.compile(r"\w+")
_NOUN_KEYS = frozenset(w.lower() for w in PEOPLE_NOUNS + CASUALTY_NOUNS)


def _may_name_a_noun(tail: str) -> bool:
    """False only when :func:`_noun_re` cannot match ``tail``: its noun follows whitespace and ends at a word
    boundary, so it is a whole ``\\w+`` run of the tail; an ASCII run matches ignoring case exactly when its
    lower-case form is a noun (non-ASCII runs are left to the regex). The full pattern, with its long
    case-insensitive demonym alternation, is the most expensive test of a number; most numbers have no noun."""
    return any(not w.isascii() or w.lower() in _NOUN_KEYS for w in _WORD_RUN_RE.findall(tail))


_CASUALTY_AFTER_RE = re.compile(rf"(?:\s[\w\-]+){{0,2}}?\s{CASUALTY_VERBS}\b", re.IGNORECASE)
_HARMED = "killing|killed|wounding|wounded|injuring|injured"
_CASUALTY_BEFORE_RE = re.compile(rf"(?:{_HARMED})\s$", re.IGNORECASE)
# Before a bare number only: "the quake claimed 30". Before a number and a noun, "claimed" and
# "left" say nothing ("claimed around 30,000 residents had signed", "left 3,000 homes without
# power"); "left 12 people dead" is a casualty by the word after it.
_CASUALTY_BEFORE_BARE_RE = re.compile(rf"(?:{_HARMED}|claimed)\s$", re.IGNORECASE)
_AGE_BEFORE_RE = re.compile(r"(?:aged|age of|âgée? de)\s$", re.IGNORECASE)
_MAGNITUDE_RE = re.compile(r"magnitude[- ]$|^-?magnitude|^ on the Richter", re.IGNORECASE)
_NAME_BEFORE_RE = re.compile(r"\b[A-Z][\w\-]*[A-Za-z] $")
CASUALTY_SET = {w.casefold() for w in CASUALTY_NOUNS}


def _parse_digits(raw: str, lang: str) -> float | None:
    if lang == "fr":
        raw = re.sub(r"[ \u00a0\u202f]", "", raw).replace(",", ".")
    elif lang in ("es", "de", "it", "pt", "nl"):
        raw = re.sub(r"[.\u00a0\u202f](?=\d{3}(?!\d))", "", raw).replace(",", ".")
    else:
        raw = re.sub(r"[,\u00a0\u202f]", "", raw)
    if len(raw) > 18:
        return None
    value = float(raw)
    return value if math.isfinite(value) else None


def _value(m: re.Match[str], lang: str) -> float | None:
    if m["half"]:
        return 0.5 * SCALES[m["hscale"].lower()]
    if m["vague"]:
        return float(VAGUE[m["vague"].lower()])
    base = _parse_digits(m["num"], lang) if m["num"] else float(WORD_NUMBERS[m["word"].lower()])
    if base is None:
        return None
    scale = SCALES.get((m["scale"] or "").lower(), 1.0)
    return base * scale


def _classify(text: str, m: re.Match[str], begin: int) -> tuple[str, str | None, int] | None:
    """(kind, unit, end offset of the quantity's text) from the words before ``begin`` and after the number."""
    end = m.end()
    tail = text[end:end + 60]
    head = text[max(0, begin - 20):begin]
    if m["cur"]:
        return "money", CURRENCY_SYMBOLS[m["cur"].lower()], end
    if _MAGNITUDE_RE.search(head) or _MAGNITUDE_RE.match(tail):
        return "magnitude", None, end
    unit = _UNIT_RE.match(tail)
    if unit:
        stop = end + unit.end()
        if unit["pct"]:
            return "percentage", "%", stop
        if unit["cur"]:
            word = unit["cur"].lower()
            return "money", CURRENCY_WORDS.get(word, CURRENCY_WORDS.get(word.rstrip("s"), "USD")), stop
        if unit["km"] or unit["mi"]:
            return "distance", "km" if unit["km"] else "mi", stop
        return "age", "years", stop
    if _AGE_BEFORE_RE.search(head) and m["num"] and not m["scale"]:
        return "age", "years", end
    noun = _noun_re().match(tail) if _may_name_a_noun(tail) else None
    if noun:
        word = noun["noun"]
        casualty = word.casefold() in CASUALTY_SET or _CASUALTY_BEFORE_RE.search(head)
        kind = "casualties" if casualty or _CASUALTY_AFTER_RE.match(text, end + noun.end()) else "people"
        return kind, word.lower(), end + noun.end()
    if _CASUALTY_AFTER_RE.match(tail) or _CASUALTY_BEFORE_BARE_RE.search(head):
        after = _CASUALTY_AFTER_RE.match(tail)
        return "casualties", "people", end + (after.end() if after else 0)
    return None


def extract_quantities(text: str, lang: str | None = None) -> list[Quantity]:
    lang = lang or "en"
    pattern = _number_re(lang)
    found = []
    covered = -1
    for offset in _candidates(text):
        if offset < covered:
            continue  # "thousands" inside "tens of thousands"
        m = pattern.match(text, offset)
        if m is None or not (m["num"] or m["word"] or m["vague"] or m["half"]):
            continue
        qualifier = _qualifier(text, offset)
        if not (qualifier or m["cur"]) and _NAME_BEFORE_RE.search(text, max(0, offset - 30), offset):
            continue  # "Nord Stream 2", "Apollo 11": part of a name
        begin = qualifier[0] if qualifier else m.start()
        kind = _classify(text, m, begin)
        if kind is None:
            continue
        name, unit, stop = kind
        covered = stop
        value = _value(m, lang)
        low, high, approximate = _bounds(m, value, qualifier[1].strip().casefold() if qualifier else "")
        found.append(_quantity(text[begin:stop].strip(), value, unit, name, low, high, approximate))
    return found


_quantity = constructor(Quantity)  # (text, value, unit, kind, low, high, approximate)
LOWER_BOUND_WORDS = {"more than", "over", "at least", "más de", "al menos", "plus de", "au moins", "mehr als", "mindestens"}
UPPER_BOUND_WORDS = {"up to", "fewer than", "less than", "almost", "nearly", "casi", "près de", "fast"}


def _bounds(m: re.Match[str], value: float | None, qualifier: str) -> tuple[float | None, float | None, bool]:
    """The range a quantity stands for: "tens of thousands" is 10,000 up to (not including)
    100,000; "more than 8,500" has a lower bound; "up to 40" an upper one; "about 50" is just
    approximate."""
    if value is None:
        return None, None, False
    if m["vague"]:
        return value, value * (6 if "dozen" in m["vague"].casefold() else 10), True
    if qualifier in LOWER_BOUND_WORDS:
        return value, None, True
    if qualifier in UPPER_BOUND_WORDS:
        return None, value, True
    return None, None, bool(qualifier)
