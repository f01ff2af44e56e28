"""`liveblog feed`: JSON Feed 1.1 and Atom for people and tools that poll.

Rendered from the streams, so a feed shows what consumers saw: one item per post (the
latest revision wins), ``updated`` / ``date_modified`` is that revision's time, retracted
posts are left out, newest first. A subscription's feed is its alert stream: one item per
alert, newest first - the follow-ups too (a retraction, correction or restoration of a post
that alerted: its title says so, ``_liveblog`` names the kind and the original alert).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from xml.etree import ElementTree as ET

import redis

from liveblog import connect as connecting
from liveblog.tail_cli import no_events
from schemas.errors import UsageError
from schemas.keys import Keys
from schemas.settings import Settings
from schemas.subscriptions import FOLLOWUP_TITLE

ATOM = "http://www.w3.org/2005/Atom"
SCAN_LIMIT = 5000  # newest stream entries read to build a feed
# Characters XML 1.0 cannot carry even escaped (C0 controls but tab/newline/CR, U+FFFE/FFFF,
# lone surrogates). Source pages do contain them (a BEL or ESC pasted into a headline); the
# Atom feed drops them, or no reader could parse the feed. JSON Feed escapes them instead.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(value: str) -> str:
    """Text for an Atom element: ElementTree escapes <, > and &; this removes what it cannot escape."""
    return _NOT_XML.sub("", value)


def latest_posts(conn: redis.Redis, stream: str, limit: int) -> list[dict]:
    """The newest revision of each post among the stream's last SCAN_LIMIT entries."""
    posts: dict[str, dict] = {}
    for _, fields in conn.xrevrange(stream, count=SCAN_LIMIT):
        event = json.loads(fields[b"event"])
        posts.setdefault(event["data"]["post"]["id"], event)  # newest entry first: the latest revision
    live = [e for e in posts.values() if e["type"] != "liveblog.post.retracted"]
    live.sort(key=lambda e: (e["data"]["post"]["published_at"], e["id"]), reverse=True)
    return live[:limit]


def latest_alerts(conn: redis.Redis, stream: str, limit: int) -> list[tuple[dict, dict]]:
    """A subscription's newest alerts, newest first: (alert fields, event), follow-ups included."""
    out = []
    for _, raw in conn.xrevrange(stream, count=limit):
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        if "event" in fields:  # an entry trimmed while pending reads back empty
            out.append((fields, json.loads(fields["event"])))
    return out


def _alerted(alert: dict | None, post: dict) -> tuple[str, str]:
    """An alert item's title and text: a follow-up's title says what happened to the post."""
    kind = (alert or {}).get("kind", "")
    body = "This post was retracted: it is no longer on the page." if kind == "retraction" else post["body"]
    return FOLLOWUP_TITLE.get(kind, "") + post["title"], body


def _alert_extra(alert: dict) -> dict:
    extra = {"alert_id": alert["id"], "kind": alert.get("kind", "alert")}
    if "original_id" in alert:
        extra["original_id"] = alert["original_id"]
        extra["changes"] = json.loads(alert.get("changes") or "[]")
    return extra


def _updated(event: dict) -> str:
    post = event["data"]["post"]
    return post.get("updated_at") or (event["time"] if post["revision"] > 1 else post["published_at"])


def json_feed(events: list[dict], *, title: str, feed_url: str | None = None,
              alerts: list[dict] | None = None) -> dict:
    """JSON Feed 1.1. The body goes out as ``content_text`` only (never ``content_html``):
    a reader shows source markup as the characters it is. ``alerts``: the alert of each event
    (a subscription's feed), one item per alert."""
    items = []
    for n, e in enumerate(events):
        post = e["data"]["post"]
        alert = alerts[n] if alerts is not None else None
        heading, text_body = _alerted(alert, post)
        item = {"id": alert["id"] if alert else e["data"]["blog"]["id"] + "/" + post["id"], "title": heading,
                "content_text": text_body, "date_published": post["published_at"],
                "date_modified": _updated(e), "tags": e["data"].get("topics") or [],
                "_liveblog": {"event_id": e["id"], "revision": post["revision"], "story_id": e["data"]["story_id"],
                              **(_alert_extra(alert) if alert else {})}}
        if post.get("url"):
            item["url"] = post["url"]
        if post.get("author"):
            item["authors"] = [{"name": post["author"]}]
        items.append(item)
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": title, "items": items}
    if feed_url:
        feed["feed_url"] = feed_url
    return feed


