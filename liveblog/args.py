"""Argument types shared by every `liveblog` command: a bad value is a usage error (exit 2)
that says what was expected and what was found."""

from __future__ import annotations

import argparse
import json
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def time_zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"expected an IANA time zone such as Europe/London, found {text!r}") from exc
    return text


def log_level(text: str) -> str:
    """A level name the logging module has, in any case; checked here because an unknown one
    would only fail once logging is configured, as a traceback."""
    if text.upper() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(LOG_LEVELS)} (any case), found {text!r}")
    return text.upper()


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, found {text!r}") from exc


def json_mapping(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            mapping = json.load(handle)
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"expected a readable JSON mapping file, found {path!r}: {exc}") from exc
    if not isinstance(mapping, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object in {path!r}, found {type(mapping).__name__}")
    from schemas.errors import InputRejected
    from workers.parsers.jsonfeed import Mapping  # the parser's own check, at startup rather than per document

    try:
        Mapping.from_option(mapping)
    except InputRejected as exc:
        raise argparse.ArgumentTypeError(f"{path!r}: {exc}") from exc
    return mapping
