"""Text clean-up shared by every parser: Unicode, whitespace, image credits and
related-link lines.

A live page copied as text mixes the post's paragraphs with lines that are not
prose: agency credits under pictures ("(AP)", "... (Copyright 2022 The
Associated Press. All rights reserved)"), and pointers to other articles
("Read more here", "Jane Doe reports:" followed by that article's headline).
Credits are dropped; pointers are kept apart as related links. Neither is ever
a paragraph of the body, nor a post of its own.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import unquote_plus

AGENCIES = (
    "AP", "PA", "AFP", "Reuters", "Getty", "Getty Images", "EPA", "EPA-EFE", "Shutterstock",
    "Bloomberg", "Alamy", "PA Wire", "PA Media", "ANSA", "dpa", "EFE", "Europa Press", "Xinhua",
    "Lusa", "Keystone", "Belga", "ANP", "Imago", "picture alliance",
)
_AGENCY_ALT = "|".join(re.escape(a) for a in sorted(AGENCIES, key=len, reverse=True))
_CREDIT_LINE = re.compile(
    rf"""^\(?\s*(?:{_AGENCY_ALT})(?:\s*(?:Photo|via|/)[^)]*)?\s*\)?\.?$
        |\((?:[^()]*\b(?:Copyright|©)\b[^()]*|\s*(?:{_AGENCY_ALT})(?:\s*(?:Photo|via|/)[^)]*)?\s*)\)\s*$""",
    re.VERBOSE | re.IGNORECASE,
)
# A labelled picture credit: "Photo: Reuters", "Crédit photo : X / AFP", "Foto: X/dpa", "(Foto: dpa)",
# "Photo by X/AP", "Foto ANSA", "© AFP", "Copyright AFP 2025". Short, one sentence at most: a caption
# or prose that merely starts with such a word ("Photo: the harbour wall gave way ...") is longer.
_CREDIT_LABEL = (r"(?:photo(?:graph)?s?|pictures?|images?|foto(?:grafia|s)?|fotograf[íi]a|bild(?:er)?|imagem|immagine"
                 r"|cr[ée]dits?(?:\s+photos?)?|photo\s+credit|image\s+credit)")
_LABELLED_CREDIT = re.compile(
    rf"""^\(?\s*(?:
        {_CREDIT_LABEL}\s*(?::|\bby\b|\bvon\b)\s*(?=\S)[^.!?:;]{{1,80}}
      | {_CREDIT_LABEL}\s+(?:{_AGENCY_ALT})(?:\s*/\s*[^.!?:;]{{1,60}})?
      | (?:©|\(c\)|copyright\b)\s*(?=\S)[^.!?:;]{{1,80}}
    )\s*\)?\.?$""",
    re.VERBOSE | re.IGNORECASE,
)
CREDIT_MAX_WORDS = 10
_LONE_AGENCY = re.compile(rf"^\(?\s*(?:{_AGENCY_ALT})\s*\)?\.?$", re.IGNORECASE)
_LINK_INTRO = re.compile(
    r"""(?:^(?:read\s+more|read|watch|listen|related|click\s+here|more\s+here|lee\s+(?:más|también|aquí)|
              (?:[àa]\s+)?lire\s+aussi|voir\s+aussi|mehr\s+dazu|lesen\s+sie\s+(?:auch|mehr)|mehr\s+zum\s+thema|
              leggi\s+anche|leia\s+(?:também|mais)|veja\s+também|saiba\s+mais)\b
        |\b(?:more|report|reports|story|full|guide|explainer|read|watch|latest|coverage|details|información|
             informa|article)\b.*\b(?:here|below|aquí|ici|hier)\s*[.:!]?\s*$
        |\b(?:here|below|aquí|ici|hier)\s*:\s*$
        |\b(?:reports|has\s+the\s+(?:full\s+)?story|has\s+the\s+latest[^.]*|has\s+more|in\s+this\s+report\s+why)\s*[.:]?\s*$)""",
    re.VERBOSE | re.IGNORECASE,
)
_TERMINAL = tuple(".!?…:;\"'”’»)]")
_HONORIFIC_END = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Sra|Mme|Herr|Frau)\.?$")
HEADLINE_MAX_WORDS = 25
LINK_INTRO_MAX_WORDS = 16

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ZERO_WIDTH = re.compile(r"[\u200b\u2060\ufeff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Markup written into a plain-text page (a pasted embed, a hostile post): the elements whose
# content is never prose, then any tag or comment. Used only to classify a line, never to edit it.
_MARKUP = re.compile(
    r"<(script|style)\b[^>]*>.*?</\1\s*>|<!--.*?-->|</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>",
    re.IGNORECASE | re.DOTALL,
)


def replace_lone_surrogates(text: str) -> str:
    """``text`` with every lone UTF-16 surrogate (a JSON ``"\\ud800"`` escape decodes to one)
    replaced by U+FFFD, so it can be encoded as UTF-8. Valid text comes back unchanged."""
    return _SURROGATE.sub("\ufffd", text)


def has_lone_surrogate(text: str) -> bool:
    """A surrogate code point (U+D800-U+DFFF) in ``text``: exactly what strict UTF-8 cannot
    encode, and encoding is several times faster than searching for them."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def readable(line: str) -> str:
    """A line as a reader sees it: without the tags and scripts a plain-text page may carry.

    Only for deciding what a line is (prose, credit, link): ``"… overnight. <script>…</script>"``
    is a sentence that ends in a full stop, not a headline without one.
    """
    if "<" not in line:
        return line
    return " ".join(_MARKUP.sub(" ", line).split())


