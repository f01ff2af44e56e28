"""`liveblog schema`: the event's JSON Schema, generated from the pydantic models.

Consumers in other languages validate what they read against it. Its ``$id`` is the
event's ``dataschema`` (which carries the schema version), so an event names the schema
it conforms to. Generated in serialization mode: it describes the JSON on the wire.
"""

from __future__ import annotations

import argparse
import json
import sys

from schemas.documents import PushedPost
from schemas.events import EVENT_SCHEMA_VERSION, Event
from schemas.subscriptions import AlertPayload, Rule


def event_schema() -> dict:
    schema = Event.model_json_schema(mode="serialization", by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": Event.model_fields["dataschema"].default, "version": EVENT_SCHEMA_VERSION, **schema}


def rule_schema() -> dict:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **Rule.model_json_schema(by_alias=True)}


def pushed_post_schema() -> dict:
    """A line of ``liveblog push`` input (what a pushing source sends)."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **PushedPost.model_json_schema()}


def alert_schema() -> dict:
    """The webhook body of an alert or a follow-up (docs/alerts.md)."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **AlertPayload.model_json_schema()}


SCHEMAS = {"event": event_schema, "rule": rule_schema, "pushed-post": pushed_post_schema, "alert": alert_schema}


def add_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of the event (or of a subscription rule, of an "
                                      "alert's webhook body, or of a line of liveblog push)")
    p.add_argument("which", nargs="?", default="event", choices=sorted(SCHEMAS))


def cmd_schema(args: argparse.Namespace) -> int:
    schema = SCHEMAS[args.which]()
    sys.stdout.write(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    return 0
