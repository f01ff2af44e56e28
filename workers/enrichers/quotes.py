"""Direct quotations and who said them.

A quotation is text between straight or curly double quotes (also « » and „ “), at least
MIN_WORDS words long so scare quotes ("extraordinary") are left out. A quote left open at
the end of a paragraph runs to the paragraph's end, the newspaper convention for a quote
that continues in the next paragraph.

The speaker is looked for, in order:

1. after the quote, in the same sentence, when the quote ends with a comma, "?" or "!":
   ``"…," Sullivan told reporters`` / ``"…," said Mr Kirby`` / ``"…," he said``;
2. before the quote, in the same sentence: ``Ned Price said: "…"`` / ``According to X, "…"``;
3. otherwise the speaker of the previous quote when this one follows it in the same
   paragraph or opens the next one — how a quote split across sentences reads.

Speakers are entities (PERSON first, then ORG or GPE, e.g. "the Kremlin said"); a pronoun
("he said") means the previous quote's speaker, else the last person named before the quote.
A role with no name ("the official said") leaves the speaker unknown (None).
"""

from __future__ import annotations

import re
from bisect import bisect_left

from schemas.events import Entity, Quote
from workers.enrichers._construct import constructor
from workers.enrichers.text import sentence_span

NAME = "quotes"
VERSION = "2"
MIN_WORDS = 4
WINDOW = 160

QUOTE_RE = re.compile(
    r"„([^“”\"\n]+)(?:[“”]|(?=\n|$))"
    r"|«\s*([^»\n]+?)\s*(?:»|(?=\n|$))"
    r"|[“\"]([^“”\"\n]+)(?:[”\"]|(?=\n|$))"
)
SPEECH_RE = re.compile(
    r"\b(?:said|says|say|told|tells|added|adds|warned|warns|wrote|writes|tweeted|posted|asked|insisted|stressed|"
    r"noted|continued|cautioned|explained|concluded|vowed|declared|announced|argued|claimed|urged|replied|"
    r"responded|admitted|acknowledged|commented|remarked|recalled|conceded|confirmed|promised|pledged|shouted|"
    r"according to|dijo|afirmó|declaró|señaló|aseguró|añadió|advirtió|explicó|indicó|subrayó|sostuvo|insistió|"
    r"según|a déclaré|a dit|a affirmé|a assuré|a ajouté|a averti|a expliqué|a estimé|a souligné|a indiqué|"
    r"déclare|affirme|souligne|selon|sagte|sagt|erklärte|betonte|warnte|schrieb|fügte|laut|so)\b|:",
    re.IGNORECASE,
)
PRONOUN_RE = re.compile(r"\b(?:he|she|they|il|elle|er|sie)\b", re.IGNORECASE)
SPEAKER_LABELS = ("PERSON", "ORG", "GPE")


def _spans(text: str) -> list[tuple[int, int, str]]:
    found = []
    for m in QUOTE_RE.finditer(text):
        body = next(g for g in m.groups() if g is not None).strip()
        if len(body.split()) >= MIN_WORDS:
            found.append((m.start(), m.end(), body))
    return found


def _best(entities: list[Entity], lo: int, hi: int, last: bool) -> Entity | None:
    """The PERSON in [lo, hi) nearest to the speech verb, else an ORG/GPE."""
    inside = [e for e in entities if lo <= e.start and e.end <= hi and e.label in SPEAKER_LABELS]
    for labels in (("PERSON",), ("ORG", "GPE")):
        pool = [e for e in inside if e.label in labels]
        if pool:
            return pool[-1] if last else pool[0]
    return None


# "Graham Tulley" in '"…," deputy chief meteorologist Graham Tulley told reporters': two or
# three capitalised words right before the speech verb name the speaker even when the
# gazetteers do not know the person.
NAME_BEFORE_VERB_RE = re.compile(r"((?:[A-Z][\w'’-]+\s){1,2}[A-Z][\w'’-]+)\s*,?\s*$")
NAME_AFTER_VERB_RE = re.compile(r"\s+((?:[A-Z][\w'’-]+\s){1,3}[A-Z][\w'’-]+)")
# After the verb only what follows it at once speaks ("said the Kremlin", "said Mr Kirby"):
# "told reporters at a briefing in Exeter" names a place, not a speaker.
AFTER_VERB_REACH = 40