def clean_text(text: str, *, nfc: bool = False) -> str:
    """NFC, one kind of newline, no zero-width or non-breaking oddities, no trailing blanks.

    ``nfc``: the caller has already put ``text`` in NFC (``repair_text`` ends with it), so it
    is not checked again - the check alone walks the whole page."""
    if not nfc:
        text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _has_zero_width(text):
        text = _ZERO_WIDTH.sub("", text)
    text = text.replace("\x00", "")
    return "\n".join(map(_clean_line, text.split("\n")))


def _has_zero_width(text: str) -> bool:
    """``_ZERO_WIDTH.search(text)``, as three substring tests: a text without the characters
    (nearly every page) is not walked by the regex engine, and a text whose widest character
    is narrower than they are (Latin-1) is not walked at all."""
    return "\u200b" in text or "\u2060" in text or "\ufeff" in text


@lru_cache(maxsize=8192)
def _clean_line(line: str) -> str:
    """Cached: a re-polled page brings back the same lines."""
    if line.isascii() and "\t" not in line and "  " not in line:  # nothing for _SPACES to fold
        return line.strip()
    return _SPACES.sub(" ", line).strip()


def is_credit(line: str) -> bool:
    line = line.strip()
    if _CREDIT_LINE.search(line):
        return True
    # the anchored pattern first: it fails at a line's first characters, the word count splits the line
    return bool(_LABELLED_CREDIT.match(line)) and len(line.split()) <= CREDIT_MAX_WORDS


def is_link_intro(line: str) -> bool:
    return len(line.split()) <= LINK_INTRO_MAX_WORDS and bool(_LINK_INTRO.search(line.strip()))


def is_headline_like(line: str) -> bool:
    """A short line with no closing punctuation: the title of another article."""
    stripped = line.strip()
    return (
        bool(stripped)
        and not stripped.endswith(_TERMINAL)
        and len(stripped.split()) <= HEADLINE_MAX_WORDS
        and not stripped[0].islower()
    )


@dataclass
class Body:
    paragraphs: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    credits: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


def split_body(lines: list[str]) -> Body:
    """Sort the non-blank lines of a post into paragraphs, related links and credits."""
    units = _join_broken_paragraphs([ln for ln in lines if ln.strip()])
    seen = [readable(unit) for unit in units]  # classified as read; kept as written
    kinds: list[str] = []
    for i, line in enumerate(seen):
        if is_credit(line):
            # a caption line, then the agency on a line of its own: both are the picture's
            if _LONE_AGENCY.match(line) and i > 0 and kinds[i - 1] == "related" and is_headline_like(seen[i - 1]):
                kinds[i - 1] = "credit"
            kinds.append("credit")
        elif is_link_intro(line) or is_headline_like(line):
            kinds.append("related")
        else:
            kinds.append("paragraph")
    # "Watch below, from CNN:" and similar intros close a post: a trailing ':' paragraph
    prose = [i for i, kind in enumerate(kinds) if kind == "paragraph"]
    while prose and seen[prose[-1]].endswith(":"):
        kinds[prose.pop()] = "related"
    body = Body()
    for line, kind in zip(units, kinds):
        {"credit": body.credits, "related": body.related, "paragraph": body.paragraphs}[kind].append(line)
    return body


def _join_broken_paragraphs(lines: list[str]) -> list[str]:
    """Re-join a paragraph that copy-paste split after "Mr" or mid-sentence."""
    out: list[str] = []
    for line in lines:
        if out and (_HONORIFIC_END.search(out[-1]) or (line[:1].islower() and not out[-1].endswith(_TERMINAL))):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return out


