"""Failpoints: named places where a test can make a worker die on purpose.

``LIVEBLOG_FAILPOINTS=after_commit`` makes the process exit with status 86 the first
time it passes that point, the way a power cut or SIGKILL would, so the reliability
tests can crash a worker exactly between its commit and RQ marking the job done.
Unset (always, in production) it costs one dictionary lookup.
"""

from __future__ import annotations

import os

EXIT_STATUS = 86


def hit(name: str) -> None:
    if name in os.environ.get("LIVEBLOG_FAILPOINTS", "").split(","):
        os._exit(EXIT_STATUS)
