"""Per-process state of a worker: settings and the document processor.

Settings are handed over by the entry point (``liveblog worker``); a plain
``rq worker`` falls back to reading the environment once.
"""

from __future__ import annotations

from redis import Redis

from schemas.settings import Settings
from workers.pipeline import DocumentProcessor, Enricher

_settings: Settings | None = None
_enricher: Enricher | None = None
_processors: dict[int, DocumentProcessor] = {}


def configure(settings: Settings, enricher: Enricher | None = None) -> None:
    """Called by the entry point; ``enricher`` replaces the default one (tests, tools)."""
    global _settings, _enricher
    _settings = settings
    _enricher = enricher
    _processors.clear()


def settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings


def processor(redis: Redis) -> DocumentProcessor:
    """One processor per connection, so scripts and matchers are built once per process."""
    found = _processors.get(id(redis))
    if found is None:
        found = _processors[id(redis)] = DocumentProcessor(redis, settings(), _enricher)
    return found


def warm_up() -> None:
    """Load what the first job would otherwise pay for (gazetteers, language model)."""
    if _enricher is None:
        from workers import enrichers

        enrichers.warm_up()
