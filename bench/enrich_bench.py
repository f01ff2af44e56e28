"""Enrichment throughput per core on a mixed corpus (the gold set's texts, repeated), in CPU time.

Not a timed test: run it on an idle machine and copy the numbers into docs/enrichment.md.

    .venv/bin/python bench/enrich_bench.py [--rounds 20] [--profile-top 15]

Prints posts/s on one core, mean and p99 ms per post, the mean for ~1 KB English posts
(two gold posts joined, the speed target's unit), peak RSS, and a cProfile summary of
where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a standalone script run from anywhere

from workers.enrichers import DocumentContext, enrich, warm_up  # noqa: E402

GOLD = ROOT / "samples" / "gold" / "enrich.jsonl"


def corpus() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    posts = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    mixed = [(p["title"], p["body"]) for p in posts]
    english = [p for p in posts if p["lang"] == "en"]
    kilobyte = [(a["title"], f"{a['body']}\n\n{b['body']}") for a, b in zip(english[::2], english[1::2])]
    return mixed, kilobyte


def timings(posts: list[tuple[str, str]], rounds: int, context: DocumentContext) -> list[float]:
    """CPU milliseconds per post (process time, so other load on a shared machine does not count)."""
    samples = []
    for _ in range(rounds):
        for title, body in posts:
            t0 = time.process_time()
            enrich(title, body, context)
            samples.append((time.process_time() - t0) * 1000)
    return samples


def profile(posts: list[tuple[str, str]], context: DocumentContext, top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(5):
        for title, body in posts:
            enrich(title, body, context)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--profile-top", type=int, default=15)
    args = parser.parse_args()

    t0 = time.perf_counter()
    warm_up()
    mixed, kilobyte = corpus()
    context = DocumentContext.from_texts([f"{t}\n\n{b}" for t, b in mixed])
    enrich(*mixed[-1])  # loads the langid model too
    load_s = time.perf_counter() - t0

    samples = timings(mixed, args.rounds, context)
    kb_samples = timings(kilobyte, args.rounds, context)
    chars = sum(len(t) + len(b) + 2 for t, b in mixed) / len(mixed)
    kb_chars = sum(len(t) + len(b) + 2 for t, b in kilobyte) / len(kilobyte)
    p99 = statistics.quantiles(samples, n=100)[98]
    print(f"tables loaded in {load_s:.2f} s")
    print(f"mixed corpus: {len(mixed)} posts x {args.rounds} rounds, mean {chars:.0f} chars (CPU time)")
    print(f"  posts/s per core  {1000 / statistics.fmean(samples):,.0f}")
    print(f"  mean ms/post      {statistics.fmean(samples):.3f}")
    print(f"  p99 ms/post       {p99:.3f}")
    print(f"~1 KB English posts ({kb_chars:.0f} chars): mean {statistics.fmean(kb_samples):.3f} ms, "
          f"p99 {statistics.quantiles(kb_samples, n=100)[98]:.3f} ms")
    print(f"peak RSS            {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print()
    print(profile(mixed, context, args.profile_top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
