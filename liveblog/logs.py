"""structlog, configured once per entry point: console on a TTY, JSON lines otherwise."""

from __future__ import annotations

import logging
import sys

import structlog


def _stderr_logger(*_args: object) -> structlog.PrintLogger:
    """Bound to whatever ``sys.stderr`` is at the time, not the object it was at start-up
    (a test runner, a daemoniser or a closed terminal may swap it)."""
    return structlog.PrintLogger(file=sys.stderr)


class _StderrHandler(logging.StreamHandler):
    """A stdlib handler that always writes to the current ``sys.stderr``."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _stable_event(_logger: object, _name: str, event_dict: dict) -> dict:
    """A line from the standard library (RQ's own) gets a stable event name from its logger
    (``rq.worker`` -> ``rq_worker_log``) and keeps its text in ``message``: every JSON line
    can be filtered by ``event`` alone."""
    event_dict["message"] = str(event_dict.get("event", ""))
    event_dict["event"] = str(event_dict.get("logger") or "stdlib").replace(".", "_") + "_log"
    return event_dict


def configure(fmt: str = "auto", level: str = "INFO") -> None:
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    renderer = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if fmt == "console"
        else structlog.processors.JSONRenderer(sort_keys=True)
    )
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    # RQ logs through the standard library: send its lines through the same renderer.
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, _stable_event],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper()))
    for name in ("rq", "rq.worker", "rq.queue"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
