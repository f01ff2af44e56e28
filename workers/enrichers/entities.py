"""Entities: PERSON, ORG, GPE, LOC, NORP and EVENT mentions with character offsets.

Offsets index into ``title + "\\n\\n" + body``, like every offset the enrichers produce.

A post is read in two passes, both linear in its length:

1. **Scan.** One regex finds runs of capitalised words (joined by name particles such as
   "of", "von der", "de"). Each run is cut left to right into the longest spelling the
   gazetteer knows (people, organisations, events, places, demonyms). Words it does not
   know become a PERSON when they follow a curated given name ("Artem Ryabchuk") or an
   ORG when they end in an institution word ("… Machine-Building Ministry"); a lone
   unknown word is kept aside for pass 2.
2. **Resolve.** A lone word is a surname when a full name with that surname appears in the
   same post (nearest earlier mention first) or elsewhere in the document
   (:class:`~workers.enrichers.context.DocumentContext`), or when an honorific precedes it
   ("Mr Kirby"). Otherwise it may be a misspelling of a known name (see
   :mod:`workers.enrichers.names`), else it is dropped. Names with several place readings
   (Georgia) are settled last, from the places around them.

The entity ``id`` is ``label-prefix:slug`` of the canonical name (``person:john-kirby``,
``org:nato``, ``event:world-cup``); countries use their ISO code (``gpe:ua``), cities and US
states their country's (``gpe:ua-kyiv``, ``gpe:us-ga``), nationalities their country's
(``norp:ru``). Ids depend only on the curated data, so they are stable across posts and runs.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from functools import cache, lru_cache
from typing import NamedTuple
from typing import TYPE_CHECKING

from rapidfuzz import fuzz

from schemas.events import Entity
from workers.enrichers import names
from workers.enrichers._construct import constructor
from workers.enrichers.gazetteer import first_names
from workers.enrichers.names import Hit, person_hit
from workers.enrichers.places import disambiguate, entity_country, text_countries
from workers.enrichers.text import fold, sentence_span, slug

if TYPE_CHECKING:
    from workers.enrichers.context import DocumentContext

NAME = "entities"
VERSION = "2"
MAX_NGRAM = 6

_UPPER = "A-Z\u00c0-\u00d6\u00d8-\u00de\u0100-\u017f\u0400-\u042f"
_ABBREV = r"(?:Mr|Mrs|Ms|Dr|St|Gen|Lt|Col|Sgt|Adm|Sen|Rep|Gov|Prof|Capt|Maj|Sra|Sr|Mme|M)\."
_TOKEN = rf"(?:{_ABBREV}|(?:[A-Z]\.){{2,}}|(?:al|el|bin|ibn)-[{_UPPER}][\w'’\-]*|[{_UPPER}][\w'’\-+]*)"
_PARTICLE = r"(?:of|the|for|de|del|della|da|do|dos|du|des|la|le|van|von|der|den|al|bin|ibn)"
_GAP = r"[ \t\u00a0]+"
TOKEN_RE = re.compile(_TOKEN)
# The lookahead names the first letters a token can start with (the abbreviations and initials
# are capitals, the al-/el-/bin-/ibn- prefixes start a, e, b, i): the same matches, but the scan
# leaves a lower-case position after one class test instead of trying every alternative (-45 %).
# A list item of one to three words; a comma joins a run only inside "A, B and C" (at most three items
# before the "and", so the lookahead is bounded and the scan stays linear): "Foreign, Commonwealth and
# Development Office". "and" joins two capitalised words ("Avon and Somerset Police"); how the scan may
# read across it is decided per run (see _scan_run).
_ITEM = rf"{_TOKEN}(?:{_GAP}{_TOKEN}){{0,2}}"
_COMMA = rf",(?={_GAP}(?:{_ITEM},{_GAP}){{0,1}}{_ITEM}{_GAP}and{_GAP}[{_UPPER}])"
RUN_RE = re.compile(rf"(?=[{_UPPER}aebi]){_TOKEN}(?:(?:{_GAP}(?:{_PARTICLE}{_GAP}){{0,2}}|{_GAP}and{_GAP}|{_COMMA}{_GAP}){_TOKEN})*")
NAME_GAP_RE = re.compile(r"[ \t\u00a0]+(?:(?:de|del|da|dos|van|von|der|den|al|bin|ibn|le|la)[ \t\u00a0]+){0,2}")

# Capitalised only because they start a sentence or a headline; never the start of a name.
STOPWORDS = frozenset(fold(w) for w in """
the a an in on at but and or if as it its this that these those he she they we i you his her their our my
your after before while when where what why how who which despite according over under more most some many
all both each every no not yet so also meanwhile however today yesterday tonight live watch read breaking
update updates key points there here then now new former top senior icymi analysis explainer
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
september october november december el la los las un una en por para con segun sin tras ante le les une des
du au aux selon dans pour par sur mais apres der die das ein eine im am zum zur nach laut bei mit und vor
""".split())
HONORIFICS = frozenset(fold(w) for w in "mr mr. mrs mrs. ms ms. dr dr. sir dame lord lady m. mme herr frau monsieur madame señor señora sr. sra. don doña".split())
ROLE_TITLES = frozenset(fold(w) for w in """president presidente président präsident chancellor kanzler kanzlerin bundeskanzler
prime minister ministra ministre secretary general gen. senator sen. rep. governor gov. king queen prince princess
pope sheikh ayatollah mayor judge justice commissioner ambassador envoy spokesman spokeswoman colonel col. admiral
adm. captain capt. premier foreign defence defense interior deputy vice chief first""".split())
ORG_HEADS = frozenset(fold(w) for w in """ministry ministerio ministère ministerium council consejo conseil agency agencia
agence centre center party partido parti partei bank banco banque company corporation corp inc ltd group grupo
groupe university universidad université universität committee comité commission comisión department
departamento office service servicio authority autoridad fund fondo fonds organisation organization
organización association institute instituto institut union guard guardia army ejército armée navy forces force
police policía polizei court tribunal parliament parlamento parlement assembly asamblea assemblée club
trust constabulary metro college hospital school""".split())
# Institutions that are often named after a king, queen or saint: a run ending in one is an organisation
# even when it opens with a title ("Queen Mary University", "King Edward's School"), never a person.
TITLED_ORG_HEADS = frozenset(fold(w) for w in "university college hospital school".split())
FACILITY_WORDS = frozenset(fold(w) for w in "base airport station plant factory bridge square street stadium port".split())
# Ranks and titles that, like an honorific, make the next unknown capitalised word a person ("Inspector
# Crossley", "Professor Layton"), and ones that, like a role title, need a curated surname ("Major Incident").
RANK_HONORIFICS = frozenset(fold(w) for w in """inspector insp detective det sergeant sgt constable pc dc ds
superintendent supt councillor cllr professor prof lieutenant lt corporal cpl commander cmdr""".split())
RANK_ROLES = frozenset(fold(w) for w in "major brigadier marshal admiral".split())
# Words that are never part of a person's name after a title: job words ("Chief Executive Officer of …")
# and the verbs of title-case headlines ("Mr Kirby Says …").
NOT_NAME_WORDS = frozenset(fold(w) for w in """officer executive director manager chair chairman chairwoman head leader
editor correspondent reporter spokesperson says said tells told warns warned urges urged calls called claims denies
admits resigns quits dies died backs slams vows insists rejects confirms announces responds speaks arrives
arrested charged named accused visits meets thanks praises""".split())
_TITLE_KIND = {**{w: "role" for w in ROLE_TITLES | RANK_ROLES}, **{w: "honorific" for w in HONORIFICS | RANK_HONORIFICS}}
_OF_GAP_RE = re.compile(r"[ \t\u00a0]+of(?:[ \t\u00a0]+the)?[ \t\u00a0]+")
_AND_GAP_RE = re.compile(r"[ \t\u00a0]+and[ \t\u00a0]+")


class Mention(NamedTuple):
    """A span found by the scan; ``hit`` is None while a lone word awaits pass 2.

    A named tuple rather than a frozen dataclass: a post makes dozens and a tuple is built in a
    fraction of the time (compare mentions by ``is``, never by ``==``: equal spans are equal tuples).
    """

    start: int
    end: int
    hit: Hit | None
    title: str | None = None  # "honorific"/"role" after a title word; "name" next to another lone word;
    # "institution" in a part of a run that holds an institution word (never a fuzzy person)


def _tokens(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Token spans of a run with possessives and trailing hyphens trimmed ("Russia’s" → "Russia")."""
    spans = []
    for m in TOKEN_RE.finditer(text, start, end):
        s, e = m.span()
        word = text[s:e]
        if word.endswith(("'s", "’s")):
            e -= 2
        while e > s and text[e - 1] in "'’-":
            e -= 1
        if e > s:
            spans.append((s, e))
    return spans


