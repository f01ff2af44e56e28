"""`liveblog`: parse, run, produce, worker, stats; tail, subscribe, dispatch, feed, schema live in their own modules.

Exit codes: 0 ok, 2 usage error, 3 Redis unreachable, 4 input rejected.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis
import structlog
from rq.serializers import JSONSerializer

from liveblog import args as args_mod
from liveblog import connect as connecting
from liveblog import bench_cli, deadletter_cli, dispatch, feeds, logs, ops_cli, producer_cli, schema_cli, subscribe_cli, tail_cli
from liveblog import metrics as metrics_mod
from liveblog import stats as stats_mod
from producers.enqueue import ingest_queue, submit
from producers.files import read_sources
from producers.ledger import Ledger, audit
from schemas.documents import ParseOptions
from schemas.errors import DocumentTooLarge, InputRejected, LiveblogError, RedisUnavailable, UsageError
from schemas.keys import Keys
from schemas.settings import Settings

log = structlog.get_logger("liveblog.cli")

# What `liveblog --help` says first: for someone who has not read the code (the module
# docstring above is for those who have).
DESCRIPTION = (
    "Turn news live blogs - pages of timestamped posts that are polled again and again, edited and "
    "re-posted - into a clean stream of CloudEvents on Redis: one event per post revision (created, "
    "updated, retracted), repeats of earlier stories recognised, each post enriched with people, "
    "places, quotes, numbers and topics. Without REDIS_URL, `liveblog run FILE` works on an embedded "
    "Redis and prints the events; with it, producers (produce, poll, watch, push) queue pages, "
    "`liveblog worker` processes them, and tail, feed, subscribe, web and stats read the result. "
    "`liveblog COMMAND --help` describes each command."
)








def _parse_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="file path, or - for stdin")
    parser.add_argument("--format", default="auto", choices=["auto", "text", "html", "rss", "json"])
    parser.add_argument("--tz", type=args_mod.time_zone, default="UTC", help="the blog's IANA time zone (default UTC)")
    parser.add_argument("--date", type=args_mod.iso_date, help="date of the oldest post when the page has no full date")
    parser.add_argument("--blog-id", help="blog id (default: from the file name)")
    parser.add_argument("--json-mapping", type=args_mod.json_mapping, help="JSON file mapping a newsroom API's fields (docs/formats.md)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liveblog", description=DESCRIPTION,
        epilog="exit codes: 0 ok, 2 usage error, 3 Redis unreachable, 4 input rejected. Settings: REDIS_URL and "
               "LIVEBLOG_<SETTING> in the environment (e.g. LIVEBLOG_JOB_TIMEOUT_S=60).",
    )
    parser.add_argument("--log-format", choices=["auto", "console", "json"], default="auto")
    parser.add_argument("--log-level", type=args_mod.log_level, default=None, metavar="LEVEL",
                        help="DEBUG, INFO, WARNING, ERROR or CRITICAL (default: INFO for worker, WARNING otherwise)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("parse", help="parse only, no Redis: one JSON post per line")
    _parse_options(p)

    p = sub.add_parser("run", help="produce, process and print events (embedded Redis without REDIS_URL)")
    _parse_options(p)
    p.add_argument("--pretty", action="store_true", help="indent each event")

    p = sub.add_parser("produce", help="enqueue documents to REDIS_URL")
    _parse_options(p)
    p.add_argument("--ledger", type=Path, help="append each accepted document id here (fsynced), for stats --ledger")

    p = sub.add_parser("worker", help="run RQ workers on the ingest queue")
    p.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    p.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--fork", action="store_true", help="fork a work horse per job (rq.Worker) instead of SimpleWorker")
    p.add_argument("--name", help="worker name (default: host and pid)")
    p.add_argument("--supervisor-pid", type=int, help=argparse.SUPPRESS)  # set by --processes N for its children

    p = sub.add_parser("stats", help="counters that reconcile, queue depths, workers")
    p.add_argument("--json", action="store_true")
    p.add_argument("--ledger", type=Path, help="a producer's ledger: report accepted documents Redis lost")

    p = sub.add_parser("eval", help="evaluate a stage on the project's labelled corpus")
    p.add_argument("stage", choices=sorted(EVALUATORS), help="which stage to evaluate")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options of the evaluator, e.g. --json")

    producer_cli.add_commands(sub)
    ops_cli.add_commands(sub)
    deadletter_cli.add_commands(sub)
    tail_cli.add_commands(sub)
    subscribe_cli.add_commands(sub)
    dispatch.add_command(sub)
    feeds.add_command(sub)
    schema_cli.add_command(sub)
    bench_cli.add_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = args.log_level or ("INFO" if args.command == "worker" else "WARNING")
    logs.configure(args.log_format, level)
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"liveblog: {exc}", file=sys.stderr)
        return 2
    except RedisUnavailable as exc:
        print(f"liveblog: {exc}", file=sys.stderr)
        return 3
    except InputRejected as exc:
        print(f"liveblog: input rejected: {exc}", file=sys.stderr)
        return 4
    except LiveblogError as exc:
        print(f"liveblog: {exc}", file=sys.stderr)
        return exc.exit_code
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        print(f"liveblog: lost the connection to Redis: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def _options(args: argparse.Namespace) -> ParseOptions:
    return ParseOptions(format=args.format, tz=args.tz, date=args.date, json_mapping=args.json_mapping)


def cmd_parse(args: argparse.Namespace) -> int:
    from workers.parsers import parse

    rejected = 0
    for raw in read_sources(args.sources, options=_options(args), blog_id=args.blog_id):
        try:
            doc = parse(raw)
        except InputRejected as exc:
            print(f"liveblog: rejected {raw.source}: {exc}", file=sys.stderr)
            rejected += 1
            continue
        for warning in doc.warnings:  # what was skipped or ignored, and why: stdout stays posts only
            print(f"liveblog: {raw.source}: {warning}", file=sys.stderr)
        for post in doc.posts:
            sys.stdout.write(post.model_dump_json() + "\n")
    return 4 if rejected else 0


EMBEDDED_TIMEOUT_PER_MB_S = 250


def cmd_run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    started = time.perf_counter()
    if settings.redis_url:
        conn = connecting.connect(settings)
    else:
        print("liveblog: no REDIS_URL set: running on an embedded in-process Redis (nothing is kept)", file=sys.stderr)
        conn = connecting.embedded()
        # fakeredis runs the commit scripts ~20x slower than redis-server (a 1 MB, 2,000-post feed:
        # 122 s against 6 s): the job timeout is allowed that much more per MB
        settings = settings.model_copy(update={
            "job_timeout_per_mb_s": max(settings.job_timeout_per_mb_s, EMBEDDED_TIMEOUT_PER_MB_S)})
    keys = Keys(settings.key_prefix)
    before = stats_mod.collect(conn, settings)["counters"]
    last = conn.xrevrange(keys.events, count=1) if conn.exists(keys.events) else []
    after_id = last[0][0] if last else b"0-0"
    documents = refused = 0
    for raw in read_sources(args.sources, options=_options(args), blog_id=args.blog_id):
        documents += 1
        try:
            submit(conn, raw, settings)
        except DocumentTooLarge as exc:  # refused before it was accepted: nothing of it is in Redis
            refused += 1
            _print_refused(raw.source, exc)
    _work(conn, settings, burst=True)
    for _, fields in _stream_after(conn, keys.events, after_id):
        event = fields[b"event"].decode("utf-8")
        sys.stdout.write((json.dumps(json.loads(event), indent=2, ensure_ascii=False) if args.pretty else event) + "\n")
    now = stats_mod.collect(conn, settings)["counters"]
    delta = {k: now[k] - before.get(k, 0) for k in now}
    print(
        "liveblog: documents {d} (accepted {a}, resubmitted {r}{f}), posts parsed {p}, created {c}, updated {u}, "
        "duplicates {dup}, stale {s}, retracted {x}, dead-lettered {dl}, elapsed {e:.2f}s".format(
            d=documents, a=delta["documents_accepted"], r=delta["documents_resubmitted"], p=delta["posts_seen"],
            f=f", refused {refused}" if refused else "",
            c=delta["posts_created"], u=delta["posts_updated"], dup=delta["posts_duplicate"],
            s=delta["posts_stale"], x=delta["posts_retracted"], dl=delta["documents_dead_lettered"],
            e=time.perf_counter() - started,
        ),
        file=sys.stderr,
    )
    if delta["documents_dead_lettered"]:
        for _, entry in conn.xrevrange(keys.dead_letter, count=delta["documents_dead_lettered"]):
            print(
                f"liveblog: dead-lettered {entry[b'source'].decode()}: {entry[b'reason'].decode()}: expected "
                f"{entry[b'expected'].decode()}, found {entry[b'found'].decode()}",
                file=sys.stderr,
            )
        return 4
    return 4 if refused else 0


def _print_refused(source: str, exc: InputRejected) -> None:
    print(f"liveblog: refused {source}: {exc}", file=sys.stderr)


def _stream_after(conn: redis.Redis, key: str, after: bytes, batch: int = 1000):
    cursor = after
    while True:
        rows = conn.xrange(key, min=b"(" + cursor, count=batch)
        if not rows:
            return
        yield from rows
        cursor = rows[-1][0]


def cmd_produce(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    conn = connecting.connect(settings)
    accepted = repeated = refused = 0
    ledger = Ledger(args.ledger) if args.ledger else None
    for raw in read_sources(args.sources, options=_options(args), blog_id=args.blog_id):
        try:
            is_new = submit(conn, raw, settings)
        except DocumentTooLarge as exc:  # never accepted: not in the ledger either
            refused += 1
            _print_refused(raw.source, exc)
            continue
        if is_new:
            accepted += 1
            print(raw.document_id)
        else:
            repeated += 1
        if ledger:
            ledger.append([raw])
    print(f"liveblog: accepted {accepted}, already accepted {repeated}" + (f", refused {refused}" if refused else ""),
          file=sys.stderr)
    return 4 if refused else 0


def _work(conn: redis.Redis, settings: Settings, *, burst: bool, fork: bool = False, name: str | None = None,
          enricher=None) -> None:
    from workers import runtime
    from workers.worker import LiveblogForkingWorker, LiveblogWorker

    runtime.configure(settings, enricher)
    runtime.warm_up()
    runtime.tune_gc()
    worker_class = LiveblogForkingWorker if fork else LiveblogWorker
    worker = worker_class(
        [ingest_queue(conn, settings)],
        connection=conn,
        serializer=JSONSerializer,
        name=name,
        maintenance_interval=settings.maintenance_interval_s,
    )
    level = logging.getLevelName(logging.getLogger().level)
    worker.work(burst=burst, with_scheduler=not burst, logging_level=level)
    queue = ingest_queue(conn, settings)
    # A burst still owes its retries a run; another worker's scheduler may be the one that
    # moves them back, so go on while anything is scheduled or queued - unless it was asked
    # to stop (RQ keeps the request: each further work() would return at once, in a loop).
    while burst and not worker._stop_requested and (_release_scheduled(conn, settings) or queue.count):
        worker.work(burst=True, logging_level=level)


def _release_scheduled(conn: redis.Redis, settings: Settings) -> bool:
    """Wait for the earliest retry a job scheduled (RQ keeps retries with an interval in the
    scheduled registry, which only a scheduler moves back) and enqueue what is due.
    Returns False when nothing is scheduled."""
    from rq.scheduler import RQScheduler

    queue = ingest_queue(conn, settings)
    earliest = conn.zrange(queue.scheduled_job_registry.key, 0, 0, withscores=True)
    if not earliest:
        return False
    time.sleep(max(0.0, min(float(earliest[0][1]) - time.time(), 60.0)))
    scheduler = RQScheduler([queue], connection=conn, serializer=JSONSerializer)
    if scheduler.acquire_locks():  # else another worker's scheduler is moving them
        try:
            scheduler.enqueue_scheduled_jobs()
        finally:
            scheduler.release_locks()
    return True


def cmd_worker(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.processes < 1:
        raise UsageError(f"--processes: expected at least 1, found {args.processes}")
    if args.supervisor_pid is not None:  # a child of `--processes N`: it ends with its supervisor
        from workers.worker import die_with_parent

        if not die_with_parent(args.supervisor_pid, "pool_worker"):
            log.warning("pool_worker_orphaned", supervisor_pid=args.supervisor_pid)
            return 0
    conn = connecting.connect(settings)
    if args.processes == 1:
        _work(conn, settings, burst=args.burst, fork=args.fork, name=args.name)
        return 0
    return _supervise(args)


# A dead child of `worker --processes N` is started again after RESTART_FIRST_S, doubling for
# each further death of a child that lived less than STABLE_AFTER_S (a crash loop), up to
# RESTART_MAX_S; one that lived longer starts the count again.
RESTART_FIRST_S = 1.0
RESTART_MAX_S = 60.0
STABLE_AFTER_S = 30.0
_POLL_S = 0.2


def restart_delay(quick_deaths: int) -> float:
    """Seconds before a dead child is started again, after ``quick_deaths`` deaths in a row
    each within STABLE_AFTER_S of its start (this one included: at least 1)."""
    return min(RESTART_MAX_S, RESTART_FIRST_S * 2 ** max(0, quick_deaths - 1))


def _how_it_ended(code: int) -> dict:
    if code < 0:
        try:
            return {"signal": signal.Signals(-code).name}
        except ValueError:
            return {"signal": -code}
    return {"exit_code": code}


class _Slot:
    """One place in the pool: the child filling it, how often it was restarted."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self.generation = 0
        self.quick_deaths = 0
        self.restart_at: float | None = None
        self.code = 0
        self.finished = False


