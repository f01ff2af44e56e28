"""Per-process state of a worker: settings and the document processor.

Settings are handed over by the entry point (``liveblog worker``); a plain
``rq worker`` falls back to reading the environment once.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager

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


# The cyclic collector's defaults (700, 10, 10) suit a process with few long-lived objects. A
# worker holds a few hundred thousand (gazetteers, the candidate cache, the per-process lru
# caches), and with the defaults a full collection walked all of them every ~20 documents:
# in one process over the 6,000-post bench corpus, 15 full collections of 66-77 ms each,
# 1.3 s of 17 s in all, and each one a pause in front of whatever document was waiting.
# Almost nothing a document allocates forms a cycle (reference counting frees it), so the
# youngest generation can be let grow to 20,000 objects before it is examined.
GC_THRESHOLDS = (20_000, 10, 10)


@contextmanager
def collector_paused():
    """No cyclic collection while a document is processed: a young collection here walks up to
    GC_THRESHOLDS[0] objects (9-19 ms per collection, measured on 5-post documents), a pause in
    front of the document's own events. Collection resumes when it leaves - the first allocation
    after it runs what came due, once the events are in the streams. A document's garbage is
    almost all freed by reference counting; what cycles it makes wait for the end of its job.
    Leaves the collector as it found it (a caller that disabled it keeps it disabled)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def tune_gc() -> None:
    """After warm_up, before the first job: collect once, move every object that exists now
    (the tables warm_up built) out of the collector's sight for good (``gc.freeze``: they live
    as long as the process, and a forking worker's horses then share their pages), and raise
    the first generation's threshold (GC_THRESHOLDS). docs/performance.md has the measurements."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