def _longest_known(text: str, toks: list[tuple[int, int]], i: int) -> tuple[int, Hit] | None:
    for j in range(min(len(toks), i + MAX_NGRAM), i, -1):
        hit = names.lookup(text[toks[i][0]:toks[j - 1][1]])
        if hit is not None:
            return j, hit
    return None


def _org_head_ends(text: str, toks: list[tuple[int, int]], gaps: list[str] | None = None,
                   may_cross: Callable[[int, int], bool] | None = None) -> list[int | None]:
    """For each token i: the index after the last institution word after it when the run from i
    reads as an organisation name, None when there is none or a facility word follows i.

    A reading never reaches past a "barrier" gap (a comma; a title opening "Inspector Leanne Crossley
    of …"), and past an "and" only where ``may_cross(k, end)`` allows it for the name k..end-1 after
    the "and" ("Cumbria Fire and Rescue Service", not "Boris Johnson and Fire Service").

    Computed for all tokens in one pass from the end: asked token by token, a run of n capitalised
    words cost n²/2 word tests (a 50,000-word run of "Capital" held a worker for minutes)."""
    out: list[int | None] = [None] * len(toks)
    end: int | None = None
    facility = False
    for k in range(len(toks) - 1, 0, -1):
        word = fold(text[toks[k][0]:toks[k][1]])
        if word in FACILITY_WORDS:
            facility = True
        elif word in ORG_HEADS and k + 1 < len(toks) and _opens_known_name(text, toks, k):
            end, facility = None, False  # "Spain's Guardia Civil": the known name stands on its own
        elif word in ORG_HEADS and end is None:
            end = k + 1
        if gaps is not None:
            gap = gaps[k]
            if gap == "barrier" or (gap == "and" and (facility or end is None or may_cross is None
                                                      or not may_cross(k, end))):
                end, facility = None, False
        out[k - 1] = None if facility else end
    return out


