"""``liveblog bench [--json] [--posts N] [--quick]``: liveblog-stream against the naive baseline.

The harness is :mod:`liveblog.benchmark` (it needs the source checkout's ``bench/``
directory for the corpus and the baseline). Wire it into ``liveblog/cli.py`` with
``add_command(sub)`` in ``build_parser`` and ``"bench": cmd_bench`` in ``COMMANDS``.
"""

from __future__ import annotations

import argparse


def add_command(subparsers) -> argparse.ArgumentParser:
    from liveblog import benchmark

    p = subparsers.add_parser(
        "bench", help="throughput, scaling, latency and memory vs the naive one-job-per-post baseline",
        description="Runs against a private redis-server (or REDIS_URL, whose database is FLUSHED).",
    )
    benchmark.add_arguments(p)
    return p


def cmd_bench(args: argparse.Namespace) -> int:
    from liveblog import benchmark
    from schemas.errors import UsageError

    if args.posts is not None and args.posts < 1:
        raise UsageError(f"--posts: expected at least 1, found {args.posts}")
    return benchmark.handle(args)
