"""HTML live pages: schema.org ``LiveBlogPosting`` JSON-LD and visible post blocks.

A live page says what its posts are twice: in JSON-LD for search engines
(``liveBlogUpdate[]``) and in the markup readers see (repeated blocks, each
with a ``<time>`` and a heading). Publishers' JSON-LD is often generated
carelessly - every update carrying the page headline and publish time, bodies
cut at a fixed length - so when both are present and disagree, the visible
blocks win and the document carries a warning (and a ``jsonld_disagrees`` log
line) saying what disagreed. JSON-LD alone is used when the page shows no post
blocks. Text always comes from an HTML parser; script and style content and
attributes never reach it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import structlog
from selectolax.lexbor import LexborHTMLParser, LexborNode

from schemas.documents import RawDocument
from schemas.errors import InputRejected
from schemas.posts import BlogMeta, ParsedDocument
from workers import stamps
from workers.identity import normalized_title
from workers.normalize import fingerprint_text
from workers.parsers._common import (
    Draft, assemble, author_name, html_fragment_to_paragraphs, html_to_paragraphs, http_url, is_hidden,
    load_json, looks_like_html, parse_html, source_url, text_to_paragraphs, tidy, to_utc,
)

log = structlog.get_logger(__name__)

HEADINGS = "h1, h2, h3, h4, h5, h6"
HEADING_TAGS = frozenset(HEADINGS.replace(",", "").split())
BYLINE = '[rel~="author"], [itemprop="author"], .author, .byline, [class*="author-name"]'
EXPECTED = "schema.org LiveBlogPosting JSON-LD, or repeated post blocks each with a <time> element and a heading"
SAME_TIME = timedelta(minutes=1)
MAX_JSONLD_NODES = 10_000
MAX_JSONLD_DEPTH = 32
MAX_CLIMB = 24  # a post's <time> sits a few levels below its block; deeper is markup soup


@dataclass
class Block:
    """One visible post block and the elements that are its frame, not its body."""

    node: LexborNode
    heading: LexborNode | None  # None: a post without a headline (a WordPress-style liveblog entry)
    times: list[LexborNode]
    dom_id: str | None


def parse(raw: RawDocument, body: str) -> ParsedDocument:
    tree = parse_html(body)
    if tree.body is None:
        raise InputRejected("not an HTML page", expected="an HTML document with a <body>", found="no body element")
    posting, warnings = _live_posting(tree)
    base = _canonical(tree, posting) or source_url(raw)
    ld_drafts = _ld_drafts(posting, raw, base, warnings) if posting else []
    blocks = _post_blocks(tree)
    visible = _visible_drafts(blocks, raw, base, warnings, page_moment=_page_moment(tree, posting, blocks, raw))
    drafts = _reconcile(visible, ld_drafts, raw, warnings)
    posts, dropped = assemble(raw, drafts, expected=EXPECTED)
    return ParsedDocument(format="html", blog=_blog_meta(raw, tree, posting, base), posts=posts,
                          warnings=warnings + dropped)


# --------------------------------------------------------------------------- JSON-LD


def _live_posting(tree: LexborHTMLParser) -> tuple[dict | None, list[str]]:
    """The first LiveBlogPosting object in the page's JSON-LD blocks (in @graph or nested)."""
    warnings = []
    for script in tree.css('script[type="application/ld+json"]'):
        try:
            data = load_json(script.text(deep=True) or "")
        except (ValueError, RecursionError):
            warnings.append("ignored a JSON-LD block that is not valid JSON")
            continue
        found = _find_type(data, "LiveBlogPosting")
        if found is not None:
            return found, warnings
    return None, warnings


def _find_type(data: object, wanted: str) -> dict | None:
    """Breadth-first search of a JSON-LD value for an object of @type ``wanted`` (bounded)."""
    queue = [(data, 0)]
    for index in range(MAX_JSONLD_NODES):
        if index >= len(queue):
            break
        value, depth = queue[index]
        if isinstance(value, dict):
            kind = value.get("@type")
            if kind == wanted or (isinstance(kind, list) and wanted in kind):
                return value
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth < MAX_JSONLD_DEPTH:
            queue.extend((child, depth + 1) for child in children)
    return None