def _opens_known_name(text: str, toks: list[tuple[int, int]], k: int) -> bool:
    """Whether a known spelling of two or more words starts at token k ("Guardia Civil", "Policía
    Nacional"): asked only of institution words that are not last in their run, at most MAX_NGRAM lookups."""
    known = _longest_known(text, toks, k)
    return known is not None and known[0] > k + 1


def _is_name_gap(text: str, a: tuple[int, int], b: tuple[int, int]) -> bool:
    return NAME_GAP_RE.fullmatch(text, a[1], b[0]) is not None


def _full_name(text: str, toks: list[tuple[int, int]], i: int) -> tuple[int, Hit] | None:
    """A given name followed by one or two unknown capitalised words is a person."""
    if fold(text[toks[i][0]:toks[i][1]]) not in first_names():
        return None
    j = i + 1
    while j < len(toks) and j < i + 3 and _is_name_gap(text, toks[j - 1], toks[j]):
        word = text[toks[j][0]:toks[j][1]]
        known = names.lookup(word)
        if (fold(word) in STOPWORDS or fold(word) in ROLE_TITLES or fold(word) in ORG_HEADS
                or (known and known.label != "PERSON")):  # "Mary University" is no person
            break
        j += 1
    if j == i + 1:
        return None
    first, surname = text[toks[i][0]:toks[i][1]], text[toks[j - 1][0]:toks[j - 1][1]]
    hit = names.person_by_full_name(first, surname) or person_hit(text[toks[i][0]:toks[j - 1][1]])
    return j, hit


