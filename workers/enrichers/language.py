"""Language of a post: ISO 639-1 code from py3langid, whose model ships inside its wheel.

py3langid costs ~0.2 ms per 400 characters, as much as every other enricher together, so
an English post (most of the corpus) is answered by a function-word count first: when at
least EN_SHARE (12 %) of the first SAMPLE_WORDS words are English function words and no other
language's list reaches OTHER_SHARE (8 %), the answer is "en". Everything else goes to langid on
the first SAMPLE_CHARS characters. Text without letters has no language (None).
"""

from __future__ import annotations

import re
from functools import cache

NAME = "language"
VERSION = "1"
SAMPLE_WORDS = 80
SAMPLE_CHARS = 400
EN_SHARE = 0.12
OTHER_SHARE = 0.08

FUNCTION_WORDS = {
    "en": frozenset("the of and to is that was for with has have said by from it its at are were will be as but not he she "
                     "they his her had been after who which would this their".split()),
    "es": frozenset("el los las del que por con para una según pero más sus fue ha al se lo como".split()),
    "fr": frozenset("le les des du que pour avec une dans est qui sur par au aux selon ont été mais".split()),
    "de": frozenset("der die das und ist nicht mit den dem ein eine sich auf für von zu im wurde sagte".split()),
}
WORD_RE = re.compile(r"[^\W\d_]+")


@cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)


def load_model() -> None:
    """Load py3langid's model now (≈70 MB, ≈0.5 s), not on the first non-English post."""
    _identifier()


# function word -> the languages whose list holds it ("que" is Spanish and French)
_LANGUAGES_OF: dict[str, tuple[str, ...]] = {}
for _lang, _vocab in FUNCTION_WORDS.items():
    for _word in _vocab:
        _LANGUAGES_OF[_word] = (*_LANGUAGES_OF.get(_word, ()), _lang)


def _shares(words: list[str]) -> dict[str, float]:
    """Each language's share of ``words`` that are its function words: one pass over the words."""
    counts = dict.fromkeys(FUNCTION_WORDS, 0)
    for found in map(_LANGUAGES_OF.get, words):
        if found:
            for lang in found:
                counts[lang] += 1
    return {lang: counts[lang] / len(words) for lang in FUNCTION_WORDS}


def detect_language(text: str) -> str | None:
    words = WORD_RE.findall(text[: SAMPLE_CHARS * 2].casefold())[:SAMPLE_WORDS]
    if not words:
        return None
    shares = _shares(words)
    if shares["en"] >= EN_SHARE and all(s < OTHER_SHARE for lang, s in shares.items() if lang != "en"):
        return "en"
    return _identifier().classify(text[:SAMPLE_CHARS])[0]
