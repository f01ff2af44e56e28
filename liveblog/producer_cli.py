"""The producer commands of `liveblog`: poll, watch, ingest-server, backfill.

Kept apart from ``liveblog.cli`` so each source kind stays a small module;
``liveblog.cli`` registers them with ``add_commands`` and dispatches through
``COMMANDS``. Errors are raised as LiveblogError subclasses and turned into
exit codes by ``liveblog.cli.main``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit

from liveblog import args as args_mod
from liveblog import connect as connecting
from producers import poll as polling
from producers.backfill import BackfillResult, backfill
from producers.directory import WatchConfig, watch, watch_once
from producers.ingest_http import DEFAULT_MAX_BODY_BYTES, IngestConfig, make_server, token_from_env
from producers.ledger import Ledger
from schemas.documents import ParseOptions
from schemas.errors import UsageError
from schemas.settings import Settings

MIN_EVERY_S = 5.0  # politeness: nobody needs a live page more often than this
PRODUCE_BACKFILL = "produce --backfill"  # the COMMANDS entry `liveblog produce --backfill` runs


class _BackfillFlag(argparse.Action):
    """``liveblog produce --backfill``: the SOURCEs are archive directories, submitted by
    producers/backfill.py (the code of ``liveblog backfill DIR``) with its progress bar.

    ``liveblog.cli`` dispatches on ``args.command``; the flag points it at
    ``cmd_produce_backfill`` (argparse copies the sub-parser's namespace over the parent's
    after it has set the command name, so this wins).
    """

    def __init__(self, option_strings, dest, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=False, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, True)
        namespace.command = PRODUCE_BACKFILL


class _BackfillGlob(argparse.Action):
    """``produce --glob``: meaningful with --backfill only; routed to cmd_produce_backfill,
    which refuses it without the flag instead of ``produce`` ignoring it."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, values)
        namespace.command = PRODUCE_BACKFILL






def _document_options(parser: argparse.ArgumentParser, blog_help: str) -> None:
    parser.add_argument("--format", default="auto", choices=["auto", "text", "html", "rss", "json"])
    parser.add_argument("--tz", type=args_mod.time_zone, default="UTC", help="the blog's IANA time zone (default UTC)")
    parser.add_argument("--date", type=args_mod.iso_date, help="date of the oldest post when the page has no full date")
    parser.add_argument("--blog-id", help=blog_help)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the producer sub-commands on ``liveblog``'s sub-parsers."""
    p = sub.add_parser("poll", help="poll live pages on a schedule kept in Redis (conditional GET)")
    p.add_argument("urls", nargs="*", metavar="URL", help="http(s) URLs; none: resume every scheduled URL")
    p.add_argument("--every", default="30s", help="poll interval such as 30s, 5m, 1h (default 30s)")
    p.add_argument("--once", action="store_true", help="poll each URL once now and exit")
    p.add_argument("--allow-private", action="store_true",
                   help="allow private, loopback and link-local addresses (off by default: SSRF)")
    p.add_argument("--host-interval", default=f"{polling.DEFAULT_HOST_INTERVAL_S:g}s",
                   help="minimum time between two fetches from one host (default 5s)")
    p.add_argument("--status", action="store_true", help="print the schedule and each URL's state, then exit")
    p.add_argument("--forget", action="store_true", help="remove the given URLs from the schedule, then exit")
    _document_options(p, "blog id (default: from the URL's last path segment)")
    # None: not given. A URL scheduled before keeps its stored value of each option not given
    p.set_defaults(every=None, format=None, tz=None, host_interval=None)

    p = sub.add_parser("watch", help="submit new and changed files of a directory")
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    p.add_argument("--interval", default="2s", help="time between passes (default 2s)")
    p.add_argument("--settle", default="1s", help="skip files modified more recently than this (default 1s)")
    p.add_argument("--glob", default="*", help="only files matching this pattern, at any depth (default *)")
    _document_options(p, "blog id (default: from each file name)")

    p = sub.add_parser("ingest-server", help="HTTP endpoint: POST /documents with a bearer token")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES, help="largest accepted body")

    p = sub.add_parser("backfill", help="submit every file of an archive directory, with a progress bar")
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--glob", default="*", help="only files matching this pattern, at any depth (default *)")
    _document_options(p, "blog id (default: from each file name)")

    p = sub.add_parser("push", help="batch posts pushed one per line (NDJSON) into documents and enqueue them")
    p.add_argument("sources", nargs="*", default=["-"], metavar="SOURCE",
                   help="NDJSON files of pushed posts, or - for stdin (default)")
    p.add_argument("--max-posts", type=int, default=50, help="posts per document at most (default 50)")
    p.add_argument("--max-wait", default="250ms",
                   help="send a blog's batch once its oldest post has waited this long (default 250ms)")
    p.add_argument("--ledger", type=Path, help="append each accepted document id here (fsynced), for stats --ledger")

    produce = sub.choices.get("produce")  # registered by liveblog.cli before these
    if produce is not None:
        produce.add_argument("--backfill", action=_BackfillFlag,
                             help="the SOURCEs are archive directories: submit every file in sorted order, with a "
                                  "progress bar (the same as `liveblog backfill DIR`)")
        produce.add_argument("--glob", default="*", action=_BackfillGlob,
                             help="with --backfill: only files matching this pattern, at any depth (default *)")