def _gap_kinds(text: str, toks: list[tuple[int, int]]) -> list[str]:
    """The gap before each token: "name" (spaces, name particles), "of", "and", "barrier" (a comma) or "other"."""
    kinds = ["start"]
    for k in range(1, len(toks)):
        a, b = toks[k - 1][1], toks[k][0]
        if NAME_GAP_RE.fullmatch(text, a, b):
            kinds.append("name")
        elif _OF_GAP_RE.fullmatch(text, a, b):
            kinds.append("of")
        elif _AND_GAP_RE.fullmatch(text, a, b):
            kinds.append("and")
        elif "," in text[a:b]:
            kinds.append("barrier")
        else:
            kinds.append("other")
    return kinds


def _title_of(words: list[str], gaps: list[str], i: int) -> str | None:
    """"honorific" or "role" when a title word precedes token i (not across "and" or a comma)."""
    if i == 0 or gaps[i] in ("and", "barrier"):
        return None
    return _TITLE_KIND.get(words[i - 1])


def _may_be_name(text: str, toks: list[tuple[int, int]], words: list[str], k: int) -> bool:
    word = words[k]
    if (word in STOPWORDS or word in _TITLE_KIND or word in ORG_HEADS or word in FACILITY_WORDS
            or word in NOT_NAME_WORDS):
        return False
    known = names.lookup(text[toks[k][0]:toks[k][1]])
    return known is None or known.label == "PERSON" or word in first_names()


def _titled_name(text: str, toks: list[tuple[int, int]], words: list[str], gaps: list[str], i: int) -> tuple[int, bool]:
    """After a title: how many of tokens i, i+1, i+2 read as the person's name (0 when token i does
    not), and whether "of" follows them ("Inspector Leanne Crossley of Lancashire Police")."""
    n = 0
    while n < 3 and i + n < len(toks) and (n == 0 or gaps[i + n] == "name") and _may_be_name(text, toks, words, i + n):
        n += 1
    return n, n > 0 and i + n < len(toks) and gaps[i + n] == "of"


def _scan_run(text: str, toks: list[tuple[int, int]]) -> list[Mention]:
    found: list[Mention] = []
    words = [fold(text[s:e]) for s, e in toks]
    gaps = _gap_kinds(text, toks)
    for k in range(1, len(toks) - 1):
        # a title opening "title name… of …": no organisation reading runs through it
        if words[k] in _TITLE_KIND and gaps[k + 1] == "name" and _titled_name(text, toks, words, gaps, k + 1)[1]:
            gaps[k] = "barrier" if gaps[k] != "start" else gaps[k]

    def may_cross(k: int, end: int) -> bool:
        return _may_cross_and(text, toks, words, gaps, k, end)

    heads = _org_head_ends(text, toks, gaps, may_cross)
    institutional: list[bool] | None = None
    i = 0
    while i < len(toks):
        start = toks[i][0]
        known = _longest_known(text, toks, i)
        if known and known[0] == i + 1 and known[1].label != "PERSON":
            person = _full_name(text, toks, i)  # "Artem Ryabchuk" is a man, not the city of Artem
            known = person or known
        if known:
            j, hit = known
            head = heads[j - 1] if hit.label in ("NORP", "GPE", "LOC") else None
            if head and head > j:  # "Ukrainian Defence Ministry", "US Air Force", "Cumbria Police": the institution
                j, hit = head, None
                surface = text[start:toks[j - 1][1]]
                hit = Hit("ORG", surface, f"org:{slug(surface)}")
            found.append(Mention(start, toks[j - 1][1], hit))
            i = j
            continue
        word = words[i]
        if (word in _TITLE_KIND and heads[i] and words[heads[i] - 1] in TITLED_ORG_HEADS
                and not (gaps[i + 1] == "name" and _titled_name(text, toks, words, gaps, i + 1)[1])):
            surface = text[start:toks[heads[i] - 1][1]]  # "Queen Mary University", "King's College"
            found.append(Mention(start, toks[heads[i] - 1][1], Hit("ORG", surface, f"org:{slug(surface)}")))
            i = heads[i]
            continue
        if word in STOPWORDS or word in _TITLE_KIND:
            i += 1
            continue
        person = _full_name(text, toks, i)
        if person:
            j, hit = person
            found.append(Mention(start, toks[j - 1][1], hit))
            i = j
            continue
        title = _title_of(words, gaps, i)
        if title and gaps[i] == "name":
            n, of_follows = _titled_name(text, toks, words, gaps, i)
            if n == 1 and of_follows:  # "Inspector Crossley of Lancashire Police": a titled lone word
                found.append(Mention(start, toks[i][1], None, title))
                i += 1
                continue
            if n >= 2 and (of_follows or title == "honorific"):  # "Inspector Leanne Crossley (of …)"
                j = i + n
                hit = (names.person_by_full_name(text[start:toks[i][1]], text[toks[j - 1][0]:toks[j - 1][1]])
                       or person_hit(text[start:toks[j - 1][1]]))
                found.append(Mention(start, toks[j - 1][1], hit))
                i = j
                continue
        head = heads[i]
        if head:
            surface = text[start:toks[head - 1][1]]
            found.append(Mention(start, toks[head - 1][1], Hit("ORG", surface, f"org:{slug(surface)}")))
            i = head
            continue
        title = _title_of(words, gaps, i)
        if title is None and institutional is None:
            institutional = _institutional(words, gaps)
        found.append(Mention(start, toks[i][1], None, title or ("institution" if institutional[i] else None)))
        i += 1
    return found