def _supervise(args: argparse.Namespace) -> int:
    """N worker processes, kept N: a child that dies (OOM-killed, SIGKILL, a crash) is started
    again, with a backoff, and each restart is logged (``worker_restarting``). SIGTERM/SIGINT
    are passed on and each child finishes its current job; nothing is restarted after that.
    Each child asks Linux for a SIGTERM when the supervisor dies (``--supervisor-pid``), so a
    SIGKILLed supervisor leaves no orphans: they finish their job and exit.

    With --burst a child that exits by itself (the queue is empty, or with an error) stays
    down; one killed by a signal is started again, its job being left to finish."""
    supervisor = os.getpid()
    base = [sys.executable, "-m", "liveblog.cli", "--log-format", args.log_format,
            *(["--log-level", args.log_level] if args.log_level else []), "worker", "--supervisor-pid", str(supervisor)]
    if args.burst:
        base.append("--burst")
    if args.fork:
        base.append("--fork")
    prefix = f"{args.name or socket.gethostname()}-{supervisor}"
    slots = [_Slot(i) for i in range(args.processes)]
    stopping: list[int] = []

    def start(slot: _Slot) -> None:
        # a new name each time: RQ refuses a name whose dead worker's key has not expired yet
        name = f"{prefix}-{slot.index}" + (f".{slot.generation}" if slot.generation else "")
        slot.proc = subprocess.Popen(base + ["--name", name])
        slot.started, slot.restart_at = time.monotonic(), None

    def forward(signum: int, _frame: object) -> None:
        stopping.append(signum)
        for slot in slots:
            if slot.proc is not None and slot.proc.poll() is None:
                slot.proc.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for slot in slots:
        start(slot)
    while not all(slot.finished for slot in slots):
        time.sleep(_POLL_S)
        now = time.monotonic()
        for slot in slots:
            if slot.finished:
                continue
            if slot.proc is None:  # waiting out its backoff
                if stopping:
                    slot.finished = True
                elif now >= slot.restart_at:
                    slot.generation += 1
                    start(slot)
                continue
            code = slot.proc.poll()
            if code is None:
                continue
            slot.code, pid, slot.proc = code, slot.proc.pid, None
            if stopping or (args.burst and code >= 0):
                slot.finished = True
                continue
            slot.quick_deaths = slot.quick_deaths + 1 if now - slot.started < STABLE_AFTER_S else 1
            delay = restart_delay(slot.quick_deaths)
            slot.restart_at = now + delay
            log.warning("worker_restarting", slot=slot.index, pid=pid, **_how_it_ended(code),
                        ran_s=round(now - slot.started, 1), delay_s=delay, restarts=slot.generation + 1)
    codes = [slot.code for slot in slots]
    return max(codes) if any(codes) else 0


