"""Failpoints: named places where a test can make a worker die or hang on purpose.

``LIVEBLOG_FAILPOINTS=after_commit`` makes the process exit with status 86 the first
time it passes that point, the way a power cut or SIGKILL would, so the reliability
tests can crash a worker exactly between its commit and RQ marking the job done.
``LIVEBLOG_FAILPOINTS=stall_once`` makes the first job of a process hang (for
``LIVEBLOG_FAILPOINT_STALL_S`` seconds, default 3600) before it does anything, the way a
hung call would, so a test can watch RQ's job timeout end it in a real worker process.
Unset (always, in production) each costs one dictionary lookup.
"""

from __future__ import annotations

import os
import time

EXIT_STATUS = 86
_stalled: set[str] = set()


def hit(name: str) -> None:
    if name in os.environ.get("LIVEBLOG_FAILPOINTS", "").split(","):
        os._exit(EXIT_STATUS)


def stall_once(name: str) -> None:
    if name in os.environ.get("LIVEBLOG_FAILPOINTS", "").split(",") and name not in _stalled:
        _stalled.add(name)
        time.sleep(float(os.environ.get("LIVEBLOG_FAILPOINT_STALL_S", "3600")))
