"""`liveblog tail` and `liveblog trim`: read the event streams as a consumer would.

With ``--group`` the read is resumable and shared: entries are acknowledged only after
they are printed, a consumer that died holding entries loses them to the next one after
``--claim-idle-ms`` (XAUTOCLAIM), and a group that fell behind the stream's retention is
told how many entries it missed instead of silently skipping them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import sys
import threading

from liveblog import connect as connecting
from liveblog import consume
from schemas.errors import UsageError
from schemas.keys import Keys
from schemas.settings import Settings
from schemas.subscriptions import alert_body

CLAIM_IDLE_MS = 60_000


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tail", help="print the stream's events (NDJSON; human lines on a TTY)")
    p.add_argument("--follow", "-f", action="store_true")
    p.add_argument("--group", help="consumer group: resume where this group stopped")
    p.add_argument("--consumer", help="consumer name within the group (default: host-pid)")
    p.add_argument("--claim-idle-ms", type=int, default=CLAIM_IDLE_MS,
                   help="take over other consumers' entries unacknowledged this long (default 60000)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--blog", help="read one blog's stream instead of all events")
    where.add_argument("--topic", help="read one topic's stream")
    where.add_argument("--subscription", help="read one subscription's alerts (follow-ups included), as delivered")
    p.add_argument("--count", type=int, default=0, help="stop after N events (0: no limit)")

    p = sub.add_parser("trim", help="trim a stream to --maxlen without dropping entries a group has not read")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--blog")
    where.add_argument("--topic")
    p.add_argument("--maxlen", type=int, required=True)


def stream_of(args: argparse.Namespace, keys: Keys) -> str:
    if args.blog:
        return keys.blog_events(args.blog)
    if args.topic:
        return keys.topic_events(args.topic)
    if getattr(args, "subscription", None):
        return keys.alerts(args.subscription)
    return keys.events


def no_events(kind: str, name: str, stream: str) -> str:
    """The note for a named blog or topic with nothing to read: the same as one not spelt as
    the worker spells it, which Redis cannot tell apart (a stream exists once it has events)."""
    hint = ("blog ids are the source's file name without extension, or --blog-id" if kind == "blog"
            else "topics are the names in an event's data.topics")
    return f"{kind} {name!r} has no events ({stream} is empty or does not exist; {hint})"


def render(event_json: str, pretty: bool) -> str:
    """A human line shows the post's own time: the event's ``time`` is when its document was
    fetched, the same for every post of a poll."""
    if not pretty:
        return event_json
    e = json.loads(event_json)
    post = e["data"]["post"]
    when = post.get("published_at") or e["time"]
    return f"{when}  {e['type'].rsplit('.', 1)[-1]:9} r{post['revision']}  {e['data']['blog']['id']}  {post['title']}"


def render_alert(fields: dict, pretty: bool) -> str:
    """An alert entry as the webhook body (``schemas.subscriptions.alert_body``); a human line
    names its kind, its id and, for a follow-up, the alert it follows."""
    body = alert_body({k.decode(): v.decode() for k, v in fields.items()})
    if not pretty:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    post = body["event"]["data"]["post"]
    follows = f" follows {body['original_id']}" if "original_id" in body else ""
    changes = f" ({', '.join(body['changes'])})" if body.get("changes") else ""
    return f"{body['kind']:11} {body['id']}{follows}{changes}  {body['event']['data']['blog']['id']}  {post['title']}"


def cmd_tail(args: argparse.Namespace) -> int:
    if args.subscription and args.group == "dispatch":
        raise UsageError("--group dispatch is the webhook dispatcher's group: reading with it would take its alerts")
    settings = Settings.from_env()
    conn = connecting.connect(settings)
    stream = stream_of(args, Keys(settings.key_prefix))
    if (args.blog or args.topic) and not conn.xlen(stream):  # stdout stays clean; exit 0, as for any empty stream
        note = no_events("blog" if args.blog else "topic", args.blog or args.topic, stream)
        print(f"liveblog: {note}" + ("; waiting for the first" if args.follow else ""), file=sys.stderr)
    pretty = sys.stdout.isatty()
    printed = 0

    def emit(fields: dict) -> bool:
        nonlocal printed
        line = render_alert(fields, pretty) if args.subscription else render(fields[b"event"].decode("utf-8"), pretty)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        printed += 1
        return bool(args.count) and printed >= args.count

    if not args.group:
        cursor = b"0-0"
        while True:
            rows = conn.xread({stream: cursor}, count=500, block=5000 if args.follow else None)
            for entry_id, fields in rows[0][1] if rows else []:
                if emit(fields):
                    return 0
                cursor = entry_id
            if not rows and not args.follow:
                return 0

    consumer = args.consumer or f"{socket.gethostname()}-{os.getpid()}"
    consume.ensure_group(conn, stream, args.group)
    for warning in consume.gap_warnings(conn, stream):
        print(f"liveblog: gap: {warning}", file=sys.stderr)
    _report_lost(consume.claim_idle(conn, stream, args.group, consumer, args.claim_idle_ms), stream, args.group)
    position = "0"  # first our own unacknowledged entries (including claimed ones), then new ones
    while True:
        batch = min(100, args.count - printed) if args.count else 100  # never take more than we will ack
        rows = conn.xreadgroup(args.group, consumer, {stream: position}, count=batch,
                               block=5000 if args.follow and position == ">" else None)
        entries = rows[0][1] if rows else []
        if not entries and position == "0":
            position = ">"
            continue
        for entry_id, fields in entries:
            if not fields:  # trimmed after it was delivered to us (a pending entry read again): gone
                conn.xack(stream, args.group, entry_id)
                _report_lost(consume.Claimed(0, (entry_id.decode(),)), stream, args.group)
                continue
            with _ctrl_c_after():  # printed and acknowledged, or neither printed: never printed, left pending
                done = emit(fields)
                conn.xack(stream, args.group, entry_id)
            if done:
                return 0
        if not entries and args.follow:
            _report_lost(consume.claim_idle(conn, stream, args.group, consumer, args.claim_idle_ms), stream,
                         args.group)
            position = "0"
        elif not entries:
            return 0


def _report_lost(claimed: consume.Claimed, stream: str, group: str) -> None:
    warning = claimed.warning(stream, group)
    if warning:
        print(f"liveblog: gap: {warning}", file=sys.stderr)


@contextlib.contextmanager
def _ctrl_c_after():
    """Ctrl-C inside the block takes effect when the block ends: an entry printed and not yet
    acknowledged would be printed again by the next ``tail --group`` (seen under load)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def cmd_trim(args: argparse.Namespace) -> int:
    if args.maxlen < 0:
        raise UsageError(f"--maxlen: expected 0 or more, found {args.maxlen}")
    settings = Settings.from_env()
    conn = connecting.connect(settings)
    stream = stream_of(args, Keys(settings.key_prefix))
    removed, kept = consume.safe_trim(conn, stream, args.maxlen)
    print(f"liveblog: trimmed {removed} entries from {stream}"
          + (f"; kept {kept} more than --maxlen that consumer groups have not read" if kept else ""), file=sys.stderr)
    return 0


COMMANDS = {"tail": cmd_tail, "trim": cmd_trim}