_QUOTES = (("“", '"'), ("”", '"'), ("„", '"'), ("«", '"'), ("»", '"'), ("‘", "'"), ("’", "'"), ("‚", "'"),
           ("–", "-"), ("—", "-"), ("‒", "-"), ("−", "-"))


def replace_each(text: str, pairs) -> str:
    """``text`` with each (old, new) of ``pairs`` replaced, one ``str.replace`` per pair present.
    For a few single characters in a long text this beats ``str.translate``, which walks a
    non-ASCII text one dict lookup per character: folding ``_QUOTES`` in a 1.2 KB post took
    180 µs that way and takes 3 µs this way (measured). The targets must never be sources."""
    for old, new in pairs:
        if old in text:
            text = text.replace(old, new)
    return text


# Query parameters that only say how a reader reached a link (campaign, click and share
# trackers), never which page it points to. Names compare case-insensitively; ``utm_*`` is a
# prefix. Deliberately absent because sites use them for content: ``ref`` (a branch, a
# referral code), ``source``, ``src``, ``from``, ``cmp``, ``s``, ``id``, ``page``.
TRACKING_PARAMS = frozenset({
    "fbclid",                                    # Facebook click id
    "gclid", "gclsrc", "dclid", "gbraid", "wbraid",  # Google Ads / DoubleClick click ids
    "msclkid",                                   # Microsoft Ads
    "yclid", "twclid", "ttclid", "li_fat_id",    # Yandex, X/Twitter, TikTok, LinkedIn click ids
    "igshid", "igsh",                            # Instagram share ids
    "mc_cid", "mc_eid",                          # Mailchimp campaign / recipient
    "_ga", "_gl",                                # Google Analytics cross-domain linker
    "_hsenc", "_hsmi", "mkt_tok",                # HubSpot, Marketo e-mail tracking
    "ref_src", "ref_url",                        # X/Twitter embed referrers (twsrc^tfw)
    "xtor",                                      # AT Internet campaign tag
    "smid", "smtyp",                             # NYT share tags
})
TRACKING_PREFIXES = ("utm_",)

_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?'\"…"


def _is_tracking(pair: str) -> bool:
    name = unquote_plus(pair.split("=", 1)[0]).strip().lower().removeprefix("amp;")  # "&amp;" left escaped
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def _untracked(params: str) -> str | None:
    """``params`` without tracking pairs; None when nothing was removed (the text stays as written)."""
    pairs = params.split("&")
    kept = [p for p in pairs if p and not _is_tracking(p)]
    return None if len(kept) == len(pairs) else "&".join(kept)


def _fingerprint_url(url: str) -> str:
    """One URL as the fingerprint sees it: tracking parameters and an empty fragment dropped.

    A fragment is kept unless it is empty or made only of tracking pairs (``#xtor=RSS-8``):
    on a live page ``#post-4102`` names one post, so changing it changes where the link goes.
    Nothing else is rewritten (order, case and percent-encoding of the remaining
    parameters stay as written).
    """
    base, hash_, fragment = url.partition("#")
    path, question, query = base.partition("?")
    if question:
        kept = _untracked(query)
        if kept is not None:
            query = kept
        base = f"{path}?{query}" if query else path
    if hash_:
        kept = _untracked(fragment) if "=" in fragment else None
        if kept is not None:
            fragment = kept
        return f"{base}#{fragment}" if fragment else base
    return base


def _url_in_text(match: re.Match[str]) -> str:
    url = match.group(0)
    end, unbalanced = len(url), url.count(")") - url.count("(")
    while end:  # sentence punctuation after the link, or the parenthesis the link was written in
        if url[end - 1] in _URL_TRAILING:
            end -= 1
        elif url[end - 1] == ")" and unbalanced > 0:
            end, unbalanced = end - 1, unbalanced - 1
        else:
            break
    return _fingerprint_url(url[:end]) + url[end:]


def fingerprint_url(url: str) -> str:
    """A link with its tracking parameters removed (see TRACKING_PARAMS), for comparisons only."""
    return _fingerprint_url(url.strip())


@lru_cache(maxsize=2048)
def fingerprint_text(text: str) -> str:
    """The text as the content hash sees it: quotes, dashes, spacing and the tracking
    parameters of the links it contains (``?utm_source=tw``, ``&fbclid=…``) do not count.
    Cached: a new post's title and body are fingerprinted for its content hash and again
    for the per-field hashes that say what a later edit changed."""
    text = replace_each(unicodedata.normalize("NFKC", text), _QUOTES)
    if "://" in text or "www." in text.lower():
        text = _URL.sub(_url_in_text, text)
    return " ".join(text.split())
