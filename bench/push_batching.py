"""Pushed posts, one document each vs batched: ``python bench/push_batching.py [--posts N] [--json]``.

A source that pushes posts one at a time (producers/batch.py) either submits each post as
its own document - one RQ job per post, the naive design's job count - or lets
``PostBatcher`` cut them into documents of ``--batch`` posts. Both runs process the same
posts (the bench corpus, several blogs interleaved as a push source delivers them) with
``liveblog worker --burst --processes 2`` on a private redis-server, one after the other
in one run; throughput is posts per second over the processing window (first job start
to the last event), as in ``liveblog bench``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from liveblog import benchmark as bm  # noqa: E402
from liveblog.benchkit.corpus import Blog  # noqa: E402
from producers.batch import PostBatcher  # noqa: E402
from producers.enqueue import job_id_for, submit  # noqa: E402
from schemas.documents import PushedPost  # noqa: E402


def pushed_posts(total: int, blogs: int = 10, seed: int = 7) -> list[PushedPost]:
    """``total`` posts of ``blogs`` blogs, interleaved in publication order across blogs."""
    per_blog = -(-total // blogs)
    sources = [Blog(f"push-{b:03d}", seed=seed, posts=per_blog) for b in range(blogs)]
    out = []
    for i in range(per_blog):
        for blog in sources:
            p = blog.post(i)
            out.append(PushedPost(blog_id=blog.blog_id, id=f"{blog.blog_id}-{i}", title=p.title, body=p.body,
                                  author=p.author, published_at=p.stamp, received_at=p.stamp))
    return out[:total]


def run_once(h: bm.Harness, posts: list[PushedPost], batch: int, tag: str) -> dict:
    h.conn.flushdb()
    settings = h._settings()
    job_ids: list[str] = []

    def send(raw) -> bool:
        job_ids.append(job_id_for(raw.document_id))
        return submit(h.conn, raw, settings)

    batcher = PostBatcher(send, max_posts=batch, max_wait_s=3600)  # batches cut by size only: repeatable
    for post in posts:
        batcher.add(post)
    batcher.flush()
    launched, peak = h._run_liveblog_workers(2, tag)
    first, last, _ = bm._job_window(h.conn, job_ids)
    end = max(x for x in (last, bm._last_event_s(h.conn)) if x is not None)
    counters = bm._counters(h.conn)
    if counters.get("posts_created", 0) != len(posts) or counters.get("documents_dead_lettered", 0):
        raise RuntimeError(f"{tag}: expected {len(posts)} posts created, counters say {counters}")
    seconds = end - (first or launched)
    return {"batch": batch, "documents": len(job_ids), "posts": len(posts), "processing_s": round(seconds, 3),
            "posts_per_s": round(len(posts) / seconds, 1), "peak_rss_mb": peak}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=1200)
    parser.add_argument("--batch", type=int, default=20, help="posts per batched document (default 20)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    server = bm.PrivateRedis().start()
    workdir = Path(tempfile.mkdtemp(prefix="liveblog-push-bench-"))
    started = time.time()
    try:
        h = bm.Harness(server.url, bm.Plan.make(None, True), workdir)
        posts = pushed_posts(args.posts)
        single = run_once(h, posts, 1, "push-single")
        batched = run_once(h, posts, args.batch, "push-batched")
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    result = {"one_post_per_document": single, "batched": batched,
              "ratio": round(batched["posts_per_s"] / single["posts_per_s"], 2), "elapsed_s": round(time.time() - started, 1)}
    if args.json:
        print(json.dumps(result))
    else:
        for name, r in (("one post per document", single), (f"batches of {args.batch}", batched)):
            print(f"{name:24s} {r['documents']:5d} documents  {r['posts_per_s']:8.1f} posts/s  "
                  f"(peak RSS {r['peak_rss_mb']} MB)")
        print(f"batched vs one per document: {result['ratio']}x, same {args.posts} posts, one run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