def _after(text: str, end: int, stop: int, entities: list[Entity]) -> str | Entity | None:
    verb = SPEECH_RE.search(text, end, min(stop, end + WINDOW))
    if verb is None or verb.group() == ":":
        return None
    before = _best(entities, end, verb.start(), last=True)
    if before is not None:
        return before
    if PRONOUN_RE.search(text, end, verb.start()) or PRONOUN_RE.match(text, verb.end() + 1):
        return "pronoun"
    named = NAME_BEFORE_VERB_RE.search(text[end:verb.start()])
    if named:
        return named.group(1)
    person = _best([e for e in entities if e.label == "PERSON"], verb.end(), min(stop, verb.end() + WINDOW), last=False)
    if person is not None:
        return person
    near = [e for e in entities if verb.end() <= e.start < verb.end() + AFTER_VERB_REACH and e.end <= stop]
    found = _best(near, verb.end(), stop, last=False)
    if found is not None:
        return found
    named = NAME_AFTER_VERB_RE.match(text, verb.end(), stop)
    return named.group(1) if named else None


def _before(text: str, start: int, sentence_start: int, entities: list[Entity]) -> str | Entity | None:
    lo = max(sentence_start, start - WINDOW)
    verbs = list(SPEECH_RE.finditer(text, lo, start))
    if not verbs:
        return None
    verb = verbs[-1]
    speaker = _best(entities, lo, verb.start(), last=True) or _best(entities, verb.end(), start, last=False)
    if speaker is not None:
        return speaker
    return "pronoun" if PRONOUN_RE.search(text, lo, start) else None


def _last_person(entities: list[Entity], starts: list[int], offset: int, since: int = 0) -> str | None:
    for e in reversed(entities[: bisect_left(starts, offset)]):
        if e.start < since:
            return None
        if e.label == "PERSON":
            return e.canonical
    return None


def _pronoun_speaker(entities: list[Entity], starts: list[int], start: int, sentence_start: int,
                     previous: tuple[int, str | None, bool] | None) -> str | None:
    """"he said": a person named earlier in the same sentence, else the previous quote's speaker if a
    person, else the last person named before the quote."""
    in_sentence = _last_person(entities, starts, start, since=sentence_start)
    if in_sentence:
        return in_sentence
    if previous and previous[1] and previous[2]:
        return previous[1]
    return _last_person(entities, starts, start)


def _continues(text: str, previous_end: int, start: int) -> bool:
    """True when nothing but the rest of a sentence or a paragraph break separates two quotes."""
    gap = text[previous_end:start]
    return gap.count("\n\n") <= 1 and len(gap) < 200 and (gap.count("\n\n") == 0 or gap.strip() == "")


def extract_quotes(text: str, entities: list[Entity]) -> list[Quote]:
    starts = [e.start for e in entities]
    quotes: list[Quote] = []
    previous: tuple[int, str | None, bool] | None = None  # (end, speaker, speaker is a person)
    for start, end, body in _spans(text):
        s_start, s_end = sentence_span(text, start, end)
        found = None
        if body[-1:] in ",?!—–-" or not text[end:end + 3].strip()[:1].isupper():
            found = _after(text, end, s_end, entities)
        found = found or _before(text, start, s_start, entities)
        is_person = False
        if isinstance(found, Entity):
            speaker, is_person = found.canonical, found.label == "PERSON"
        elif isinstance(found, str) and found != "pronoun":  # a name the gazetteers do not know
            speaker, is_person = found, True
        elif found == "pronoun":
            speaker = _pronoun_speaker(entities, starts, start, s_start, previous)
            is_person = speaker is not None
        elif previous and _continues(text, previous[0], start):
            speaker, is_person = previous[1], previous[2]
        else:
            speaker = None
        quotes.append(_quote(body, speaker))
        previous = (end, speaker, is_person)
    return quotes


_quote = constructor(Quote)
