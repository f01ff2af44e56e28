"""Live-blog time stamps: recognise a stamp line, then place every stamp on the
calendar in UTC.

Pages show full dates ("Thursday 27 January 2022 21:10") on older posts and
bare times ("00:30", "9.05pm") on the newest ones. A bare time takes its date
from the nearest full-dated neighbour, walking the posts in chronological order
and rolling to the next day when the clock goes back by more than
``ROLLOVER_GAP`` (so a pinned post a few minutes out of order does not invent a
new day).

Pages also print stamps relative to the moment they were rendered: "5 minutes ago",
"il y a 1 h", "vor 2 Stunden", "hace 5 minutos", "5 minuti fa", "há 5 minutos",
"just now", and "yesterday 21:05" / "hier à 21h05" / "gestern, 21.05 Uhr", also after a
label ("Updated 5 minutes ago", "Publié il y a 5 minutes", "Aktualisiert vor 5 Minuten",
"Actualizado hace 5 minutos"). They are
read here (English, French, German, Spanish, Italian, Portuguese) and placed on the
calendar by ``pin``: the fetch time minus the delta, at minute precision, or the given
clock time on the fetch date (in the blog's zone) minus the days named. A pinned stamp
is then a full-dated stamp like any other, so bare times around it take their dates
from it.

A labelled relative stamp is read as the post's stamp whatever its label says: "Updated 5
minutes ago" dates the post, not an edit. The text parser has one stamp per post, so there is
no publication time for such an edit time to follow; the HTML parser reads edit times only from
a ``<time datetime>`` marked updated/modified, never from a relative text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.errors import InputRejected

ROLLOVER_GAP = timedelta(hours=6)
# A live blog is news: a stamp outside these years is not a date we place on the calendar.
MIN_YEAR, MAX_YEAR = 1900, 2200

MONTHS = {
    # English
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "sept": 9, "oct": 10, "nov": 11, "dec": 12,
    # Spanish
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12,
    # French
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6,
    "juillet": 7, "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11,
    "décembre": 12, "decembre": 12,
    # German
    "januar": 1, "februar": 2, "märz": 3, "maerz": 3, "juni": 6, "juli": 7,
    "oktober": 10, "dezember": 12, "mär": 3, "okt": 10, "dez": 12,
    # Italian
    "gennaio": 1, "febbraio": 2, "aprile": 4, "maggio": 5, "giugno": 6, "luglio": 7, "settembre": 9,
    "ottobre": 10, "dicembre": 12, "gen": 1, "mag": 5, "giu": 6, "lug": 7, "ago": 8, "set": 9, "ott": 10, "dic": 12,
    # Portuguese
    "janeiro": 1, "fevereiro": 2, "março": 3, "maio": 5, "junho": 6, "julho": 7, "setembro": 9,
    "outubro": 10, "dezembro": 12, "fev": 2, "out": 10,
}
WEEKDAYS = (
    "monday tuesday wednesday thursday friday saturday sunday "
    "mon tue tues wed thu thur thurs fri sat sun "
    "lunes martes miércoles miercoles jueves viernes sábado sabado domingo "
    "lundi mardi mercredi jeudi vendredi samedi dimanche "
    "montag dienstag mittwoch donnerstag freitag samstag sonntag "
    "lunedì lunedi martedì martedi mercoledì mercoledi giovedì giovedi venerdì venerdi sabato domenica "
    "segunda-feira terça-feira terca-feira quarta-feira quinta-feira sexta-feira segunda terça quarta quinta sexta"
).split()
# Abbreviations that pages print after a time ("21.10 BST"); fixed offsets on purpose:
# the abbreviation already says whether summer time applies.
ZONE_ABBREVIATIONS = {
    "UTC": 0, "GMT": 0, "Z": 0, "BST": 60, "IST": 60, "WET": 0, "WEST": 60, "CET": 60, "CEST": 120,
    "EET": 120, "EEST": 180, "MSK": 180, "EST": -300, "EDT": -240, "CST": -360, "CDT": -300,
    "MST": -420, "MDT": -360, "PST": -480, "PDT": -420, "AEST": 600, "AEDT": 660, "JST": 540,
}

# "yesterday 21:05", "hier à 21h05", "gestern, 21.05 Uhr": the days back from the fetch date
RELATIVE_DAYS = {
    "today": 0, "yesterday": 1,
    "aujourd'hui": 0, "aujourd’hui": 0, "hier": 1, "avant-hier": 2,
    "heute": 0, "gestern": 1, "vorgestern": 2,
    "hoy": 0, "ayer": 1, "anteayer": 2,
    "oggi": 0, "ieri": 1, "l'altro ieri": 2, "l’altro ieri": 2, "altroieri": 2,
    "hoje": 0, "ontem": 1, "anteontem": 2,
}
_MONTH_ALT = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY_ALT = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_ZONE_ALT = "|".join(sorted(ZONE_ABBREVIATIONS, key=len, reverse=True))
_RELDAY_ALT = "|".join(re.escape(w).replace("\\ ", r"\s+") for w in sorted(RELATIVE_DAYS, key=len, reverse=True))

STAMP_RE = re.compile(
    rf"""^\s*
    (?:(?:(?:(?:{_WEEKDAY_ALT})\.?,?\s+)?
       (?P<day>\d{{1,2}})(?:st|nd|rd|th|\.)?\s+(?:de\s+)?(?P<month>{_MONTH_ALT})\.?,?\s+(?:de\s+)?
       (?P<year>\d{{4}})
      |(?P<relday>{_RELDAY_ALT}))
      ,?\s+(?:at\s+|a\s+las\s+|à\s+|um\s+|alle\s+|às\s+|as\s+)?)?
    (?:ore\s+)?
    (?P<hour>\d{{1,2}})[:.h](?P<minute>\d{{2}})
    (?:\s*(?P<ampm>[ap]\.?\s?m\.?)|\s+uhr\b)?
    (?:\s+(?P<zone>{_ZONE_ALT}))?
    (?:\s*(?:,|\||-|–|—|·)\s*(?P<author>[^\d\s][^,|]{{0,60}}?)?)?
    \s*$""",
    re.IGNORECASE | re.VERBOSE,
)


# A stamp that opens a line and the post's title follows: "9.05pm: Polls close", "21.10 BST – Kirby speaks".
INLINE_RE = re.compile(
    STAMP_RE.pattern.split("(?:\\s*(?:,|")[0] + r"\s*(?:[:\-–—|]\s*|\s+)(?P<title>\S.*?)\s*$",
    re.IGNORECASE | re.VERBOSE,
)
NAME_PARTICLES = frozenset("de del la las los le van von der den da di du bin al el y and et und e".split())


@dataclass(frozen=True)
class Stamp:
    """A stamp as printed: a local wall-clock time, maybe a date, maybe a zone."""

    hour: int
    minute: int
    day: date | None = None
    utc_offset_min: int | None = None
    author: str | None = None
    # relative stamps, placed on the calendar by ``pin`` (which clears these two):
    ago_s: int | None = None  # "5 minutes ago": seconds before the fetch (hour and minute unused)
    days_back: int | None = None  # "yesterday 21:05": days before the fetch date (0: "today 09:10")
    # how coarsely the page stated the time, in seconds: 0 for a printed clock time; the unit of
    # a relative stamp ("2 hours ago": 3600), kept by ``pin``. Two polls of such a post give
    # times up to that far apart (``workers.pipeline`` keeps the first-seen time)
    approx_s: int = 0

    @property
    def relative(self) -> bool:
        return self.ago_s is not None or self.days_back is not None


@lru_cache(maxsize=8192)
def parse_stamp_line(line: str) -> Stamp | None:
    """Return the stamp if the whole line is one, else None. Cached (a ``Stamp`` is frozen):
    the text parser asks of every line of a page, and a re-polled page repeats its lines."""
    match = STAMP_RE.match(line)
    if not match:
        return parse_relative(line)
    hour, minute = int(match["hour"]), int(match["minute"])
    ampm = (match["ampm"] or "").lower().replace(".", "").replace(" ", "")
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    day = None
    if match["day"]:
        month = MONTHS.get(match["month"].casefold())
        year = int(match["year"])
        if month is None or not MIN_YEAR <= year <= MAX_YEAR:
            return None
        try:
            day = date(year, month, int(match["day"]))
        except ValueError:
            return None
    author = match["author"]
    if author is not None:
        author = author.strip().rstrip(".") or None
        if author and not looks_like_name(author):
            return None
    zone = match["zone"]
    offset = ZONE_ABBREVIATIONS[zone.upper()] if zone else None
    days_back = RELATIVE_DAYS[" ".join(match["relday"].casefold().split())] if match["relday"] else None
    return Stamp(hour=hour, minute=minute, day=day, utc_offset_min=offset, author=author, days_back=days_back)


# --------------------------------------------------------------------------- relative stamps

_SECOND, _MINUTE, _HOUR, _DAY = 1, 60, 3600, 86400


@dataclass(frozen=True)
class _Relative:
    """How one language says "N units ago": the words around the amount, its units, the words for
    "one" ("an hour ago", "vor einer Stunde"), and whole phrases (seconds, unit): "just now"."""

    before: tuple[str, ...]
    after: tuple[str, ...]
    one: frozenset[str]
    units: dict[str, int]
    phrases: dict[str, tuple[int, int]]
    # words a page puts before the stamp, maybe with a colon: "Updated 5 minutes ago", "Publié : il y a 2 h"
    labels: tuple[str, ...] = ()


def _units(**groups: str) -> dict[str, int]:
    size = {"s": _SECOND, "m": _MINUTE, "h": _HOUR, "d": _DAY}
    return {word: size[unit] for unit, words in groups.items() for word in words.split()}


_NOW = (0, _MINUTE)
_HALF_HOUR = (30 * _MINUTE, 10 * _MINUTE)
RELATIVE_LANGUAGES = {
    "en": _Relative(
        before=(), after=("ago",), one=frozenset("a an one".split()),
        units=_units(s="second seconds sec secs s", m="minute minutes min mins m",
                     h="hour hours hr hrs h", d="day days d"),
        phrases={"just now": _NOW, "moments ago": _NOW, "a moment ago": _NOW,
                 "seconds ago": _NOW, "a few seconds ago": _NOW, "half an hour ago": _HALF_HOUR},
        labels=("updated", "last updated", "posted", "published")),
    "fr": _Relative(
        before=("il y a",), after=(), one=frozenset("un une".split()),
        units=_units(s="seconde secondes sec s", m="minute minutes min mn", h="heure heures h",
                     d="jour jours j"),
        phrases={"à l'instant": _NOW, "a l'instant": _NOW, "il y a un instant": _NOW,
                 "il y a quelques secondes": _NOW, "il y a une demi-heure": _HALF_HOUR,
                 "il y a une demi heure": _HALF_HOUR},
        labels=("publié", "publiée", "mis à jour", "mise à jour", "actualisé", "actualisée")),
    "de": _Relative(
        before=("vor",), after=(), one=frozenset("ein eine einer einem einen".split()),
        units=_units(s="sekunde sekunden sek s", m="minute minuten min", h="stunde stunden std h",
                     d="tag tage tagen tg"),
        phrases={"gerade eben": _NOW, "soeben": _NOW, "vor wenigen sekunden": _NOW,
                 "vor einer halben stunde": _HALF_HOUR},
        labels=("aktualisiert", "veröffentlicht", "zuletzt aktualisiert")),
    "es": _Relative(
        before=("hace",), after=(), one=frozenset("un una uno".split()),
        units=_units(s="segundo segundos seg s", m="minuto minutos min m", h="hora horas h",
                     d="día días dia dias d"),
        phrases={"ahora mismo": _NOW, "justo ahora": _NOW, "hace un momento": _NOW,
                 "hace unos segundos": _NOW, "hace media hora": _HALF_HOUR},
        labels=("actualizado", "actualizada", "publicado", "publicada")),
    "it": _Relative(
        before=(), after=("fa",), one=frozenset("un un' una uno".split()),
        units=_units(s="secondo secondi sec s", m="minuto minuti min m", h="ora ore h",
                     d="giorno giorni g"),
        phrases={"proprio adesso": _NOW, "proprio ora": _NOW, "pochi secondi fa": _NOW, "mezz'ora fa": _HALF_HOUR,
                 "mezzora fa": _HALF_HOUR},
        labels=("aggiornato", "aggiornata", "pubblicato", "pubblicata")),
    "pt": _Relative(
        before=("há", "ha"), after=("atrás", "atras"), one=frozenset("um uma".split()),
        units=_units(s="segundo segundos seg s", m="minuto minutos min m", h="hora horas h",
                     d="dia dias d"),
        phrases={"agora mesmo": _NOW, "há instantes": _NOW, "há poucos segundos": _NOW,
                 "há meia hora": _HALF_HOUR, "meia hora atrás": _HALF_HOUR},
        labels=("atualizado", "atualizada", "publicado", "publicada")),
}
MAX_RELATIVE_DAYS = 31  # "400 days ago" is not a live-blog stamp
# A relative stamp with its byline, spaces collapsed, is at most this long; a line over twice as long
# is no stamp whatever its spacing (the text parser's and the HTML parser's lines are collapsed already)
RELATIVE_MAX_CHARS = 120
_JOINERS = frozenset("and et und y e ,".split())
_TOKEN = re.compile(r"\d+|[^\W\d]+['’]?|[,.]")
# a byline after a relative stamp: "5 minutes ago | Jane Doe", "il y a 2 h, Jean Martin"
_RELATIVE_AUTHOR = re.compile(r"^(?P<stamp>.+?)\s*(?:,|\||·|–|—|\s-)\s*(?P<author>[^\d\s][^,|]{0,60}?)\.?\s*$")


def _words_re(phrase: str) -> str:
    return r"\s+".join(re.escape(w).replace("'", "['’]") for w in phrase.split())


# What every relative stamp has, with or without a byline after it: a line that starts with a "before"
# word or a whole phrase (maybe after a label: "Publié il y a 5 minutes"), or holds an "after" word. One C-level search rejects the other lines (nearly all
# of a page) before any of the work below; the text parser asks this of every line that is no clock stamp.
_RELATIVE_CUE = re.compile(
    r"^\s*(?:(?:" + "|".join(sorted({_words_re(x) for lang in RELATIVE_LANGUAGES.values() for x in lang.labels}))
    + r")\s*:?\s+)?(?:" + "|".join(sorted({_words_re(b) + r"\s" for lang in RELATIVE_LANGUAGES.values() for b in lang.before}
                                | {_words_re(p) for lang in RELATIVE_LANGUAGES.values() for p in lang.phrases}))
    + r")|(?<!\w)(?:" + "|".join(sorted({_words_re(a) for lang in RELATIVE_LANGUAGES.values() for a in lang.after}))
    + r")(?!\w)",
    re.IGNORECASE,
)


def parse_relative(line: str) -> Stamp | None:
    """"5 minutes ago", "il y a 1 h 30", "vor 2 Std.", "hace un minuto", "un'ora fa", "há 5 minutos",
    "just now" (optionally followed by a byline), or None."""
    if len(line) > 2 * RELATIVE_MAX_CHARS:
        return None  # a stamp with its byline, even with every other character a space
    if len(line) > RELATIVE_MAX_CHARS and len(" ".join(line.split())) > RELATIVE_MAX_CHARS:
        return None  # (casefolding below never makes a text shorter)
    if not _RELATIVE_CUE.search(line):
        return None
    text = " ".join(line.replace("’", "'").casefold().split())
    if not text or len(text) > RELATIVE_MAX_CHARS:
        return None
    found = _relative_delta(text)
    author = None
    if found is None and (match := _RELATIVE_AUTHOR.match(line.strip())):
        author = match["author"].strip()
        if not looks_like_name(author):
            return None
        found = _relative_delta(" ".join(match["stamp"].replace("’", "'").casefold().split()))
    if found is None:
        return None
    seconds, unit = found
    return Stamp(hour=0, minute=0, author=author, ago_s=seconds, approx_s=unit)


def _relative_delta(text: str) -> tuple[int, int] | None:
    """(seconds ago, the coarsest unit named) of a casefolded, space-collapsed relative stamp,
    maybe after one of its language's labels ("updated 5 minutes ago", "publié : il y a 2 h")."""
    for lang in RELATIVE_LANGUAGES.values():
        if found := _unlabelled_delta(text, lang):
            return found
        for label in lang.labels:
            if text.startswith(label) and (after := _AFTER_LABEL.match(text, len(label))):
                if found := _unlabelled_delta(text[after.end():], lang):
                    return found
    return None