def _ld_drafts(posting: dict, raw: RawDocument, base: str | None, warnings: list[str]) -> list[Draft]:
    updates = posting.get("liveBlogUpdate")
    updates = [updates] if isinstance(updates, dict) else updates if isinstance(updates, list) else []
    drafts = []
    for update in updates:
        if not isinstance(update, dict):
            continue
        try:
            drafts.append(_ld_draft(update, raw, base))
        except InputRejected as exc:
            warnings.append(f"skipped a JSON-LD update: {exc}")
    return drafts


def _ld_draft(update: dict, raw: RawDocument, base: str | None) -> Draft:
    tz = stamps.zone(raw.options.tz)
    modified = update.get("dateModified")
    body = update.get("articleBody")
    body = body if isinstance(body, str) else ""
    link = _ld_link(update)
    return Draft(
        title=tidy(update.get("headline") if isinstance(update.get("headline"), str) else ""),
        body=html_fragment_to_paragraphs(body, base_url=base) if looks_like_html(body) else text_to_paragraphs(body),
        published_at=to_utc(update.get("datePublished"), tz, what="datePublished"),
        updated_at=to_utc(modified, tz, what="dateModified") if modified else None,
        author=author_name(update.get("author")),
        url=http_url(link, base),
        source_id=_fragment_or_whole(link),
    )


def _ld_link(update: dict) -> str | None:
    for key in ("url", "@id"):
        value = update.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _fragment_or_whole(link: str | None) -> str | None:
    """``https://site/live#post-12`` -> ``post-12``: the same id the visible block carries."""
    if not link:
        return None
    try:
        fragment = urlsplit(link).fragment
    except ValueError:
        fragment = ""
    return fragment or link


# --------------------------------------------------------------------------- visible blocks


def _post_blocks(tree: LexborHTMLParser) -> list[Block]:
    """The page's post blocks: by heading (``_heading_blocks``), unless those swallow several
    posts each - live blogs whose entries have no headline (WordPress liveblog plugins, agency
    tickers) have one heading-holding ancestor around all of them - and the blocks found by
    their time alone (``_timed_blocks``) are more."""
    blocks = _heading_blocks(tree)
    timed = _timed_blocks(tree)
    if len(timed) > len(blocks):
        inside = {node.mem_id for node in (b.node for b in timed)}
        swallowed = any(sum(1 for n in b.node.css(timed[0].node.tag) if n.mem_id in inside) > 1 for b in blocks)
        if swallowed or not blocks:
            return timed
    return blocks


def _is_edit_time(node: LexborNode) -> bool:
    marks = " ".join((node.attributes.get(a) or "") for a in ("class", "itemprop")).lower()
    return "updated" in marks or "modified" in marks


def _timed_blocks(tree: LexborHTMLParser) -> list[Block]:
    """Repeated blocks each holding one publication <time> (edit times aside), with or without a
    heading: for each <time>, its largest ancestor holding no other; the most common shape
    (tag and first class) wins, when at least two blocks share it."""
    times = [t for t in tree.body.css("time") if not _is_edit_time(t)]
    counts: dict[int, int] = {}
    for time in times:
        node = time.parent
        for _ in range(MAX_CLIMB):
            if node is None or node.tag in ("body", "html"):
                break
            counts[node.mem_id] = counts.get(node.mem_id, 0) + 1
            node = node.parent
    groups: dict[tuple[str, str], list[LexborNode]] = {}
    for time in times:
        node, block = time.parent, None
        for _ in range(MAX_CLIMB):
            if node is None or node.tag in ("body", "html") or counts.get(node.mem_id, 0) > 1:
                break
            block, node = node, node.parent
        if block is not None and not is_hidden(block):
            classes = (block.attributes.get("class") or "").split()
            groups.setdefault((block.tag, classes[0] if classes else ""), []).append(block)
    if not groups:
        return []
    best = max(groups, key=lambda sig: len(groups[sig]))
    if len(groups[best]) < 2:
        return []
    return [_block(node, timed=True) for node in groups[best]]


