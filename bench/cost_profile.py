"""Where a worker's time goes: ``python bench/cost_profile.py [new|repoll|latency] [--posts N] [--new-per-poll K] [--via pipeline|rq] [--cprofile N [--sort cumulative]] [--json]``.

``liveblog bench`` measures throughput through RQ; this script says what one document
costs and where. It runs the pipeline itself (``DocumentProcessor``, no RQ unless ``--via rq``) in this process
over the bench corpus - ``new``: pages of 20 all-new posts in a poller's order; ``repoll``:
each blog primed with one 40-post page (not counted), then polls adding 2 posts each (``--new-per-poll``);
``latency``: the bench's latency documents, 5 new posts of a new blog each, a fifth of them
processed first and not counted (the index then holds what it holds in the bench's run) - against
a private redis-server (``REDIS_URL`` instead, refused when it holds keys unless ``--flush``),
and prints per post:

* the worker's CPU time and redis-server's (``INFO cpu``) over the processed documents;
* wall milliseconds per pipeline stage (the same ``stage_ms`` the workers log);
* Redis commands by name, those the scripts ran included (``INFO commandstats``), and the
  share of redis-server's time inside script calls (``EVALSHA``);
* with ``--cprofile N``, the N functions with the most time of their own (``--sort cumulative``:
  with the most time under them).

``--via rq`` puts the profiled documents on the ingest queue first (not counted) and runs a
burst of the worker ``liveblog worker`` runs (``LiveblogWorker``, non-forking) in this process,
so the same numbers include RQ's dequeue and bookkeeping and the job's own log line and
histogram; side by side with the default ``--via pipeline`` they say what RQ adds per
document (docs/performance.md, round 14). Stage times come from the pipeline's outcomes, so
``--via rq`` leaves them out; its events digest is read back from the stream and equals the
pipeline's.

It also prints a digest of every event published: a change meant to leave the outputs alone
must leave it alone. For counts that do not move with the machine's load, run it under
callgrind with ``--toggle-collect=functools_reduce`` (the documents are processed inside one
``functools.reduce`` call, so only that is counted; docs/performance.md).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import hashlib
import io
import json
import os
import pstats
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402

from liveblog import benchmark as bm  # noqa: E402
from liveblog import connect as connecting  # noqa: E402
from liveblog.benchkit import corpus  # noqa: E402
from schemas.documents import RawDocument  # noqa: E402
from schemas.settings import Settings  # noqa: E402

BASE_TIME = datetime(2024, 10, 12, 20, 0, tzinfo=timezone.utc)


def documents(mode: str, posts: int, new_per_poll: int = 2) -> tuple[list[RawDocument], list[RawDocument]]:
    """(priming documents, profiled documents) of about ``posts`` posts; a re-polled page
    brings ``new_per_poll`` new posts each time (the bench's 2 of 40; 0: nothing new)."""
    prime: list[tuple[str, str]] = []
    if mode == "latency":
        pages = corpus.new_pages(max(2, posts // 5), 1, 5, seed=8, prefix="lat")  # as bench's Harness.latency
        prime, pages = pages[: len(pages) // 5], pages[len(pages) // 5 :]
    elif mode == "new":
        blogs = max(1, posts // 200)
        pages = corpus.round_robin(corpus.new_pages(blogs, max(1, posts // (20 * blogs)), 20, seed=1))
    else:
        blogs = 20
        prime, pages = corpus.repoll_pages(blogs, max(1, posts // (40 * blogs)), 40, new_per_poll, seed=2)
        pages = corpus.round_robin(pages)

    def raw(i: int, blog_id: str, text: str) -> RawDocument:
        return RawDocument.from_bytes(text.encode("utf-8"), blog_id=blog_id, source=f"bench://{blog_id}",
                                      fetched_at=BASE_TIME + timedelta(seconds=i))

    return ([raw(i, b, t) for i, (b, t) in enumerate(prime)],
            [raw(len(prime) + i, b, t) for i, (b, t) in enumerate(pages)])


def profile(mode: str, posts: int, url: str, cprofile: int = 0, new_per_poll: int = 2, *,
            via: str = "pipeline", sort: str = "tottime") -> dict:
    from workers import enrichers
    from workers.pipeline import DocumentProcessor
    from workers.runtime import tune_gc

    conn = redis.Redis.from_url(url, **connecting.client_options(url))  # as a worker connects
    conn.flushdb()
    enrichers.warm_up()
    tune_gc()  # as the worker does after its warm-up
    settings = Settings.from_env({"REDIS_URL": url})
    processor = DocumentProcessor(conn, settings)
    prime, docs = documents(mode, posts, new_per_poll)
    for raw in prime:
        processor.process(raw)
    digest, stages = hashlib.sha256(), {}
    items: list = docs
    if via == "rq":
        step, finish = _through_rq(conn, settings, docs, digest)
        items, stages = [None], None  # one step: the whole burst
    else:
        def step(done: int, raw: RawDocument) -> int:
            outcome = processor.process(raw)
            for event in outcome.events:
                digest.update(event.encode("utf-8"))
            for stage, ms in outcome.stage_ms.items():
                stages[stage] = stages.get(stage, 0.0) + ms
            return done + outcome.posts

        def finish(n: int) -> int:
            return n

    conn.config_resetstat()
    redis_cpu_before = bm._redis_cpu_s(conn)

    profiler = cProfile.Profile() if cprofile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    n = functools.reduce(step, items, 0)  # one C call around the work: callgrind's toggle (docstring)
    if profiler:
        profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    n = finish(n)
    redis_cpu = bm._redis_cpu_s(conn) - redis_cpu_before
    commands = conn.info("commandstats")
    conn.close()
    per = {name.removeprefix("cmdstat_"): stat for name, stat in commands.items()
           if not name.startswith(("cmdstat_info", "cmdstat_config"))}  # this script's own
    script_us = sum(per.get(name, {}).get("usec", 0) for name in ("evalsha", "eval"))
    # a command a script runs counts on its own and inside the script's time; the only ones
    # sent outside a script are the done markers' EXISTS, one per document (counted as inside)
    inside_us = sum(stat["usec"] for name, stat in per.items() if name not in ("evalsha", "eval"))
    out = {
        "mode": mode, "via": via, "documents": len(docs), "posts": n,
        **({"new_per_poll": new_per_poll} if mode == "repoll" else {}),
        "posts_per_s_one_process": round(n / wall, 1),
        "worker_cpu_ms_per_post": round(cpu * 1000 / n, 3),
        "worker_cpu_ms_per_document": round(cpu * 1000 / len(docs), 3),
        "redis_cpu_ms_per_post": round(redis_cpu * 1000 / n, 3),
        **({"stage_ms_per_post": {k: round(v / n, 3) for k, v in sorted(stages.items(), key=lambda kv: -kv[1])}}
           if stages is not None else {}),
        "redis_commands_per_post": {k: round(s["calls"] / n, 2)
                                    for k, s in sorted(per.items(), key=lambda kv: -kv[1]["calls"])},
        "redis_script_overhead_share": round(1 - inside_us / script_us, 3) if script_us else 0.0,
        "events_digest": digest.hexdigest()[:16],
    }
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(sort).print_stats(cprofile)
        out["cprofile"] = text.getvalue()
    return out


def _through_rq(conn: redis.Redis, settings: Settings, docs: list[RawDocument], digest):
    """``docs`` on the ingest queue, and a step that runs one burst of liveblog's worker over them
    in this process (its log lines rendered as a worker's, to nowhere). ``finish`` hashes the
    events the burst published, from the stream, and returns the posts it processed."""
    from liveblog import cli, logs
    from producers.enqueue import submit
    from schemas.keys import Keys

    keys = Keys(settings.key_prefix)
    for raw in docs:
        submit(conn, raw, settings)
    last = conn.xrevrange(keys.events, count=1)
    after = last[0][0] if last else b"0-0"
    seen_before = int(conn.hget(keys.stats, "posts_seen") or 0)
    logs.configure("json", "INFO")  # as `liveblog worker` logs, rendered all the same

    def step(_done: int, _item: None) -> int:
        with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):
            cli._work(conn, settings, burst=True)  # what `liveblog worker --burst` runs
        return 0

    def finish(_n: int) -> int:
        for _id, fields in conn.xrange(keys.events, min=f"({after.decode()}"):
            digest.update(fields[b"event"])
        return int(conn.hget(keys.stats, "posts_seen") or 0) - seen_before

    return step, finish


def render(r: dict) -> str:
    lines = [
        f"{r['mode']}: {r['posts']} posts in {r['documents']} documents"
        + (f" ({r['new_per_poll']} new per 40-post poll)" if "new_per_poll" in r else "")
        + f", {r['posts_per_s_one_process']} posts/s in one process"
        + (" through RQ (LiveblogWorker)" if r["via"] == "rq" else " (no RQ)"),
        f"CPU per post: worker {r['worker_cpu_ms_per_post']} ms ({r['worker_cpu_ms_per_document']} ms per document), "
        f"redis-server {r['redis_cpu_ms_per_post']} ms",
        *(["stage wall ms per post: " + ", ".join(f"{k} {v}" for k, v in r["stage_ms_per_post"].items())]
          if "stage_ms_per_post" in r else []),
        f"Redis commands per post ({sum(r['redis_commands_per_post'].values()):.1f}): "
        + ", ".join(f"{k} {v}" for k, v in list(r["redis_commands_per_post"].items())[:10]),
        f"share of the scripts' time outside their commands (Lua, arguments): {r['redis_script_overhead_share']:.0%}",
        f"events digest {r['events_digest']}",
    ]
    if "cprofile" in r:
        lines.append(r["cprofile"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", choices=("new", "repoll", "latency"), default="new")
    parser.add_argument("--posts", type=int, default=None,
                        help="about this many posts (new 6000, repoll 24000, latency 2000 of which a fifth primes)")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N", help="also list the N costliest functions")
    parser.add_argument("--new-per-poll", type=int, default=2, metavar="K",
                        help="repoll: new posts per 40-post poll (default 2; 0 = nothing new, duplicates only)")
    parser.add_argument("--via", choices=("pipeline", "rq"), default="pipeline",
                        help="pipeline: the DocumentProcessor alone (default); rq: the documents queued and "
                             "run by liveblog's worker in this process")
    parser.add_argument("--sort", choices=("tottime", "cumulative"), default="tottime",
                        help="--cprofile's order: time of their own (default) or time under them")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--flush", action="store_true", help="allow flushing a REDIS_URL database that holds keys")
    args = parser.parse_args(argv)
    posts = args.posts or {"new": 6000, "repoll": 24000, "latency": 2000}[args.mode]
    url = os.environ.get("REDIS_URL")
    server = None
    try:
        if url and not args.flush:
            bm._refuse_if_holding_data(url)
        if not url:
            server = bm.PrivateRedis().start()
            url = server.url
        result = profile(args.mode, posts, url, args.cprofile, args.new_per_poll, via=args.via, sort=args.sort)
    except bm.NotEmpty as exc:
        print(f"profile: {exc}", file=sys.stderr)
        return 2
    finally:
        if server:
            server.stop()
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
