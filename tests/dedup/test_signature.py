"""MinHash signatures: deterministic across processes, blind to re-renders, fast."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.dedup.pages import FLOOD, OTHER_FLOOD, repost_intro
from tests.helpers import ROOT
from workers.dedup import signature as sig


def test_signature_is_identical_in_another_process():
    here = sig.encode(sig.signature("Title", FLOOD))
    code = "import sys; from workers.dedup import signature as s; print(s.encode(s.signature('Title', sys.stdin.read())))"
    there = subprocess.run([sys.executable, "-c", code], input=FLOOD, capture_output=True, text=True, cwd=ROOT,
                           check=True).stdout.strip()
    assert here == there


def test_quotes_dashes_spacing_and_case_do_not_change_the_signature():
    rerendered = FLOOD.replace("'", "’").replace(" ", "  ").replace("Mill Row", "MILL ROW").replace(",", " -")
    assert sig.similarity(sig.signature("t", FLOOD), sig.signature("t", rerendered)) == 1.0


def test_rewritten_intro_stays_well_above_the_repeat_threshold():
    repost = repost_intro(FLOOD, "If you are just joining us, here is how the morning began in Keldby.")
    assert sig.similarity(sig.signature("Original", FLOOD), sig.signature("Recap headline", repost)) >= 0.5


def test_different_story_on_the_same_topic_is_far_below_it():
    assert sig.similarity(sig.signature("t", FLOOD), sig.signature("t", OTHER_FLOOD)) < 0.15


def test_identical_posts_share_every_band_and_different_ones_almost_none():
    a, b = sig.signature("t", FLOOD), sig.signature("t", OTHER_FLOOD)
    assert sig.band_keys(a) == sig.band_keys(sig.signature("t", FLOOD))
    assert len(sig.band_keys(a)) == sig.BANDS
    assert len(set(sig.band_keys(a)) & set(sig.band_keys(b))) <= 1


def test_encode_round_trips():
    s = sig.signature("t", FLOOD)
    assert (sig.decode(sig.encode(s)) == s).all()
    assert len(sig.encode(s)) == 4 * sig.NUM_PERM * 4 // 3


def test_title_only_post_is_compared_on_its_title():
    assert sig.similarity(sig.signature("Breaking: army to help evacuate care home", ""),
                          sig.signature("Breaking: army to help evacuate care home", "")) == 1.0
    assert sig.similarity(sig.signature("Breaking: army to help evacuate care home", ""),
                          sig.signature("Rail line reopens after the storm", "")) < 0.2


def test_a_one_kilobyte_post_signs_in_well_under_a_millisecond():
    text = (FLOOD + " " + OTHER_FLOOD)[:1024]
    sig.signature("warm", text)
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(200):
            sig.signature("t", text)
        runs.append((time.perf_counter() - start) / 200)
    assert min(runs) < 0.001, f"{min(runs) * 1000:.3f} ms per 1 KB post"


def test_the_words_of_the_sentences_are_the_words_of_the_body():
    """dedup_features tokenises a post once, by sentence; signature() must see the same words."""
    from hypothesis import given, settings, strategies as st

    from workers.dedup.signature import signature, signature_of_words, words
    from workers.dedup.stories import sentence_words

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet=st.sampled_from(list("ab Zé.!?…\n\"”’)( ,x1")), max_size=200))
    def check(body):
        assert [w for ws in sentence_words(body) for w in ws] == words(body)
        assert (signature_of_words(words("A title"), words(body)) == signature("A title", body)).all()

    check()
