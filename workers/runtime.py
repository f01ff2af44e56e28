"""Per-process state of a worker: settings and the document processor.

Settings are handed over by the entry point (``liveblog worker``); a plain
``rq worker`` falls back to reading the environment once.
"""

from __future__ import annotations

from redis import Redis

from schemas.settings import Settings
from workers.pipeline import DocumentProcessor

_settings: Settings | None = None
_processors: dict[int, DocumentProcessor] = {}


def configure(settings: Settings) -> None:
    global _settings
    _settings = settings
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
        found = _processors[id(redis)] = DocumentProcessor(redis, settings())
    return found
