"""`liveblog deadletter list|show|requeue|delete`: inspect the dead letter, send documents back, drop entries.

``list`` prints one line per entry (``--json``: one JSON object per line, without the raw
input), ``show ID`` one entry as JSON with its raw input, ``requeue ID…`` or ``requeue --all``
re-submits each entry's stored raw input as a new job (``producers.deadletter``: one atomic
step per entry, once however often it is issued). Exit codes: 0 ok, 2 usage error, 3 Redis
unreachable, 4 an entry not found or not requeued (each named, with the reason, on stderr;
the others are still requeued). ``delete ID…`` or ``delete --all [--reason R] [--blog B]``
drops entries without requeueing them (``producers.deadletter.delete``: counted
``documents_discarded``), with the same exit codes (4: an entry not found; the others are
still deleted).
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from liveblog import connect as connecting
from producers import deadletter as dl
from schemas.errors import InputRejected, UsageError
from schemas.keys import Keys
from schemas.settings import Settings

EXIT_REJECTED = 4
_STREAM_ID = re.compile(r"^\d+-\d+$")


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("deadletter", help="list, show, requeue and delete dead-lettered documents")
    actions = p.add_subparsers(dest="action", required=True)
    ls = actions.add_parser("list", help="the dead letter's entries, oldest first (without their raw input)")
    ls.add_argument("--reason", help="only entries with this reason, e.g. 'failed after retries'")
    ls.add_argument("--blog", help="only entries of this blog id")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    show = actions.add_parser("show", help="one entry as JSON, with its raw input")
    show.add_argument("id", metavar="ID", help="the entry id, as `list` prints it (e.g. 1760000000000-0)")
    rq = actions.add_parser("requeue", help="re-submit entries' raw input as new jobs (the same document ids)")
    rq.add_argument("ids", nargs="*", metavar="ID", help="entry ids, as `list` prints them")
    rq.add_argument("--all", action="store_true", help="every entry (with --reason / --blog: every matching one)")
    rq.add_argument("--reason", help="with --all: only entries with this reason")
    rq.add_argument("--blog", help="with --all: only entries of this blog id")
    rm = actions.add_parser("delete", help="drop entries without requeueing them (counted documents_discarded)")
    rm.add_argument("ids", nargs="*", metavar="ID", help="entry ids, as `list` prints them")
    rm.add_argument("--all", action="store_true", help="every entry (with --reason / --blog: every matching one)")
    rm.add_argument("--reason", help="with --all: only entries with this reason")
    rm.add_argument("--blog", help="with --all: only entries of this blog id")


def _entry_id(text: str) -> str:
    if not _STREAM_ID.match(text):
        raise UsageError(f"expected a dead-letter entry id such as 1760000000000-0, found {text!r}")
    return text


def cmd_deadletter(args: argparse.Namespace) -> int:
    if args.action in ("requeue", "delete"):  # usage errors before Redis is asked anything
        if args.all == bool(args.ids):
            raise UsageError(f"{args.action}: expected entry ids or --all, found "
                             + ("both" if args.all else "neither"))
        if not args.all and (args.reason or args.blog):
            raise UsageError(f"{args.action}: --reason and --blog select entries for --all; with ids, give only ids")
        ids = [_entry_id(i) for i in args.ids]
    elif args.action == "show":
        ids = [_entry_id(args.id)]
    settings = Settings.from_env()
    conn = connecting.connect(settings)
    keys = Keys(settings.key_prefix)
    if args.action == "list":
        return _list(conn, keys, args)
    if args.action == "show":
        letter = dl.get(conn, keys, ids[0])
        if letter is None:
            print(f"liveblog: no dead-letter entry {ids[0]}", file=sys.stderr)
            return EXIT_REJECTED
        print(json.dumps(letter.full(), indent=2, ensure_ascii=False))
        return 0
    if args.all:
        ids = [letter.id for letter in dl.letters(conn, keys, reason=args.reason, blog=args.blog)]
    if args.action == "delete":
        return _each(ids, lambda entry_id: dl.delete(conn, keys, entry_id), "deleted")
    return _each(ids, lambda entry_id: dl.requeue(conn, settings, entry_id), "requeued")


def _each(ids: list[str], act, done: str) -> int:
    """``act`` on each entry (requeue or delete), a line per entry done, the reason for each not done."""
    count = refused = 0
    for entry_id in ids:
        try:
            letter = act(entry_id)
        except InputRejected as exc:  # NotRequeued, NotDeleted
            refused += 1
            print(f"liveblog: {exc}", file=sys.stderr)
            continue
        count += 1
        f = letter.fields
        print(f"{entry_id} {done}: document {f.get('document_id')} of {f.get('blog_id')} ({f.get('reason')})")
    print(f"liveblog: {done} {count}" + (f", not {done} {refused}" if refused else ""), file=sys.stderr)
    return EXIT_REJECTED if refused else 0


def _list(conn, keys: Keys, args: argparse.Namespace) -> int:
    count = 0
    for letter in dl.letters(conn, keys, reason=args.reason, blog=args.blog):
        count += 1
        s = letter.summary()
        if args.json:
            print(json.dumps(s, ensure_ascii=False))
            continue
        cut = "  [raw truncated: cannot requeue]" if letter.truncated else ""
        print(f"{s['id']}  {s.get('at', '')}  {s.get('blog_id', '')}  {s.get('document_id', '')}  "
              f"{s.get('reason', '')}: expected {s.get('expected', '')}, found {s.get('found', '')}"
              f"  ({s.get('source', '')}){cut}")
    if not args.json:
        print(f"liveblog: {count} dead-letter entries", file=sys.stderr)
    return 0


COMMANDS = {"deadletter": cmd_deadletter}
