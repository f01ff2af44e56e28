"""candidates.choose decides, for all candidates at once, what link + best decide pair by pair."""

from __future__ import annotations

import random

import pytest

from workers.dedup.candidates import choose
from workers.dedup.stories import Features, best, dedup_features, followup_evidence, link, owners_of

HOUR_MS = 3600 * 1000
RULES = dict(repeat_min=0.4, story_min=0.2, story_window_ms=48 * HOUR_MS)


def pairwise(new: Features, cands, rare, rules):
    """The reference: every candidate through stories.link, then stories.best."""
    owners = owners_of(new, [(f, story) for _, f, story in cands])
    links = []
    for ref, old, story in cands:
        found = link(new, old, **rules, rare=rare, evidence=followup_evidence(new, old, story, owners, rare))
        if found:
            links.append((found, ref))
    return best(links)


def stored(f: Features) -> Features:
    """As the index gives a candidate back: no sentences, the stored phrase sample."""
    return Features(f.sig, f.anchors, f.names, f.published_ms)


def bench_posts(count: int) -> list[tuple[str, str]]:
    from liveblog.benchkit import corpus

    blog = corpus.Blog("cand", seed=5, posts=count)
    return [(blog.post(i).title, blog.post(i).body) for i in range(count)]


# the production thresholds, and strict ones under which the rarer rules (follow-up,
# shared names, same headline) are the ones that decide
STRICT = dict(repeat_min=0.97, story_min=0.95, story_window_ms=48 * HOUR_MS)


@pytest.mark.parametrize("rules", [RULES, STRICT], ids=["production", "strict"])
@pytest.mark.parametrize("seed", range(6))
def test_choose_matches_link_and_best_pair_by_pair(seed, rules):
    rng = random.Random(seed)
    texts = bench_posts(60)
    # a story told again (near-duplicate), and a follow-up restating a sentence
    texts.append(("Re-post: " + texts[3][0], "New intro line here. " + texts[3][1]))
    texts.append(("Later", texts[10][1].split(". ")[0] + ". Nothing else is known."))
    feats = [dedup_features(t, b, i * 4 * 60_000 + rng.randrange(60_000), "blog") for i, (t, b) in enumerate(texts)]
    stories = [f"st-{rng.randrange(8)}" for _ in feats]  # few stories: exclusivity matters
    decided: dict = {}
    for k in range(20, len(feats)):
        new = feats[k]
        cands = [(f"b|{i:03d}", stored(feats[i]), stories[i]) for i in rng.sample(range(k), min(k, 40))]
        every_name = sorted(new.names)
        rare = frozenset(rng.sample(every_name, len(every_name) // 2)) if seed % 2 else frozenset(every_name)
        expected = pairwise(new, cands, rare, rules)
        assert choose(new, cands, rare=rare, **rules) == expected
        decided[expected[0].rule if expected else None] = decided.get(expected[0].rule if expected else None, 0) + 1
    assert len(decided) >= 3, decided  # several rules decided: the comparison was not all one case


def test_choose_with_no_candidates_is_none():
    f = dedup_features("Title words here now", "Body of the post with some words in it.", 0, "b")
    assert choose(f, [], rare=frozenset(), **RULES) is None


# the bucket-kind checks scan the key in place; held to the plain form (a set bucket is a
# key holding ":lsh:", its name what follows the first one; any other key is a near-duplicate
# bucket, a string)
from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402

from workers.dedup import index as _index  # noqa: E402


@hsettings(max_examples=400, deadline=None)
@given(st.text(alphabet=list("lsh:nrxdup"), max_size=14))
def test_bucket_kind_checks_are_the_prefix_of_the_bucket_name(key):
    name = key.split(":lsh:", 1)[1] if ":lsh:" in key else None
    assert _index.is_near_bucket(key) == (name is None)
    assert _index.is_name_bucket(key) == (name is not None and name.startswith("n:"))
    assert _index.is_recent_bucket(key) == (name is not None and name.startswith("r:"))


@pytest.mark.parametrize("seed", range(4))
def test_a_pool_grown_one_candidate_at_a_time_decides_as_one_built_at_once(seed):
    """A document's new posts join the pool one by one after its candidates (their phrase rows
    go to a small second array until it outgrows an eighth of the first): the decision for
    every later post must be the one the pair-by-pair rules give over all of them."""
    from workers.dedup.candidates import Pool, choose_in

    rng = random.Random(seed)
    texts = bench_posts(70)
    texts.append(("Later", texts[12][1].split(". ")[0] + ". Nothing else is known."))
    feats = [dedup_features(t, b, i * 3 * 60_000, "blog") for i, (t, b) in enumerate(texts)]
    stories = [f"st-{rng.randrange(6)}" for _ in feats]
    pool = Pool()
    first = 40
    pool.add_all((f"b|{i:03d}", stored(feats[i]), stories[i]) for i in range(first))
    merged_once = kept_apart = False
    for k in range(first, len(feats)):
        new = feats[k]
        cands = [(f"b|{i:03d}", stored(feats[i]) if i < first else feats[i], stories[i]) for i in range(k)]
        rare = frozenset(sorted(new.names)[::2])
        found = choose_in(pool, new, range(k), rare=rare, **STRICT)
        assert found == pairwise(new, cands, rare, STRICT), k
        pool.add(f"b|{k:03d}", new, stories[k])
        pool.build()
        merged_once |= len(pool.recent_rows) == 0 and k > first
        kept_apart |= len(pool.recent_rows) > 0
    assert merged_once and kept_apart  # both paths ran: rows kept apart, then merged


@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 5)), max_size=60))
def test_one_story_is_true_where_a_phrase_has_a_single_story(rows):
    import numpy as np

    from workers.dedup.candidates import _one_story

    phrases = np.array([p for p, _ in rows], dtype=np.int64)
    stories = np.array([s for _, s in rows], dtype=np.int64)
    by_phrase: dict[int, set[int]] = {}
    for p, s in rows:
        by_phrase.setdefault(p, set()).add(s)
    assert _one_story(phrases, stories).tolist() == [len(by_phrase[p]) == 1 for p, _ in rows]


def test_bucket_keys_are_the_bucket_names_as_keys_of_the_prefix_asked_for():
    from schemas.keys import Keys

    f = dedup_features("Barrier holds on Mill Row", "Crews from Tessel worked through the night at Mill Row.", 0, "b")
    for prefix in ("liveblog", "other", "liveblog"):  # a second prefix does not keep the first one's keys
        keys = Keys(prefix)
        expected = [keys.lsh(n) if n.startswith(("n:", "r:")) else keys.near(n) for n in _index.bucket_names(f)]
        assert list(_index.bucket_keys(f, keys)) == expected
        assert any(_index.is_near_bucket(k) for k in expected) and not all(_index.is_near_bucket(k) for k in expected)
