"""`liveblog eval dedup`: the corpus is big enough and the numbers meet the targets."""

from __future__ import annotations

import json

import pytest

from schemas.settings import Settings
from workers.dedup import evaluate
from workers.dedup.corpus import load, polls

pytestmark = pytest.mark.redis


def test_corpus_has_the_variety_the_issue_asks_for():
    corpus = load()
    ids = [p.id for p in corpus.posts]
    assert len(corpus.posts) >= 200 and len(set(ids)) == len(ids)
    assert len({p.blog for p in corpus.posts}) >= 3
    kinds = {i.split("-")[-1][0] for i in ids if "-" in i}
    assert kinds == {"r", "s", "f"}  # re-posts, syndicated copies, follow-ups
    assert any(p.edit for p in corpus.posts) and any(p.retract_after_polls for p in corpus.posts)
    assert len(polls(corpus)) > len({(p.blog) for p in corpus.posts})


def test_evaluation_meets_the_targets_on_the_corpus(conn, settings):
    corpus = load()
    result = evaluate.score(corpus, evaluate.run(corpus, Settings(), conn=conn))
    assert result["repeat"]["precision"] >= 0.95 and result["repeat"]["recall"] >= 0.90
    assert result["story"]["precision"] >= 0.95
    assert result["story"]["recall"] >= 0.90
    assert result["events"]["retracted"] == sum(1 for p in corpus.posts if p.retract_after_polls)
    assert result["events"]["updated"] == sum(1 for p in corpus.posts if p.edit)


def test_main_prints_json_with_both_tasks(capsys, monkeypatch):
    monkeypatch.setattr(evaluate, "load", lambda: _small_corpus())
    assert evaluate.main(["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"repeat", "story", "posts", "events"}
    assert {"precision", "recall"} <= set(out["repeat"]) and {"precision", "recall"} <= set(out["story"])


def _small_corpus():
    corpus = load()
    keep = {p.id for p in corpus.posts if p.id.startswith(("fl01", "fl02"))}
    corpus.posts = [p for p in corpus.posts if p.id in keep]
    return corpus