def _heading_blocks(tree: LexborHTMLParser) -> list[Block]:
    """Repeated blocks holding a <time> and one heading; the most common shape wins.

    The page's own header (an <h1> and the publication time) is a candidate too;
    choosing the shape shared by most candidates leaves it out.
    """
    candidates: dict[int, LexborNode] = {}
    times_in: dict[int, list[LexborNode]] = {}
    levels: dict[int, list[int]] = {}  # heading levels under each ancestor, asked once however many <time>s share it
    for time in tree.body.css("time"):
        block = _block_around(time, levels)
        if block is not None and not is_hidden(block):
            candidates.setdefault(block.mem_id, block)
            times_in.setdefault(block.mem_id, []).append(time)
    groups: dict[tuple[str, str], list[LexborNode]] = {}
    for node in candidates.values():
        groups.setdefault((node.tag, node.css_first(HEADINGS).tag), []).append(node)
    if not groups:
        return []
    best = max(groups, key=lambda sig: (len(groups[sig]), sig[1] != "h1"))
    chosen = list(groups[best])
    for sig, nodes in groups.items():
        if sig != best:  # a post of the winning shape inside a wrapper of its own (a pinned post)
            chosen.extend(inner for node in nodes if (inner := _inner_block(node, times_in[node.mem_id], best)))
    if len(chosen) > len(groups[best]):
        ids = {node.mem_id for node in chosen}
        chosen = [node for node in tree.body.css(best[0]) if node.mem_id in ids]  # page order
    return [_block(node) for node in chosen]


def _inner_block(outer: LexborNode, times: list[LexborNode], shape: tuple[str, str]) -> LexborNode | None:
    """The outermost element of ``shape`` (tag, heading tag) between a <time> and the wrapper
    taken for its block, holding the wrapper's one heading; None when there is none."""
    found = None
    for time in times[:1]:
        node = time.parent
        while node is not None and node.mem_id != outer.mem_id:
            if node.tag == shape[0] and (head := node.css_first(HEADINGS)) is not None and head.tag == shape[1]:
                found = node
            node = node.parent
    return found if found is not None and not is_hidden(found) else None


def _block_around(time: LexborNode, levels: dict[int, list[int]] | None = None) -> LexborNode | None:
    """The largest ancestor of a <time> that holds exactly one heading of its rank or above.

    ``levels`` remembers each ancestor's heading levels: the <time>s of a page share their
    ancestors, and searching an ancestor's subtree again for each of them made a page of
    many <time>s quadratic (4,000 took 21.6 s)."""
    levels = {} if levels is None else levels
    node, block, level = time.parent, None, None
    for _ in range(MAX_CLIMB):
        if node is None or node.tag in ("body", "html"):
            break
        heads = levels.get(node.mem_id)
        if heads is None:
            heads = levels[node.mem_id] = [int(h.tag[1]) for h in node.css(HEADINGS)]
        if heads:
            level = level or heads[0]
            if sum(1 for h in heads if h <= level) > 1:
                break
            block = node
        node = node.parent
    return block


def _block(node: LexborNode, *, timed: bool = False) -> Block:
    """A block found by its heading: that heading (the first, of the highest rank in it); found by
    its time alone: its one heading, or none when it has none or several."""
    attrs = node.attributes
    dom_id = attrs.get("id") or attrs.get("data-post-id") or attrs.get("data-id")
    headings = node.css(HEADINGS)
    heading = (headings[0] if len(headings) == 1 else None) if timed else headings[0]
    return Block(node=node, heading=heading, times=node.css("time"), dom_id=dom_id or None)


def _visible_drafts(blocks: list[Block], raw: RawDocument, base: str | None, warnings: list[str],
                    page_moment: datetime | None = None) -> list[Draft]:
    published, approx = _published_times(blocks, raw, page_moment)
    drafts = []
    for block, when, approx_s in zip(blocks, published, approx):
        if when is None:
            what = block.heading if block.heading is not None else block.node
            warnings.append(f"skipped a post block whose time is unreadable: {tidy(what.text())!r:.80}")
        else:
            drafts.append(_block_draft(block, when, raw, base))
            drafts[-1].approx_s = approx_s
    return drafts


def _block_draft(block: Block, published: datetime, raw: RawDocument, base: str | None) -> Draft:
    byline = block.node.css_first(BYLINE)
    updated = _updated_time(block)
    parts = [n for n in (block.heading, block.times[0], byline, updated) if n is not None]
    frame = {n.mem_id for n in parts} | _labels(parts, block.node) | _badges(block)
    return Draft(
        title=tidy(block.heading.text(deep=True)) if block.heading is not None else "",
        body=html_to_paragraphs(block.node, base_url=base, exclude=frame),
        published_at=published,
        updated_at=_attr_time(updated, raw) if updated is not None else None,
        author=author_name(byline.text(deep=True)) if byline is not None else None,
        url=f"{base.split('#')[0]}#{block.dom_id}" if base and block.dom_id else None,
        source_id=block.dom_id,
    )


