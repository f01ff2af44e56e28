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
        """Story-grouping bucket (``n:name`` or ``r:blog:slot``): a set of refs; global, for
        syndication."""
        return f"{self.prefix}:lsh:{bucket}"

    def near(self, bucket: str) -> str:
        """Near-duplicate bucket (an LSH band ``band:hash``, or a ``t:``/``q:`` anchor): a
        string, the refs JSON-quoted and joined by ``,`` (docs/dedup.md); global."""
        return f"{self.prefix}:dup:{bucket}"

    def story(self, story_id: str) -> str:
        """Set of the refs (``blog|post id``) of a story's posts."""
        return f"{self.prefix}:story:{story_id}"

    def done(self, blog_id: str, document_id: str) -> str:
        """Set by the commit (or the dead letter): a retried job sees it and does nothing."""
        return f"{self.prefix}:{{{blog_id}}}:doc:{document_id}"

    def topic_events(self, topic: str) -> str:
        """One topic's events, written by the commit script next to the global stream."""
        return f"{self.prefix}:topic:{topic}:events"

    @property
    def notify(self) -> str:
        """Pub/Sub channel: a hint that an event was committed (never the only copy)."""
        return f"{self.prefix}:notify"

    def blog_notify(self, blog_id: str) -> str:
        return f"{self.prefix}:notify:{blog_id}"

    @property
    def subscriptions(self) -> str:
        """Hash: subscription name -> Subscription JSON (secret included)."""
        return f"{self.prefix}:subscriptions"

    @property
    def subscriptions_version(self) -> str:
        """Counter moved by every subscription change; the commit re-checks it."""
        return f"{self.prefix}:subscriptions:version"

    def alerts(self, subscription: str) -> str:
        """One subscriber's alert stream (the live page highlights the events it names)."""
        return f"{self.prefix}:alerts:{subscription}"

    @property
    def alerts_dead_letter(self) -> str:
        """Alerts whose webhook failed every attempt."""
        return f"{self.prefix}:alerts:deadletter"

    @property
    def deliveries(self) -> str:
        """Delivery log: one entry per webhook delivery outcome."""
        return f"{self.prefix}:deliveries"

    def alerted(self, subscription: str, story_id: str) -> str:
        """Set NX by the commit: one alert per subscriber per story."""
        return f"{self.prefix}:alerted:{subscription}:{story_id}"

    def matched(self, subscription: str, blog_id: str, post_id: str) -> str:
        """Set by the commit when a post's revision matched: an edit alerts only if it newly matches."""
        return f"{self.prefix}:matched:{subscription}:{{{blog_id}}}:{post_id}"

    def accepted(self, document_id: str) -> str:
        """Set by a producer when it accepts a document: the same document twice runs once."""
        return f"{self.prefix}:accepted:{document_id}"
