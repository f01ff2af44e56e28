"""One error hierarchy for the whole project: each class says when it is raised."""

from __future__ import annotations


class LiveblogError(Exception):
    """Root of every error this project raises on purpose."""

    exit_code = 1


class UsageError(LiveblogError):
    """Raised when a command line or setting is malformed (exit code 2)."""

    exit_code = 2


class RedisUnavailable(LiveblogError):
    """Raised when Redis cannot be reached at an entry point (exit code 3)."""

    exit_code = 3


class InputRejected(LiveblogError):
    """Raised when a document cannot be turned into posts (exit code 4).

    It names what was expected and what was found, so the dead-letter entry
    tells an operator what to fix without reading a traceback.
    """

    exit_code = 4

    def __init__(self, reason: str, *, expected: str, found: str) -> None:
        self.reason = reason
        self.expected = expected
        self.found = found
        super().__init__(f"{reason}: expected {expected}, found {found}")


class DecodeError(InputRejected):
    """Raised when a message or document body is not valid JSON, UTF-8 or schema."""


class DocumentTooLarge(InputRejected):
    """Raised by a producer (``producers.enqueue.submit``) when a document is over the size limit
    (``schemas.documents.MAX_DOCUMENT_CHARS``): it is refused before anything is written to Redis,
    since the worker could neither parse it nor keep it whole in the dead letter."""


class CommitConflict(LiveblogError):
    """Raised when another worker changed a post between the pre-check and the commit
    more often than the commit retries allow; the job is retried by RQ."""