_AFTER_LABEL = re.compile(r" ?: ?| ")  # "updated 5 minutes ago", "updated: 5 minutes ago", "publié : il y a 2 h"


def _unlabelled_delta(text: str, lang: _Relative) -> tuple[int, int] | None:
    if text in lang.phrases:
        return lang.phrases[text]
    # "il y a 5 minutes", "5 minutes ago"; Portuguese has both: "há 5 minutos", "5 minutos atrás"
    envelopes = ([(b, "") for b in lang.before] + [("", a) for a in lang.after]
                 + [(b, a) for b in lang.before for a in lang.after])
    for before, after in envelopes:
        if (before and not text.startswith(before + " ")) or (after and not text.endswith(" " + after)):
            continue
        if found := _amount(text[len(before): len(text) - len(after)].strip(), lang):
            return found
    return None


def _amount(text: str, lang: _Relative) -> tuple[int, int] | None:
    """"5 minutes", "2h", "1 h 30", "an hour", "2 Std.", "1 hour and 20 minutes" in ``lang``."""
    tokens = _TOKEN.findall(text)
    if not tokens or "".join(tokens) != text.replace(" ", ""):
        return None  # something that is neither a number, a unit nor a joiner
    total, unit, i = 0, 0, 0
    while i < len(tokens):
        token = tokens[i]
        if total and token in _JOINERS:
            i += 1
            continue
        if token.isdigit():
            count = int(token)
        elif token in lang.one:
            count = 1
        else:
            return None
        if i + 1 == len(tokens):  # "1 h 30": minutes after hours
            if unit != _HOUR or count > 59:
                return None
            total += count * _MINUTE
            unit = _MINUTE
            break
        size = lang.units.get(tokens[i + 1])
        if size is None or (unit and size >= unit):
            return None  # not a unit, or units out of order ("5 minutes 2 hours")
        total += count * size
        unit = size
        i += 2
        if i < len(tokens) and tokens[i] == ".":  # "2 Std.", "5 Min."
            i += 1
    if not unit or total > MAX_RELATIVE_DAYS * _DAY:
        return None
    return total, max(unit, _MINUTE)  # the precision is the smallest unit named; a stamp is to the minute at best


