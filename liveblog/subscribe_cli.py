"""`liveblog subscribe add|list|remove|test`: manage subscriptions, and try a rule on a document.

``test`` runs the document through the real pipeline and commit script on an embedded
Redis with the rule as the only subscription, so what it shows is exactly what the worker
would alert: which posts match and why, and which matches are held back because the
subscriber was already alerted about the same story.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import sys

from pydantic import ValidationError

from liveblog import connect as connecting
from liveblog.dispatch import TargetRejected, check_target, deliver_from_now
from producers.fetch import FetchFailed
from producers.files import read_sources
from schemas.documents import ParseOptions
from schemas.errors import UsageError
from schemas.keys import Keys
from schemas.settings import Settings
from schemas.subscriptions import LEAVES, Rule, Subscription, secret_problem
from workers.alerts import store

LEAF_FLAGS = ("keyword", "phrase", "entity", "country", "topic", "blog")


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("subscribe", help="manage alert subscriptions")
    actions = p.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add or replace a subscription")
    add.add_argument("name")
    add.add_argument("--rule", help='the rule as JSON, e.g. {"all": [{"entity": "NATO"}, {"topic": "military"}]}')
    for flag in LEAF_FLAGS:
        add.add_argument(f"--{flag}", action="append", default=[], help=f"{flag} leaf (repeatable)")
    add.add_argument("--min-urgency", type=float)
    add.add_argument("--any", action="store_true", help="the flags combine with any (default: all)")
    add.add_argument("--webhook", help="URL to POST alerts to (checked like polled URLs)")
    add.add_argument("--secret", help="signing secret whsec_<base64> (default: generated and printed once)")
    add.add_argument("--allow-private", action="store_true", help="accept a webhook on a private/loopback address")
    add.add_argument("--notify", action="append", default=[], metavar="APPRISE_URL",
                     help="deliver through Apprise instead of a webhook (e.g. ntfys://topic, mailto://…); repeatable")
    ls = actions.add_parser("list", help="list subscriptions (secrets masked)")
    ls.add_argument("--json", action="store_true")
    rm = actions.add_parser("remove", help="remove a subscription")
    rm.add_argument("name")
    test = actions.add_parser("test", help="show which posts of a document would alert, and why")
    test.add_argument("rule", metavar="RULE", help="rule JSON, or the name of a stored subscription")
    test.add_argument("source", metavar="SOURCE")
    test.add_argument("--format", default="auto", choices=["auto", "text", "html", "rss", "json"])
    test.add_argument("--tz", default="UTC")
    test.add_argument("--blog-id")


def rule_from_args(args: argparse.Namespace) -> Rule:
    leaves = [{flag: value} for flag in LEAF_FLAGS for value in getattr(args, flag)]
    if args.min_urgency is not None:
        leaves.append({"min_urgency": args.min_urgency})
    if args.rule and leaves:
        raise UsageError("give either --rule JSON or leaf flags (--keyword, --entity, ...), not both")
    try:
        if args.rule:
            return Rule.model_validate_json(args.rule)
        if not leaves:
            raise UsageError("expected a rule: --rule JSON or at least one of --keyword, --entity, --topic, ...")
        return Rule.model_validate(leaves[0] if len(leaves) == 1 else {"any" if args.any else "all": leaves})
    except ValidationError as exc:
        raise rule_error(exc) from exc


def rule_error(exc: ValidationError) -> UsageError:
    """pydantic says "Extra inputs are not permitted" without the key: name each unknown key,
    where it is in the tree, and the keys a rule node takes; other errors get their place too."""
    unknown = [e["loc"] for e in exc.errors() if e["type"] == "extra_forbidden"]
    if unknown:
        found = ", ".join(repr(loc[-1]) + (f" in {_path(loc[:-1])}" if loc[:-1] else "") for loc in unknown)
        return UsageError(f"invalid rule: expected keys among all, any, not, {', '.join(LEAVES)}; found {found}")
    first = exc.errors()[0]
    return UsageError(f"invalid rule: {_path(first['loc']) + ': ' if first['loc'] else ''}{first['msg']}")


def _path(loc: tuple) -> str:
    """("all", 0, "not") -> all[0].not"""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def cmd_subscribe(args: argparse.Namespace) -> int:
    if args.action == "test":
        return _test(args)
    settings = Settings.from_env()
    conn = connecting.connect(settings)
    keys = Keys(settings.key_prefix)
    if args.action == "add":
        return _add(args, conn, keys)
    if args.action == "list":
        _, subs = store.load(conn, keys)
        for s in subs:
            print(json.dumps(s.public(), ensure_ascii=False) if args.json else
                  f"{s.name}\t{s.rule.to_json()}\t{s.webhook_url or '-'}")
        return 0
    if not store.remove(conn, keys, args.name):
        raise UsageError(f"no subscription named {args.name!r}: see `liveblog subscribe list`")
    deliver_from_now(conn, keys.alerts(args.name), create=False)  # what was not sent yet never will be
    print(f"liveblog: removed {args.name}", file=sys.stderr)
    return 0


def _add(args: argparse.Namespace, conn, keys: Keys) -> int:
    rule = rule_from_args(args)
    secret, generated = args.secret, False
    if secret is not None and not args.webhook:
        raise UsageError("--secret signs webhook deliveries: give --webhook too")
    if secret is not None and (problem := secret_problem(secret)):
        raise UsageError(problem)
    if args.webhook:
        try:
            check_target(args.webhook, allow_private=args.allow_private)
        except TargetRejected as exc:
            raise UsageError(str(exc)) from exc
        except FetchFailed as exc:
            # a name this machine cannot resolve (split DNS, a receiver not up yet) may resolve
            # where the dispatcher runs, and every delivery checks the target again
            print(f"liveblog: warning: {exc}; added anyway, each delivery checks the target again",
                  file=sys.stderr)
        previous = store.get(conn, keys, args.name)
        if not secret and previous is not None and previous.webhook_secret is not None:
            # an edit (new rule or URL): the receiver keeps verifying with the secret it was given
            secret = previous.webhook_secret.get_secret_value()
            print(f"liveblog: {args.name} kept its signing secret (give --secret to change it)", file=sys.stderr)
        if not secret:
            secret, generated = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(), True
    try:
        sub = Subscription(name=args.name, rule=rule, webhook_url=args.webhook, webhook_secret=secret,
                           notify_urls=tuple(args.notify))
    except ValidationError as exc:
        raise UsageError(f"invalid subscription: {exc.errors()[0]['msg']}") from exc
    previous = store.get(conn, keys, sub.name)
    if sub.delivers and not (previous and previous.delivers):
        deliver_from_now(conn, keys.alerts(sub.name))  # before the save: every alert after it is sent
    added = store.save(conn, keys, sub)
    print(f"liveblog: {'added' if added else 'replaced'} {sub.name}: {rule.to_json()}", file=sys.stderr)
    if generated:  # shown once, for the receiver's configuration; never logged
        print(secret)
    return 0


def _test(args: argparse.Namespace) -> int:
    from workers.alerts.rules import Subject, explain
    from workers.pipeline import DocumentProcessor

    rule = _rule_or_stored(args.rule)
    conn = connecting.embedded()
    settings = Settings()
    keys = Keys(settings.key_prefix)
    store.save(conn, keys, Subscription(name="test", rule=rule))
    processor = DocumentProcessor(conn, settings)
    options = ParseOptions(format=args.format, tz=args.tz)
    for raw in read_sources([args.source], options=options, blog_id=args.blog_id):
        processor.process(raw)
    alerted = {f[b"event_id"].decode() for _, f in conn.xrange(keys.alerts("test"))}
    by_story = {json.loads(f[b"event"])["data"]["story_id"]: json.loads(f[b"event"])["data"]["post"]["title"]
                for _, f in conn.xrange(keys.alerts("test"))}
    matched = 0
    for _, fields in conn.xrange(keys.events):
        event = json.loads(fields[b"event"])
        reasons = explain(rule, Subject.from_event(event))
        if reasons is None:
            continue
        matched += 1
        post = event["data"]["post"]
        story = event["data"]["story_id"]
        verdict = "ALERT" if event["id"] in alerted else f"held back: story already alerted by {by_story.get(story)!r}"
        print(f"{post['published_at']}  {verdict}  {post['title']}\n    because: {', '.join(reasons)}")
    print(f"liveblog: {matched} posts match, {len(alerted)} alerts", file=sys.stderr)
    return 0


def _rule_or_stored(text: str) -> Rule:
    if text.lstrip().startswith("{"):
        try:
            return Rule.model_validate_json(text)
        except ValidationError as exc:
            raise rule_error(exc) from exc
    settings = Settings.from_env()
    if not settings.redis_url:
        raise UsageError(f"expected a rule as JSON, found {text!r} (a subscription name needs REDIS_URL)")
    found = store.get(connecting.connect(settings), Keys(settings.key_prefix), text)
    if found is None:
        raise UsageError(f"no subscription named {text!r}: see `liveblog subscribe list`")
    return found.rule


COMMANDS = {"subscribe": cmd_subscribe}