def atom_feed(events: list[dict], *, title: str, feed_id: str, alerts: list[dict] | None = None) -> str:
    """Atom 1.0. Titles and bodies are source text, never markup: they go out as ``type="text"``
    elements whose ``<``, ``>`` and ``&`` ElementTree escapes, so a ``<script>`` in a post is
    characters in every reader. ``alerts``: as for ``json_feed``; an alert's entry has the
    category of its kind, and a follow-up a ``related`` link to the alert it follows."""
    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed")

    def text(parent: ET.Element, tag: str, value: str, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", **attrs)
        element.text = _xml_text(value)
        return element

    text(root, "title", title, type="text")
    text(root, "id", feed_id)
    text(root, "updated", max((_updated(e) for e in events), default="1970-01-01T00:00:00Z"))
    for n, e in enumerate(events):
        post = e["data"]["post"]
        alert = alerts[n] if alerts is not None else None
        heading, text_body = _alerted(alert, post)
        entry = ET.SubElement(root, f"{{{ATOM}}}entry")
        text(entry, "id", f"urn:liveblog:alert:{alert['id']}" if alert else
             f"urn:liveblog:{e['data']['blog']['id']}:{post['id']}")
        text(entry, "title", heading, type="text")
        text(entry, "published", post["published_at"])
        text(entry, "updated", _updated(e))
        if post.get("author"):
            text(ET.SubElement(entry, f"{{{ATOM}}}author"), "name", post["author"])
        if post.get("url"):
            ET.SubElement(entry, f"{{{ATOM}}}link", href=_xml_text(post["url"]))
        if alert:
            ET.SubElement(entry, f"{{{ATOM}}}category", term=alert.get("kind", "alert"), scheme="urn:liveblog:alert-kind")
            if "original_id" in alert:
                ET.SubElement(entry, f"{{{ATOM}}}link", rel="related", href=f"urn:liveblog:alert:{alert['original_id']}")
        text(entry, "content", text_body, type="text")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


def add_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("feed", help="render a blog's (or a subscription's) feed: JSON Feed 1.1 or Atom")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--blog")
    which.add_argument("--subscription")
    p.add_argument("--format", choices=["json", "atom"], default="json")
    p.add_argument("--limit", type=int, default=100)


def cmd_feed(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UsageError(f"--limit: expected at least 1, found {args.limit}")
    settings = Settings.from_env()
    conn = connecting.connect(settings)
    keys = Keys(settings.key_prefix)
    stream = keys.blog_events(args.blog) if args.blog else keys.alerts(args.subscription)
    name = f"blog {args.blog}" if args.blog else f"alerts for {args.subscription}"
    if not conn.xlen(stream):  # an empty feed still goes to stdout: a valid feed with no items
        if args.blog:
            print(f"liveblog: {no_events('blog', args.blog, stream)}", file=sys.stderr)
        elif not conn.hexists(keys.subscriptions, args.subscription):
            raise UsageError(f"no subscription named {args.subscription!r}: see `liveblog subscribe list`")
        else:
            print(f"liveblog: subscription {args.subscription!r} has no alerts yet ({stream} is empty)",
                  file=sys.stderr)
    alerts = None
    if args.blog:
        events = latest_posts(conn, stream, args.limit)
    else:
        found = latest_alerts(conn, stream, args.limit)
        alerts, events = [a for a, _ in found], [e for _, e in found]
    if args.format == "json":
        feed = json_feed(events, title=f"liveblog: {name}", alerts=alerts)
        sys.stdout.write(json.dumps(feed, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(atom_feed(events, title=f"liveblog: {name}", feed_id=f"urn:liveblog:feed:{stream}",
                                   alerts=alerts) + "\n")
    return 0