def _institutional(words: list[str], gaps: list[str]) -> list[bool]:
    """For each token: whether its part of the run of two or more words (joined by spaces, particles or "of"; not
    across "and" or a comma) holds an institution word ("La Guardia Urbana", "Queen Mary University").
    Its lone words are never read as a misspelt person."""
    out = [False] * len(words)
    first = 0
    for k in range(len(words) + 1):
        if k == len(words) or (k > 0 and gaps[k] not in ("name", "of")):
            if k - first > 1 and any(w in ORG_HEADS for w in words[first:k]):
                out[first:k] = [True] * (k - first)
            first = k
    return out


def _is_place_part(hit: Hit | None) -> bool:
    """Unknown, or a city or region: what the parts of "Brighton and Hove", "Avon and Somerset" are;
    a country, state, nationality, person or organisation is a name of its own."""
    if hit is None:
        return True
    return hit.label in ("GPE", "LOC") and all(r.kind in ("city", "town", "region", "LOC") for r in hit.readings)


def _may_cross_and(text: str, toks: list[tuple[int, int]], words: list[str], gaps: list[str], k: int, end: int) -> bool:
    """Whether an organisation name ending at token end-1 may run back across the "and" before token k:
    "Cumbria Fire and Rescue Service", "Avon and Somerset Police", "Tyne and Wear Metro". Not when the
    part after "and" is a known name or a lone head ("Russia and Wagner Group", "Roads and Police"),
    when the word before "and" is itself a head, a title's name or a country ("Mr Smith and Fire
    Service", "US and UK Border Force"), or when the part before "and" ends a comma list."""
    if end - k < 2 or names.lookup(text[toks[k][0]:toks[end - 1][1]]) is not None:
        return False
    before = words[k - 1]
    if before in STOPWORDS or before in _TITLE_KIND or before in ORG_HEADS or before in NOT_NAME_WORDS:
        return False
    if not _is_place_part(names.lookup(text[toks[k - 1][0]:toks[k - 1][1]])):
        return False
    if not _is_place_part(names.lookup(text[toks[k][0]:toks[k][1]])) or words[k] in first_names():
        return False
    j = k - 1  # the words before "and" back to the previous gap that is not a name's: bounded by it
    while gaps[j] == "name":
        j -= 1
        if words[j] in _TITLE_KIND:
            return False
    return gaps[j] != "barrier"


def _lowercase_demonyms(text: str, lang: str | None) -> list[Mention]:
    if not lang or lang == "en":
        return []
    table = names.lowercase_demonyms()
    return [Mention(m.start(), m.end(), table[m.group()]) for m in _lowercase_demonym_re().finditer(text)]


@cache
def _lowercase_demonym_re() -> re.Pattern[str]:
    forms = sorted(names.lowercase_demonyms(), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, forms)) + r")(?!\w)")


@lru_cache(maxsize=65_536)
def _run_mentions(run: str) -> tuple[Mention, ...]:
    """The mentions of one capitalised run, with offsets relative to the run.

    A run's reading depends only on its own characters (TOKEN_RE and NAME_GAP_RE look at nothing
    outside the run, and every table is fixed per process), and the same runs ("Volodymyr
    Zelensky", "the Met Office", "Kyiv") come back in post after post, so it is computed once.
    """
    return tuple(_scan_run(run, _tokens(run, 0, len(run))))