LABEL_MAX_WORDS = 5


def _labels(parts: list[LexborNode], block: LexborNode) -> set[int]:
    """Wrappers of the post's frame whose only other text is a short label: "Mis à jour à <time>",
    "Aktualisiert am <time>", "Publié le <time>". The time is not body, and neither is its label."""
    texts = [tidy(n.text(deep=True)) for n in parts]
    out: set[int] = set()
    for part in parts:
        if part.tag in HEADING_TAGS:  # a wrapper of the heading holds the post's title
            continue
        node = part.parent
        if node is None or node.mem_id == block.mem_id or node.css_first(HEADINGS) is not None:
            continue
        rest = tidy(node.text(deep=True))
        for text in texts:
            if text:
                rest = rest.replace(text, " ")
        if len(rest.split()) <= LABEL_MAX_WORDS and not any(ch in rest for ch in ".!?"):
            out.add(node.mem_id)
    return out


def _badges(block: Block) -> set[int]:
    """Short labels above the post's heading ("Key event", "Pinned", "L'essentiel", "Eilmeldung"):
    the page's marks on the post, not its prose."""
    out: set[int] = set()
    if block.heading is None:
        return set()
    for child in block.node.iter():
        if child.mem_id == block.heading.mem_id or child.css_first(HEADINGS) is not None:
            break
        text = tidy(child.text(deep=True))
        if len(text.split()) <= LABEL_MAX_WORDS and not any(ch in text for ch in ".!?"):
            out.add(child.mem_id)
    return out


def _updated_time(block: Block) -> LexborNode | None:
    """A second <time> marked as the edit time (class or itemprop naming updated/modified)."""
    for node in block.times[1:]:
        marks = " ".join((node.attributes.get(a) or "") for a in ("class", "itemprop")).lower()
        if "updated" in marks or "modified" in marks:
            return node
    return None


def _attr_time(node: LexborNode, raw: RawDocument) -> datetime | None:
    value = node.attributes.get("datetime")
    if not value:
        return None
    try:
        return to_utc(value, stamps.zone(raw.options.tz), what="datetime attribute")
    except InputRejected:
        return None


# A page that says it was last changed more than this before the fetch is an archive (or a late
# replay): its time-only stamps are dated from the page's own date, not from the fetch date.
ARCHIVED_AFTER = timedelta(days=1)
PAGE_DATE_KEYS = ("dateModified", "datePublished", "coverageEndTime", "coverageStartTime")
PAGE_DATE_METAS = ('meta[property="article:modified_time"]', 'meta[property="article:published_time"]',
                   'meta[property="og:updated_time"]', 'meta[itemprop="dateModified"]', 'meta[itemprop="datePublished"]')


def _page_moment(tree: LexborHTMLParser, posting: dict | None, blocks: list[Block], raw: RawDocument) -> datetime | None:
    """The latest moment the page states about itself: the LiveBlogPosting's ``dateModified``,
    ``datePublished``, ``coverageEndTime``, ``coverageStartTime``; ``article:modified_time`` and
    ``article:published_time`` metas; a ``<time datetime>`` outside the post blocks (the header's
    "Updated 13 December 2025 22:10"). Unreadable values are ignored. None when it states none."""
    values: list[object] = [posting.get(key) for key in PAGE_DATE_KEYS] if posting else []
    values += [_meta(tree, selector) for selector in PAGE_DATE_METAS]
    inside = {b.node.mem_id for b in blocks}
    for node in tree.body.css("time[datetime]"):
        parent, outside = node.parent, True
        while parent is not None and outside:
            outside, parent = parent.mem_id not in inside, parent.parent
        if outside:
            values.append(node.attributes.get("datetime"))
    tz = stamps.zone(raw.options.tz)
    moments = []
    for value in values:
        if isinstance(value, str) and value.strip():
            try:
                moments.append(to_utc(value, tz, what="page date"))
            except InputRejected:
                continue
    return max(moments, default=None)


