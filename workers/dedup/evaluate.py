"""`liveblog eval dedup [--json]`: precision and recall of repeat detection and story
grouping on the labelled corpus, through the real pipeline and commit script.

Runs on an in-process Redis (fakeredis with Lua), so it needs no server and leaves
nothing behind. Repeat detection is scored on (post, repeated post) pairs; story
grouping on all pairs of posts put in the same story. Posts go through the production
enrichers, as dedup features use their entity ids and amounts.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from datetime import datetime

from schemas.settings import Settings
from workers.dedup.corpus import Corpus, load, polls


def run(corpus: Corpus, settings: Settings | None = None, conn=None) -> list[dict]:
    """All events the pipeline publishes for the corpus's polls, in stream order.

    ``conn`` defaults to a fresh in-process Redis; tests pass their private server.
    """
    from workers.pipeline import DefaultEnricher, DocumentProcessor

    if conn is None:
        import fakeredis

        conn = fakeredis.FakeRedis()
    processor = DocumentProcessor(conn, settings or Settings(), DefaultEnricher())
    for document in polls(corpus):
        processor.process(document)
    return [json.loads(fields[b"event"]) for _, fields in conn.xrange(processor.committer.keys.events)]


def _pr(predicted: set, gold: set) -> dict:
    hit = len(predicted & gold)
    return {
        "precision": round(hit / len(predicted), 4) if predicted else 1.0,
        "recall": round(hit / len(gold), 4) if gold else 1.0,
        "predicted": len(predicted),
        "gold": len(gold),
        "correct": hit,
    }


def score(corpus: Corpus, events: list[dict]) -> dict:
    """Match created events to corpus posts by (blog, title, time) and score both tasks."""
    by_label = {(p.blog, p.title, p.time): p for p in corpus.posts}
    post_of: dict[str, str] = {}  # event post id -> corpus id
    created = [e for e in events if e["type"] == "liveblog.post.created"]
    for e in created:
        d = e["data"]
        at = datetime.fromisoformat(d["post"]["published_at"].replace("Z", "+00:00"))
        post_of[d["post"]["id"]] = by_label[(d["blog"]["id"], d["post"]["title"], at)].id
    gold = {p.id: p for p in corpus.posts}
    predicted_repeats = {
        (post_of[e["data"]["post"]["id"]], post_of.get(e["data"]["repeat_of"], "?"))
        for e in created if e["data"]["repeat_of"]
    }
    gold_repeats = {(p.id, p.repeat_of) for p in corpus.posts if p.repeat_of}
    story_of = {post_of[e["data"]["post"]["id"]]: e["data"]["story_id"] for e in created}
    ids = sorted(story_of)
    pairs = list(itertools.combinations(ids, 2))
    predicted_story = {(a, b) for a, b in pairs if story_of[a] == story_of[b]}
    gold_story = {(a, b) for a, b in pairs if gold[a].story == gold[b].story}
    types = [e["type"].rsplit(".", 1)[1] for e in events]
    return {
        "posts": len(corpus.posts),
        "blogs": len(corpus.blogs),
        "events": {t: types.count(t) for t in ("created", "updated", "retracted")},
        "repeat": _pr(predicted_repeats, gold_repeats),
        "story": _pr(predicted_story, gold_story),
    }


def render(result: dict) -> str:
    lines = [f"corpus     {result['posts']} posts in {result['blogs']} blogs; events {result['events']}"]
    for task in ("repeat", "story"):
        r = result[task]
        lines.append(f"{task:<10} precision {r['precision']:.3f}  recall {r['recall']:.3f}"
                     f"  ({r['correct']} correct of {r['predicted']} predicted, {r['gold']} gold pairs)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="liveblog eval dedup", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the numbers as one JSON object")
    args = parser.parse_args(argv)
    corpus = load()
    result = score(corpus, run(corpus, Settings.from_env()))
    print(json.dumps(result, sort_keys=True) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