def pin(found: list[Stamp], *, now: datetime, tz: tzinfo) -> list[Stamp]:
    """Relative stamps placed on the calendar against ``now`` (the fetch time): "5 minutes ago"
    is ``now`` minus five minutes, to the minute; "yesterday 21:05" is 21:05 on the day before
    ``now``'s date in ``tz`` (in the stamp's own zone if it names one). Other stamps pass as
    they are. The same ``now`` gives the same result."""
    if not any(s.relative for s in found):
        return found
    local_now = now.astimezone(tz)
    out = []
    for stamp in found:
        if stamp.ago_s is not None:
            moment = (now - timedelta(seconds=stamp.ago_s)).astimezone(tz).replace(second=0, microsecond=0)
            offset = moment.utcoffset()
            out.append(Stamp(hour=moment.hour, minute=moment.minute, day=moment.date(), author=stamp.author,
                             utc_offset_min=int(offset.total_seconds() // 60) if offset is not None else None,
                             approx_s=stamp.approx_s))
        elif stamp.days_back is not None:
            out.append(Stamp(hour=stamp.hour, minute=stamp.minute, day=local_now.date() - timedelta(days=stamp.days_back),
                             utc_offset_min=stamp.utc_offset_min, author=stamp.author))
        else:
            out.append(stamp)
    return out


def looks_like_name(text: str) -> bool:
    """A byline: a few capitalised words ("Thomas Kingsley", "María de la Fuente"), not a headline."""
    words = text.split()
    return 0 < len(words) <= 6 and all(w[:1].isupper() or w.casefold() in NAME_PARTICLES for w in words) and any(
        c.isalpha() for c in text
    )


def parse_inline_stamp(line: str) -> tuple[Stamp, str] | None:
    """A stamp followed by the post's title on the same line, or None."""
    match = INLINE_RE.match(line)
    if not match or sum(ch.isalpha() for ch in match["title"]) < 3:
        return None
    head = line[: match.start("title")].rstrip(" :-–—|")
    stamp = parse_stamp_line(head)
    if stamp is None:
        return None
    return stamp, match["title"]


def zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputRejected(
            "unknown time zone", expected="an IANA zone such as 'Europe/London'", found=repr(name)
        ) from exc


def resolve(
    stamps: list[Stamp],
    *,
    tz: tzinfo,
    reference_date: date | None,
    newest_first: bool,
    fallback_now: datetime,
) -> list[datetime]:
    """Place each stamp (given in page order) on the calendar; returns UTC datetimes.

    Relative stamps are first pinned against ``fallback_now`` (``pin``: it is the fetch time).
    Dates come from, in order: the stamp itself; the nearest full-dated stamp,
    rolling over midnight; ``reference_date`` (the date of the oldest post);
    the date of ``fallback_now`` in ``tz`` (the newest post is not after it).
    """
    stamps = pin(stamps, now=fallback_now, tz=tz)
    order = list(range(len(stamps)))
    if newest_first:
        order.reverse()  # walk oldest -> newest
    chrono = [stamps[i] for i in order]
    if not stamps:
        return []
    try:
        dates = _assign_dates(chrono, tz=tz, reference_date=reference_date, fallback_now=fallback_now)
        resolved: list[datetime] = [datetime.min] * len(stamps)
        for index, stamp, day in zip(order, chrono, dates):
            resolved[index] = _to_utc(stamp, day, tz)
    except OverflowError as exc:
        raise InputRejected(
            "date out of range", expected=f"stamps between {MIN_YEAR} and {MAX_YEAR}", found=str(exc)
        ) from exc
    return resolved


def _assign_dates(
    chrono: list[Stamp], *, tz: tzinfo, reference_date: date | None, fallback_now: datetime
) -> list[date]:
    dates: list[date | None] = [s.day for s in chrono]
    anchors = [i for i, d in enumerate(dates) if d is not None]
    if not anchors:
        if reference_date is not None:
            dates[0] = reference_date
            anchors = [0]
        else:
            local_now = fallback_now.astimezone(tz)
            last = len(chrono) - 1
            newest = chrono[last]
            dates[last] = local_now.date() - timedelta(
                days=1 if (newest.hour, newest.minute) > (local_now.hour, local_now.minute) else 0
            )
            anchors = [last]
    # forward from each anchor, rolling over midnight when the clock goes back
    for i in range(anchors[0] + 1, len(chrono)):
        if dates[i] is None:
            dates[i] = _step(dates[i - 1], chrono[i - 1], chrono[i], forward=True)
    # backward from the first anchor for the oldest bare times
    for i in range(anchors[0] - 1, -1, -1):
        dates[i] = _step(dates[i + 1], chrono[i + 1], chrono[i], forward=False)
    return [d for d in dates if d is not None]


def _minutes(stamp: Stamp) -> int:
    return stamp.hour * 60 + stamp.minute


def _step(known: date | None, known_stamp: Stamp, stamp: Stamp, *, forward: bool) -> date:
    assert known is not None
    gap = timedelta(minutes=_minutes(known_stamp) - _minutes(stamp))
    if forward and gap > ROLLOVER_GAP:
        return known + timedelta(days=1)
    if not forward and -gap > ROLLOVER_GAP:
        return known - timedelta(days=1)
    return known


def _to_utc(stamp: Stamp, day: date, tz: tzinfo) -> datetime:
    wall = datetime.combine(day, time(stamp.hour, stamp.minute))
    if stamp.utc_offset_min is not None:
        aware = wall.replace(tzinfo=timezone(timedelta(minutes=stamp.utc_offset_min)))
    else:
        aware = wall.replace(tzinfo=tz)
    return aware.astimezone(timezone.utc)