def _dating_now(raw: RawDocument, page_moment: datetime | None) -> datetime:
    """The "now" that time-only stamps are dated against when no post carries a date and no
    ``--date`` was given: the fetch, unless the page says it was last changed more than
    ``ARCHIVED_AFTER`` before it (an archived page read a year later). Then the page's moment,
    plus ``stamps.ROLLOVER_GAP`` (6 h): the newest post is the latest time at most 6 hours after
    it, so a ``dateModified`` left a little behind the newest post (23:50 on a page whose last post
    is 00:05) does not push that post back a whole day; a page edited more than 18 hours after its
    last post is the case this gets wrong (``--date`` then)."""
    if page_moment is None or raw.fetched_at - page_moment <= ARCHIVED_AFTER:
        return raw.fetched_at
    return min(raw.fetched_at, page_moment + stamps.ROLLOVER_GAP)


def _published_times(blocks: list[Block], raw: RawDocument,
                     page_moment: datetime | None = None) -> tuple[list[datetime | None], list[int]]:
    """Each block's first <time>: its datetime attribute, else its text as a live-blog stamp;
    and for each, how approximate it is (``Stamp.approx_s``: a relative stamp's unit, else 0).

    Text stamps ("14:05") take their dates the way the text parser's do, the page's own date
    standing in for the fetch date on an archived page (``_dating_now``); relative ones ("5
    minutes ago", "hier à 21h05") are counted from the fetch (``stamps.pin``).
    """
    times = [_attr_time(b.times[0], raw) for b in blocks]
    approx = [0] * len(blocks)
    tz = stamps.zone(raw.options.tz)
    pending = [(k, s) for k, b in enumerate(blocks)
               if times[k] is None and (s := stamps.parse_stamp_line(tidy(b.times[0].text(deep=True))))]
    pinned = stamps.pin([s for _, s in pending], now=raw.fetched_at, tz=tz)
    pending = [(k, s) for (k, _), s in zip(pending, pinned)]
    for k, s in pending:
        approx[k] = s.approx_s
    if pending:
        # resolved among the blocks whose datetime attribute dates them, as the text parser's
        # bare times are among full-dated stamps: a "21:05" between posts of 21 June 2025 is on
        # that day (rolling over midnight), not on the day the page happened to be fetched
        stamped = sorted(pending + [(k, _as_stamp(t, tz)) for k, t in enumerate(times) if t is not None])
        resolved = stamps.resolve(
            [s for _, s in stamped], tz=tz, reference_date=raw.options.date,
            newest_first=_newest_first([s for _, s in stamped]), fallback_now=_dating_now(raw, page_moment),
        )
        for (k, _), when in zip(stamped, resolved):
            if times[k] is None:
                times[k] = when
    return times, approx


def _as_stamp(moment: datetime, tz) -> stamps.Stamp:
    """A dated moment as the stamp a reader of the page would see, in the blog's zone."""
    local = moment.astimezone(tz)
    return stamps.Stamp(hour=local.hour, minute=local.minute, day=local.date())


def _newest_first(found: list[stamps.Stamp]) -> bool:
    minutes = [s.hour * 60 + s.minute for s in found]
    return sum(a > b for a, b in zip(minutes, minutes[1:])) >= sum(a < b for a, b in zip(minutes, minutes[1:]))


# --------------------------------------------------------------------------- reconciliation


def _reconcile(visible: list[Draft], ld: list[Draft], raw: RawDocument, warnings: list[str]) -> list[Draft]:
    """The visible blocks when there are any, completed from matching JSON-LD updates.

    When the two agree, JSON-LD fills what the markup lacks (author, edit time, id);
    when they disagree only ids and URLs are taken from it, and a warning says why.
    """
    if not visible or not ld:
        return visible or ld
    pairs = _pairs(visible, ld)
    issues = _disagreements(visible, ld, pairs)
    if issues:
        summary = ", ".join(f"{count} {kind if count != 1 else _ONE[kind]}" for kind, count in issues.items())
        warnings.append(
            f"JSON-LD liveBlogUpdate disagrees with the visible post blocks ({summary}); "
            "used the visible blocks"
        )
        log.warning("jsonld_disagrees", blog_id=raw.blog_id, document_id=raw.document_id,
                    used="visible_blocks", **{k.replace(" ", "_"): v for k, v in issues.items()})
    # Trusted pair by pair: one stale update does not discredit the others. A pair whose title and
    # time agree is the same post whatever its bodies say (JSON-LD cached behind an edit, or cut
    # short): its author and edit time are still the post's.
    for v, l in pairs.items():
        issues_of_pair = _pair_issues(visible[v], ld[l])
        _complete(visible[v], ld[l], trust=not any(i in issues_of_pair for i in ("titles differ", "times differ")))
    return visible


