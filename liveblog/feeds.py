"""`liveblog feed`: JSON Feed 1.1 and Atom for people and tools that poll.

Rendered from the streams, so a feed shows what consumers saw: one item per post (the
latest revision wins), ``updated`` / ``date_modified`` is that revision's time, retracted
posts are left out, newest first. A subscription's feed is its alert stream: one item per
alert, for the posts that alerted.
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


def _updated(event: dict) -> str:
    post = event["data"]["post"]
    return post.get("updated_at") or (event["time"] if post["revision"] > 1 else post["published_at"])


def json_feed(events: list[dict], *, title: str, feed_url: str | None = None) -> dict:
    """JSON Feed 1.1. The body goes out as ``content_text`` only (never ``content_html``):
    a reader shows source markup as the characters it is."""
    items = []
    for e in events:
        post = e["data"]["post"]
        item = {"id": e["data"]["blog"]["id"] + "/" + post["id"], "title": post["title"],
                "content_text": post["body"], "date_published": post["published_at"],
                "date_modified": _updated(e), "tags": e["data"].get("topics") or [],
                "_liveblog": {"event_id": e["id"], "revision": post["revision"], "story_id": e["data"]["story_id"]}}
        if post.get("url"):
            item["url"] = post["url"]
        if post.get("author"):
            item["authors"] = [{"name": post["author"]}]
        items.append(item)
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": title, "items": items}
    if feed_url:
        feed["feed_url"] = feed_url
    return feed


def atom_feed(events: list[dict], *, title: str, feed_id: str) -> str:
    """Atom 1.0. Titles and bodies are source text, never markup: they go out as ``type="text"``
    elements whose ``<``, ``>`` and ``&`` ElementTree escapes, so a ``<script>`` in a post is
    characters in every reader."""
    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed")

    def text(parent: ET.Element, tag: str, value: str, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", **attrs)
        element.text = _xml_text(value)
        return element

    text(root, "title", title, type="text")
    text(root, "id", feed_id)
    text(root, "updated", max((_updated(e) for e in events), default="1970-01-01T00:00:00Z"))
    for e in events:
        post = e["data"]["post"]
        entry = ET.SubElement(root, f"{{{ATOM}}}entry")
        text(entry, "id", f"urn:liveblog:{e['data']['blog']['id']}:{post['id']}")
        text(entry, "title", post["title"], type="text")
        text(entry, "published", post["published_at"])
        text(entry, "updated", _updated(e))
        if post.get("author"):
            text(ET.SubElement(entry, f"{{{ATOM}}}author"), "name", post["author"])
        if post.get("url"):
            ET.SubElement(entry, f"{{{ATOM}}}link", href=_xml_text(post["url"]))
        text(entry, "content", post["body"], type="text")
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
    events = latest_posts(conn, stream, args.limit)
    if args.format == "json":
        sys.stdout.write(json.dumps(json_feed(events, title=f"liveblog: {name}"), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(atom_feed(events, title=f"liveblog: {name}", feed_id=f"urn:liveblog:feed:{stream}") + "\n")
    return 0