def scan(text: str, lang: str | None = None) -> list[Mention]:
    """Pass 1: every capitalised run cut into known spellings, person/org guesses and lone words."""
    return list(_scan(text, None if not lang or lang == "en" else lang))


@lru_cache(maxsize=1024)
def _scan(text: str, lang: str | None) -> tuple[Mention, ...]:
    """``scan``, remembered for a document's worth of posts: the worker scans every post once
    for the document's context (who "Mr Kirby" is) and again, just after, to enrich it. Only
    languages other than English add mentions (lower-case demonyms), so "en" and None share
    an entry."""
    mentions: list[Mention] = []
    append = mentions.append
    for run in RUN_RE.finditer(text):
        offset = run.start()
        for start, end, hit, title in _run_mentions(run.group()):
            append(Mention(start + offset, end + offset, hit, title))
    extra = _lowercase_demonyms(text, lang)
    if extra:
        taken = {(m.start, m.end) for m in mentions}
        mentions.extend(m for m in extra if (m.start, m.end) not in taken)
        mentions.sort(key=lambda m: m.start)
    return tuple(mentions)


@lru_cache(maxsize=16_384)
def titled_surnames(text: str) -> frozenset[str]:
    """Folded lone words that follow an honorific ("Mr McIntosh"): surnames, whoever they name.
    Remembered per text: the page context asks for every post, then enrichment for each new one."""
    return frozenset(fold(text[m.start:m.end]) for m in _scan(text, None) if m.hit is None and m.title == "honorific")


def join_titled(text: str, mentions: list[Mention] | tuple[Mention, ...], titled: frozenset[str]) -> list[Mention]:
    """Two lone words in a row whose second is a surname the document puts after an honorific
    are one person: "Alasdair McIntosh, who chairs the forum" where a later post says "Mr
    McIntosh", although "Alasdair" is not among the curated given names."""
    out: list[Mention] = []
    for m in mentions:
        prev = out[-1] if out else None
        if (m.hit is None and prev is not None and prev.hit is None and prev.title is None
                and _is_titled(fold(text[m.start:m.end]), titled) and fold(text[prev.start:prev.end]) not in titled
                and NAME_GAP_RE.fullmatch(text, prev.end, m.start)):
            out[-1] = Mention(prev.start, m.end, person_hit(text[prev.start:m.end]))
            continue
        out.append(m)
    return out


def _is_titled(word: str, titled: frozenset[str]) -> bool:
    """``word`` is a titled surname, or a spelling of one ("Macintosh" where "Mr McIntosh" is,
    "Kowalchik" where "Mr Kowalczyk" is: :func:`names.same_surname`)."""
    if word in titled:
        return True
    if len(word) < names.FUZZY_MIN_LENGTH:
        return False
    keys, long = _titled_keys(titled)
    return names.spelling_key(word) in keys or any(fuzz.ratio(word, t) >= names.FUZZY_THRESHOLD for t in long)