def _options(args: argparse.Namespace) -> ParseOptions:
    return ParseOptions(format=args.format, tz=args.tz, date=args.date)


def _stop_event() -> threading.Event:
    """Set on SIGTERM or SIGINT, so a loop finishes its current step and exits cleanly."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _n, _f: stop.set())
    return stop


def _check_urls(urls: list[str]) -> None:
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"cannot poll {url!r}: expected an http:// or https:// URL")


def _emit(outcome: polling.PollOutcome) -> None:
    sys.stdout.write(json.dumps({k: v for k, v in asdict(outcome).items() if v is not None}) + "\n")
    sys.stdout.flush()


def _given_poll_options(args: argparse.Namespace) -> dict:
    """The poll options the command line named (PollConfig fields and the document options)."""
    given: dict = {}
    if args.every is not None:
        given["every_s"] = polling.parse_duration(args.every)
        if given["every_s"] < MIN_EVERY_S:
            raise UsageError(f"--every: expected at least {MIN_EVERY_S:g}s between polls, found {args.every!r}")
    if args.host_interval is not None:
        given["host_interval_s"] = polling.parse_duration(args.host_interval)
    if args.allow_private:
        given["allow_private"] = True
    if args.blog_id is not None:
        given["blog_id"] = args.blog_id
    given.update({k: getattr(args, k) for k in ("format", "tz", "date") if getattr(args, k) is not None})
    return given


def cmd_poll(args: argparse.Namespace) -> int:
    given = _given_poll_options(args)
    _check_urls(args.urls)
    settings = Settings.from_env()
    conn = connecting.connect(settings)
    if args.status:
        for row in polling.poll_status(conn, settings):
            print(json.dumps(row))
        return 0
    if args.forget:
        if not args.urls:
            raise UsageError("--forget: expected the URLs to remove")
        for url in args.urls:
            print(f"liveblog: {'forgot' if polling.forget(conn, settings, url) else 'was not scheduled:'} {url}",
                  file=sys.stderr)
        return 0
    config = polling.with_overrides(polling.PollConfig(), given)  # a URL not scheduled before
    if args.once:
        if not args.urls:
            raise UsageError("--once: expected at least one URL")
        outcomes = polling.run_once(conn, args.urls, settings, config, given=given)
        for outcome in outcomes:
            _emit(outcome)
        return 1 if any(o.status == "failed" for o in outcomes) else 0
    if not args.urls and not conn.zcard(polling.PollKeys(settings.key_prefix).due):
        raise UsageError("nothing to poll: give at least one URL (none is scheduled yet)")
    polling.run_poller(conn, args.urls, None, _stop_event(), settings=settings, config=config, on_outcome=_emit,
                       given=given)
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    if not directory.is_dir():
        raise UsageError(f"cannot watch {args.directory!r}: expected a directory")
    settings = Settings.from_env()
    conn = connecting.connect(settings)
    config = WatchConfig(options=_options(args), blog_id=args.blog_id, pattern=args.glob,
                         settle_s=polling.parse_duration(args.settle, allow_zero=True))

    def report(result) -> None:
        for refusal in result.refusals:
            print(f"liveblog: watch {directory}: refused {refusal}", file=sys.stderr)
        if result.submitted or result.failed or result.refused:
            print(f"liveblog: watch {directory}: submitted {result.submitted}, already accepted {result.already}, "
                  f"unreadable {result.failed}, still being written {result.settling}"
                  + (f", refused {result.refused}" if result.refused else ""), file=sys.stderr)
        for document_id in result.document_ids:
            print(document_id, flush=True)

    if args.once:
        result = watch_once(conn, directory, settings, config)
        report(result)
        return 1 if result.failed or result.refused else 0
    watch(conn, directory, settings, config, _stop_event(), interval_s=polling.parse_duration(args.interval),
          on_pass=report)
    return 0


def cmd_ingest_server(args: argparse.Namespace) -> int:
    config = IngestConfig(token=token_from_env(), max_body_bytes=args.max_bytes)
    settings = Settings.from_env()
    conn = connecting.connect(settings)
    try:
        server = make_server(conn, settings, config, host=args.host, port=args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc}") from exc
    stop = _stop_event()
    threading.Thread(target=lambda: (stop.wait(), server.shutdown()), daemon=True).start()
    print(f"liveblog: ingest server on http://{args.host}:{server.server_address[1]}/documents", file=sys.stderr)
    with server:
        server.serve_forever()
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    conn = connecting.connect(settings)
    result = backfill(conn, Path(args.directory), settings, options=_options(args), blog_id=args.blog_id,
                      pattern=args.glob)
    return _backfill_summary(result)


def cmd_produce_backfill(args: argparse.Namespace) -> int:
    """``liveblog produce --backfill DIR...``: each directory as ``liveblog backfill`` does it; like
    ``produce``, the accepted document ids on stdout and ``--ledger`` honoured."""
    if not args.backfill:
        raise UsageError("--glob: expected --backfill with it (plain produce reads the files it is given)")
    for source in args.sources:
        if source == "-" or not Path(source).is_dir():
            raise UsageError(f"--backfill: expected archive directories, found {source!r}")
    settings = Settings.from_env()
    conn = connecting.connect(settings)
    options = ParseOptions(format=args.format, tz=args.tz, date=args.date, json_mapping=args.json_mapping)
    ledger = Ledger(args.ledger) if args.ledger else None
    total = BackfillResult()
    for source in args.sources:
        result = backfill(conn, Path(source), settings, options=options, blog_id=args.blog_id, pattern=args.glob,
                          ledger=ledger)
        for document_id in result.document_ids:
            print(document_id, flush=True)
        total.add(result)
    return _backfill_summary(total)


MAX_PUSH_LINE_BYTES = 1024 * 1024


def cmd_push(args: argparse.Namespace) -> int:
    """Read pushed posts, one JSON object per line (schemas.documents.PushedPost), and submit
    them in batches (producers.batch). A line that is not a pushed post is reported on stderr
    with what was expected and skipped; the exit code is then 1."""
    from producers.batch import PostBatcher
    from producers.enqueue import submit
    from schemas.documents import PushedPost
    from schemas.errors import DecodeError, DocumentTooLarge

    if args.max_posts < 1:
        raise UsageError(f"--max-posts: expected at least 1, found {args.max_posts}")
    max_wait = polling.parse_duration(args.max_wait, allow_zero=True)
    settings = Settings.from_env()
    conn = connecting.connect(settings)
    ledger = Ledger(args.ledger) if args.ledger else None

    def send(raw) -> bool:
        try:
            accepted = submit(conn, raw, settings)
        except DocumentTooLarge as exc:  # counted by the batcher; never accepted, not in the ledger
            print(f"liveblog: refused {raw.source}: {exc}", file=sys.stderr)
            raise
        if accepted:
            print(raw.document_id, flush=True)
        if ledger:
            ledger.append([raw])
        return accepted

    batcher = PostBatcher(send, max_posts=args.max_posts, max_wait_s=max_wait)
    stop = _stop_event()
    rejected = lines = 0
    for where, line in _push_lines(args.sources, batcher, stop):
        if not line.strip():
            continue
        lines += 1
        try:
            if len(line) > MAX_PUSH_LINE_BYTES:
                raise DecodeError("line too long", expected=f"at most {MAX_PUSH_LINE_BYTES:,} bytes per post",
                                  found=f"{len(line):,} bytes")
            batcher.add(PushedPost.decode_line(line))
        except DecodeError as exc:
            rejected += 1
            print(f"liveblog: {where}: {exc}", file=sys.stderr)
        batcher.due()
    batcher.flush()
    c = batcher.counts
    print(f"liveblog: pushed {c.posts} posts in {c.documents} documents (accepted {c.accepted}, already accepted "
          f"{c.documents - c.accepted}); {c.superseded} superseded by a later version in the same batch; "
          f"{rejected} of {lines} lines rejected"
          + (f"; {c.refused} documents ({c.refused_posts} posts) refused as too large" if c.refused else ""),
          file=sys.stderr)
    return 1 if rejected or c.refused else 0


def _push_lines(sources: list[str], batcher, stop: threading.Event):
    """(``source:line``, bytes) for every line of every source. While a pipe is quiet, the
    batches that come due are sent (a live source may pause for minutes)."""
    import os
    import select

    for source in sources:
        handle = None
        if source == "-":
            chunks = _quiet_pipe_chunks(sys.stdin.fileno(), batcher, stop, os.read, select.select)
        else:
            try:
                handle = open(source, "rb")
            except OSError as exc:
                raise UsageError(f"cannot read {source}: {exc.strerror}") from exc
            chunks = iter(lambda: handle.read(65536), b"")
        try:
            for number, line in enumerate(_capped_lines(chunks, MAX_PUSH_LINE_BYTES), 1):
                yield f"{'stdin' if handle is None else source}:{number}", line
                if stop.is_set():
                    return
        finally:
            if handle is not None:
                handle.close()


def _quiet_pipe_chunks(fd: int, batcher, stop: threading.Event, read, select):
    """What arrives on ``fd``, sending the batches that come due while it is quiet."""
    while not stop.is_set():
        due = batcher.next_due_in()  # a signal does not end select (PEP 475): look at `stop` twice a second
        try:
            ready, _, _ = select([fd], [], [], 0.5 if due is None else min(due, 0.5))
        except InterruptedError:
            continue
        if not ready:
            batcher.due()
            continue
        chunk = read(fd, 65536)
        if not chunk:
            return
        yield chunk


def _capped_lines(chunks, limit: int):
    """The lines of a byte stream. A line longer than ``limit`` is never held whole: its first
    ``limit + 1`` bytes come out (and are refused as too long), the rest is skipped."""
    buffered, skipping = b"", False
    for chunk in chunks:
        buffered += chunk
        *complete, buffered = buffered.split(b"\n")
        for line in complete:
            if skipping:  # the end of an over-long line
                skipping = False
                continue
            yield line
        if len(buffered) > limit and not skipping:
            yield buffered[: limit + 1]
            skipping = True
        if skipping:
            buffered = b""
    if buffered and not skipping:
        yield buffered


def _backfill_summary(result: BackfillResult) -> int:
    for error in result.errors:
        print(f"liveblog: unreadable {error}", file=sys.stderr)
    for refusal in result.refusals:
        print(f"liveblog: refused {refusal}", file=sys.stderr)
    print(f"liveblog: backfill {result.files} files: accepted {result.accepted}, already accepted "
          f"{result.already}, unreadable {result.failed}" + (f", refused {result.refused}" if result.refused else ""),
          file=sys.stderr)
    return 1 if result.failed or result.refused else 0


COMMANDS = {
    "poll": cmd_poll,
    "watch": cmd_watch,
    "ingest-server": cmd_ingest_server,
    "backfill": cmd_backfill,
    "push": cmd_push,
    PRODUCE_BACKFILL: cmd_produce_backfill,
}
