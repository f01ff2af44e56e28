"""Redis key layout. Per-blog state shares the hash tag ``{blog_id}``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "liveblog"

    @property
    def events(self) -> str:
        return f"{self.prefix}:events"

    @property
    def stats(self) -> str:
        return f"{self.prefix}:stats"

    @property
    def dead_letter(self) -> str:
        return f"{self.prefix}:deadletter"

    def blog_events(self, blog_id: str) -> str:
        return f"{self.prefix}:{{{blog_id}}}:events"

    def post(self, blog_id: str, post_key: str) -> str:
        return f"{self.prefix}:{{{blog_id}}}:post:{post_key}"

    def post_index(self, blog_id: str) -> str:
        """Zset of the blog's post ids by published ms: what a snapshot's span should show."""
        return f"{self.prefix}:{{{blog_id}}}:posts"

    def lsh(self, bucket: str) -> str:
        """Near-duplicate index bucket (``band:hash`` or an anchor); global, for syndication."""
        return f"{self.prefix}:lsh:{bucket}"

    def story(self, story_id: str) -> str:
        """Set of the refs (``blog|post id``) of a story's posts."""
        return f"{self.prefix}:story:{story_id}"

    def done(self, blog_id: str, document_id: str) -> str:
        """Set by the commit (or the dead letter): a retried job sees it and does nothing."""
        return f"{self.prefix}:{{{blog_id}}}:doc:{document_id}"

    def accepted(self, document_id: str) -> str:
        """Set by a producer when it accepts a document: the same document twice runs once."""
        return f"{self.prefix}:accepted:{document_id}"