def _pairs(visible: list[Draft], ld: list[Draft]) -> dict[int, int]:
    """Match by id (block id = JSON-LD URL fragment); by page order when counts match and ids don't."""
    by_id = {d.source_id: k for k, d in enumerate(ld) if d.source_id}
    pairs = {v: by_id[d.source_id] for v, d in enumerate(visible) if d.source_id in by_id}
    if not pairs and len(visible) == len(ld):
        pairs = {k: k for k in range(len(visible))}
    return pairs


def _disagreements(visible: list[Draft], ld: list[Draft], pairs: dict[int, int]) -> Counter[str]:
    issues: Counter[str] = Counter()
    for v, l in pairs.items():
        issues.update(_pair_issues(visible[v], ld[l]))
    # JSON-LD updates the page does not show; visible posts JSON-LD leaves out are not a
    # disagreement (publishers list only the latest few updates there)
    unmatched = len(ld) - len(pairs)
    if unmatched:
        issues["posts unmatched"] += unmatched
    return issues


# The singular of each disagreement kind: "1 post unmatched", not "1 posts unmatched".
_ONE = {"posts unmatched": "post unmatched", "titles differ": "title differs", "times differ": "time differs",
        "bodies differ": "body differs", "bodies truncated": "body truncated"}


def _pair_issues(seen: Draft, told: Draft) -> list[str]:
    issues = []
    if normalized_title(seen.title) != normalized_title(told.title):
        issues.append("titles differ")
    if abs(seen.published_at - told.published_at) > SAME_TIME:
        issues.append("times differ")
    return issues + _body_issue(seen.body.text, told.body.text)


def _body_issue(seen: str, told: str) -> list[str]:
    a, b = fingerprint_text(seen), fingerprint_text(told).rstrip(".… ")
    if a == fingerprint_text(told) or not b:
        return []
    return ["bodies truncated"] if a.startswith(b) else ["bodies differ"]


def _complete(seen: Draft, told: Draft, *, trust: bool) -> None:
    seen.source_id = seen.source_id or told.source_id
    seen.url = told.url or seen.url
    if trust:
        seen.author = seen.author or told.author
        seen.updated_at = seen.updated_at or told.updated_at


# --------------------------------------------------------------------------- page metadata


def _blog_meta(raw: RawDocument, tree: LexborHTMLParser, posting: dict | None, base: str | None) -> BlogMeta:
    posting = posting or {}
    title = _first_text(posting.get("headline"), _meta(tree, 'meta[property="og:title"]'),
                        _node_text(tree, "h1"), _node_text(tree, "title"))
    standfirst = _first_text(_meta(tree, 'meta[name="description"]'),
                             _meta(tree, 'meta[property="og:description"]'), posting.get("description"))
    return BlogMeta(id=raw.blog_id, title=title, url=base, standfirst=standfirst)


def _canonical(tree: LexborHTMLParser, posting: dict | None) -> str | None:
    """<link rel=canonical>, else the LiveBlogPosting's url, else og:url."""
    link = tree.css_first('link[rel="canonical"]')
    ld_url = (posting or {}).get("url")
    for href in (link.attributes.get("href") if link is not None else None,
                 ld_url if isinstance(ld_url, str) else None, _meta(tree, 'meta[property="og:url"]')):
        if url := http_url(href, None):
            return url
    return None


def _meta(tree: LexborHTMLParser, selector: str) -> str | None:
    node = tree.css_first(selector)
    return node.attributes.get("content") if node is not None else None


def _node_text(tree: LexborHTMLParser, selector: str) -> str | None:
    node = tree.css_first(selector)
    return node.text(deep=True) if node is not None else None


def _first_text(*values: object) -> str | None:
    for value in values:
        if isinstance(value, str) and tidy(value):
            return tidy(value)
    return None
