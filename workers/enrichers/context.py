"""Document-wide knowledge that single posts lack: who a bare surname refers to on this page.

A live blog introduces "John Kirby" in one post and says "Mr Kirby" in the next; the worker
builds one :class:`DocumentContext` from all posts of a document so every post resolves the
surname the same way. Built once per document, immutable, safe to share across threads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

from workers.enrichers.entities import full_names, scan
from workers.enrichers.gazetteer import people


@dataclass(frozen=True)
class DocumentContext:
    """Folded surname → the full name it most often belongs to in the document."""

    surnames: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_texts(cls, texts: list[str]) -> DocumentContext:
        """Count full-name mentions over all texts. A surname shared by two people goes to the curated
        one (news figures are quoted; the blog's own reporters share their surnames), then to the more
        frequent, then to the alphabetically first, so the result does not depend on post order."""
        counts: dict[str, Counter[str]] = {}
        for text in texts:
            for key, canonicals in _full_names_of(text):
                counts.setdefault(key, Counter()).update(canonicals)
        curated = {p.canonical for p in people()}
        best = {key: min(c.items(), key=lambda kv: (kv[0] not in curated, -kv[1], kv[0]))[0] for key, c in counts.items()}
        return cls(MappingProxyType(best))

    def person_for(self, surname_key: str) -> str | None:
        return self.surnames.get(surname_key)


@lru_cache(maxsize=16_384)
def _full_names_of(text: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The full-name mentions of one post, remembered per process: a re-polled page brings the
    same posts again, so only its new posts are scanned when the context is rebuilt."""
    return tuple((key, tuple(c for _, c in mentions)) for key, mentions in full_names(text, scan(text)).items())
