"""Urgency in [0, 1]: how much a post asks to be read now.

A transparent sum, clamped to 1 and rounded to 3 decimals:

* BREAKING (0.35): breaking-news language ("breaking", "just in", "última hora",
  "dernière minute", "Eilmeldung"), counted twice as much when it is in the title (capped);
* casualties: 0.15 + 0.05·log10(n) for the largest casualty count n, at most 0.3;
* WARNING (0.2): official warnings and emergency steps ("warns", "evacuate", "imminent",
  "state of emergency", "alerta", "évacuation"), +0.05 for each further distinct cue, at most 0.3;
* recency: RECENT_BONUS (0.15) when the post was observed within FRESH_S of its publication,
  falling linearly to 0 at STALE_S; nothing when either time is unknown.
"""

from __future__ import annotations

import math
import re
from datetime import datetime

from schemas.events import Quantity

NAME = "urgency"
VERSION = "1"
BREAKING = 0.35
WARNING = 0.2
RECENT_BONUS = 0.15
FRESH_S = 15 * 60
STALE_S = 6 * 3600

# Each pattern starts with a lookahead on the first letters of its alternatives: the same matches
# (ignoring case like the alternatives do), but most word boundaries fail one class test instead of
# trying every alternative, which made these two passes ~0.2 ms per KB.
BREAKING_RE = re.compile(
    r"\b(?=[bjufdúae])(?:breaking|just in|urgent|flash|developing story|última hora|urgente|dernière minute|alerte info|eilmeldung)\b",
    re.IGNORECASE,
)
WARNING_RE = re.compile(
    r"\b(?=[weisartéun])(?:warn(?:s|ed|ing)?|evacuat\w*|imminent|state of emergency|emergency|air raid|sirens?|red alert|"
    r"take shelter|shelter in place|alert|advierte|alerta|evacuaci\w+|emergencia|avertit|alerte|évacu\w+|"
    r"urgence|warnt|Warnung|Evakuierung|Notstand)\b",
    re.IGNORECASE,
)


def _recency(published_at: datetime | None, observed_at: datetime | None) -> float:
    if published_at is None or observed_at is None:
        return 0.0
    try:
        age_s = max(0.0, (observed_at - published_at).total_seconds())
    except TypeError:  # one aware, one naive: no honest answer
        return 0.0
    if age_s <= FRESH_S:
        return RECENT_BONUS
    return RECENT_BONUS * max(0.0, 1 - (age_s - FRESH_S) / (STALE_S - FRESH_S))


def _casualties(quantities: list[Quantity]) -> float:
    counts = [q.value for q in quantities if q.kind == "casualties" and q.value and q.value >= 1]
    return min(0.3, 0.15 + 0.05 * math.log10(max(counts))) if counts else 0.0


# The same two patterns for text already lower-cased: literals compared as they are, not
# case-insensitively, which costs the warning scan ~30 % less. Lower-casing maps a character
# to what IGNORECASE matches it with, except for the three non-ASCII letters that IGNORECASE
# also takes for i and s; a text holding one is matched the case-insensitive way.
_LOWER_BREAKING_RE = re.compile(BREAKING_RE.pattern.lower())
_LOWER_WARNING_RE = re.compile(WARNING_RE.pattern.lower())
_NOT_LOWERED = ("\u0130", "\u0131", "\u017f")  # İ ı ſ


def _scans(text: str) -> tuple[re.Pattern[str], re.Pattern[str], str]:
    """(breaking pattern, warning pattern, the text they scan): ``text`` lower-cased with the
    lower-case patterns, or as it is with the case-insensitive ones (see _NOT_LOWERED)."""
    if any(c in text for c in _NOT_LOWERED):
        return BREAKING_RE, WARNING_RE, text
    return _LOWER_BREAKING_RE, _LOWER_WARNING_RE, text.lower()


def score(title: str, text: str, quantities: list[Quantity], published_at: datetime | None = None,
          observed_at: datetime | None = None) -> float:
    breaking_re, warning_re, scanned = _scans(text)
    if breaking_re.search(scanned):
        title_re, _, title_scanned = _scans(title)
        breaking = BREAKING * (2 if title_re.search(title_scanned) else 1)
    else:
        breaking = 0.0
    cues = {m.group().casefold() for m in warning_re.finditer(scanned)}
    warning = min(0.3, WARNING + 0.05 * (len(cues) - 1)) if cues else 0.0
    total = min(breaking, 0.5) + _casualties(quantities) + warning + _recency(published_at, observed_at)
    return round(min(1.0, total), 3)