def cmd_stats(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    conn = connecting.connect(settings)
    result = metrics_mod.snapshot(conn, settings)  # the counters plus job durations, alerts, group lag
    if args.ledger:
        found = audit(conn, Ledger(args.ledger), Keys(settings.key_prefix),
                      on_torn=lambda warning: print(f"liveblog: {warning}", file=sys.stderr))
        result["ledger"] = {"documents": found.documents, "missing": found.missing, "ok": found.ok}
        result["reconciled"]["ok"] = result["reconciled"]["ok"] and found.ok
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(stats_mod.render(result) + "\n" + metrics_mod.render(result))
        if args.ledger:
            ledger = result["ledger"]
            print(f"ledger     {ledger['documents']} accepted by the producer, {len(ledger['missing'])} unknown to Redis"
                  + ("" if ledger["ok"] else " [LOST: produce the same sources again to restore them]"))
    return 0 if result["reconciled"]["ok"] else 1


EVALUATORS = {
    "enrich": "workers.enrichers.evaluate",
    "dedup": "workers.dedup.evaluate",
}


def cmd_eval(args: argparse.Namespace) -> int:
    import importlib

    return importlib.import_module(EVALUATORS[args.stage]).main(args.rest)


COMMANDS = {
    "parse": cmd_parse,
    "run": cmd_run,
    "produce": cmd_produce,
    "worker": cmd_worker,
    "stats": cmd_stats,
    "eval": cmd_eval,
    "bench": bench_cli.cmd_bench,
}
COMMANDS.update(producer_cli.COMMANDS)
COMMANDS.update(ops_cli.COMMANDS)
COMMANDS.update(deadletter_cli.COMMANDS)
COMMANDS.update(tail_cli.COMMANDS)
COMMANDS.update(subscribe_cli.COMMANDS)
COMMANDS.update({"dispatch": dispatch.cmd_dispatch, "feed": feeds.cmd_feed, "schema": schema_cli.cmd_schema})

if __name__ == "__main__":
    sys.exit(main())