@lru_cache(maxsize=256)
def _titled_keys(titled: frozenset[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The spelling keys of a page's titled surnames long enough for fuzzy matching, and those surnames
    (:func:`names.same_surname` asked once per set, not once per pair)."""
    long = tuple(sorted(t for t in titled if len(t) >= names.FUZZY_MIN_LENGTH))
    return frozenset(map(names.spelling_key, long)), long


def full_names(text: str, mentions: list[Mention]) -> dict[str, list[tuple[int, str]]]:
    """Folded surname → [(offset, canonical)] for every multi-word PERSON mention of the post."""
    table: dict[str, list[tuple[int, str]]] = {}
    for m in mentions:
        if m.hit is None or m.hit.label != "PERSON":
            continue
        surface = text[m.start:m.end]
        if " " not in surface and " " not in m.hit.canonical:
            continue
        for key in {fold(m.hit.canonical.split()[-1]), fold(surface.split()[-1])}:
            table.setdefault(key, []).append((m.start, m.hit.canonical))
    return table


def _nearest(candidates: list[tuple[int, str]], offset: int) -> str:
    i = bisect_left(candidates, (offset, ""))
    return candidates[i - 1][1] if i > 0 else candidates[0][1]


def _resolve(text: str, m: Mention, local: dict, context: DocumentContext | None) -> Hit | None:
    surface = text[m.start:m.end]
    key = fold(surface)
    if key in local:
        return person_hit(_nearest(local[key], m.start))
    in_document = context.person_for(key) if context is not None else None
    if in_document:
        return person_hit(in_document)
    if m.title == "honorific":
        return names.curated_by_surname(surface) or person_hit(surface)
    if m.title == "role":
        return names.curated_by_surname(surface)
    hit = names.fuzzy(surface)
    if hit is not None and hit.label == "PERSON" and m.title == "institution":
        hit = None  # "La Guardia Urbana" is not Pep Guardiola
    return hit or (None if m.title == "name" else names.town(surface))


def _in_names(text: str, mentions: list[Mention]) -> list[Mention]:
    """Lone words next to another lone word ("Graham Tulley", "Kirsty Dalgleish") are part of a
    name, never a town on their own: marked with the title "name"."""
    out = list(mentions)
    for k in range(len(out) - 1):
        a, b = out[k], out[k + 1]
        if a.hit is None and b.hit is None and NAME_GAP_RE.fullmatch(text, a.end, b.start):
            if a.title is None:
                out[k] = Mention(a.start, a.end, None, "name")
            if b.title is None:
                out[k + 1] = Mention(b.start, b.end, None, "name")
    return out


def _settle_places(text: str, mentions: list[Mention], context: DocumentContext | None = None) -> list[Mention]:
    """Each name with several readings, or that is only a town, settled by the places around it;
    a town whose country nothing around it names is dropped."""
    if not any(m.hit.needs_support or len(m.hit.readings) > 1 for m in mentions):
        return mentions
    ids = [m.hit.entity_id for m in mentions]
    # what the unambiguous entities (and "£") say about the country, each mention once
    sure = [(m.start, c) for m in mentions if len(m.hit.readings) <= 1 and not m.hit.needs_support
            for c in (entity_country(m.hit.entity_id),) if c]
    post_countries = {c for _, c in sure} | set(text_countries(text))
    page = context.countries if context is not None else None
    settled = []
    for m in mentions:
        if m.hit.needs_support or len(m.hit.readings) > 1:
            lo, hi = sentence_span(text, m.start, m.end)
            near = [o.hit.entity_id for o in mentions if lo <= o.start < hi and o is not m]
            near_cc = [c for start, c in sure if lo <= start < hi and start != m.start] + text_countries(text[lo:hi])
            r = disambiguate(m.hit.readings, near, ids, sentence_countries=near_cc, post_countries=post_countries,
                             page_countries=page, needs_support=m.hit.needs_support)
            if r is None:
                continue
            m = Mention(m.start, m.end, Hit(r.label, r.canonical, r.entity_id, m.hit.readings), m.title)
        settled.append(m)
    return settled


def extract_entities(text: str, context: DocumentContext | None = None, lang: str | None = None) -> list[Entity]:
    mentions = scan(text, lang)
    titled = titled_surnames(text)  # lower-case demonyms (other languages) are never lone words
    if context is not None and context.titled:
        titled = titled | context.titled
    if titled:
        mentions = join_titled(text, mentions, titled)
    local = full_names(text, mentions)
    for table in local.values():
        table.sort()
    # a new Mention, not m._replace (which builds the tuple field by field in Python)
    mentions = _in_names(text, mentions)
    resolved = [m if m.hit else Mention(m.start, m.end, _resolve(text, m, local, context), m.title) for m in mentions]
    resolved = _settle_places(text, [m for m in resolved if m.hit is not None], context)
    if context is not None and context.variants:
        resolved = [Mention(m.start, m.end, person_hit(context.variants[m.hit.canonical]), m.title)
                    if m.hit.label == "PERSON" and m.hit.canonical in context.variants else m for m in resolved]
    return [
        _entity(text[m.start:m.end], m.hit.label, m.hit.canonical, m.hit.entity_id, m.start, m.end)
        for m in resolved
    ]


_entity = constructor(Entity)
