"""Story rules: what links two posts, and what (topic words alone) never does."""

from __future__ import annotations

from tests.dedup.pages import FLOOD, OTHER_FLOOD, repost_intro
from workers.dedup.signature import signature
from workers.dedup.stories import Features, anchors, best, link, names

HOUR_MS = 3600 * 1000
RULES = dict(repeat_min=0.4, story_min=0.2, story_window_ms=48 * HOUR_MS)
QUOTE = "“I want to be very clear: if the river rises again, nobody goes back tonight,” said the chief."
BEFORE = ("Crews worked through the night on the barrier at the bottom of Mill Row, pumping water back into the "
          "channel while volunteers carried sandbags from the fire station to the houses nearest the bank.")
AFTER = ("Families queued at the rest centre in the leisure hall all morning for breakfast, dry clothes and news "
         "of when the police would let them back into their streets to collect medicines and pets.")


def features(title: str, body: str, hour: float = 0) -> Features:
    return Features(signature(title, body), anchors(title, body), names(title, body), int(hour * HOUR_MS))


def test_repost_with_new_intro_is_a_repeat():
    old = features("River Tessel bursts its banks", FLOOD)
    new = features("Recap: the Tessel overnight", repost_intro(FLOOD, "Catching up? Here is the morning."), hour=8)
    assert link(new, old, **RULES).kind == "repeat"


def test_shared_long_quote_links_a_story_but_is_not_a_repeat():
    old = features("Chief warns residents", f"{BEFORE} {QUOTE}")
    new = features("Residents told to wait", f"{AFTER} {QUOTE}", hour=5)
    found = link(new, old, **RULES)
    assert (found.kind, found.rule) == ("story", "shared-quote")


def test_quote_left_open_at_paragraph_end_is_still_an_anchor():
    closed = anchors("t", "“We insist the wall must be built before the next winter storms arrive,” she said.")
    left_open = anchors("t", "She said: “We insist the wall must be built before the next winter storms arrive.\n\nMore.")
    assert set(closed) & set(left_open)


def test_text_between_two_short_quotes_is_not_taken_for_a_quote():
    found = anchors("t", "A crisis is “unavoidable” if no deal is reached on missiles, said the official, “today”.")
    assert not [a for a in found if a.startswith("q:")]


def test_same_topic_different_event_is_not_linked():
    assert link(features("Flood at Keldby", FLOOD), features("Farm rescue", OTHER_FLOOD), **RULES) is None


def test_story_link_needs_the_time_window():
    old = features("Chief warns residents", f"{BEFORE} {QUOTE}")
    late = features("Residents told to wait", f"{AFTER} {QUOTE}", hour=72)
    assert link(late, old, **RULES) is None


def test_rare_names_link_only_when_enough_are_shared():
    old = features("a", "On Sunday Priya Lund and Tomas Berg met Anna Holt at the quarry in Thorn Gill.")
    new = features("b", "By evening the sandbag team led by Priya Lund, Tomas Berg and Anna Holt had left Thorn Gill.", hour=2)
    assert link(new, old, **RULES, rare=new.names).rule == "shared-names"
    assert link(new, old, **RULES, rare=frozenset(list(new.names)[:2])) is None


def test_sentence_initial_words_are_not_names():
    found = names("t", "Police said the road was shut. Residents left. Priya Lund stayed.")
    assert len(found) == 1  # only Priya Lund


def test_best_prefers_repeats_then_score_then_reference():
    from workers.dedup.stories import Link

    links = [(Link("story", "shared-quote", 0.9), "b|2"), (Link("repeat", "near-duplicate", 0.6), "c|3"),
             (Link("repeat", "near-duplicate", 0.6), "a|1")]
    assert best(links)[1] == "a|1"
    assert best([]) is None


def _with_story(story: str, feats: Features) -> tuple[Features, str]:
    return feats, story


def test_follow_up_in_new_words_is_linked_by_restated_phrases_and_amounts():
    from workers.dedup.stories import dedup_features, followup_evidence, owners_of

    old = dedup_features("Ferry runs aground", "The ferry ran aground on a sandbank this morning. The operator said "
                         "the 112 passengers and 14 crew were safe. Tugs are waiting for the tide.", 0, "b")
    new = dedup_features("Passengers describe a bump", "Passengers said the grounding felt like a long bump. The "
                         "operator repeated that the 112 passengers and 14 crew were safe.", 2 * HOUR_MS, "b")
    evidence = followup_evidence(new, old, "st-a", owners_of(new, [(old, "st-a")]), frozenset())
    assert evidence >= 3  # one restated sentence counts at most SENTENCE_EVIDENCE_MAX
    found = link(new, old, **RULES, evidence=evidence + 1)
    assert (found.kind, found.rule) == ("story", "follow-up")
    # the same phrase also in a nearby post of another story is not evidence for either
    other = dedup_features("Other ferry", "Elsewhere the 112 passengers and 14 crew were safe too.", HOUR_MS, "b")
    assert followup_evidence(new, old, "st-a", owners_of(new, [(old, "st-a"), (other, "st-b")]), frozenset()) == 0
    # and not outside the follow-up window
    late = dedup_features("Passengers describe a bump", "Passengers said the grounding felt like a "
                          "long bump. The operator repeated that the 112 passengers and 14 crew were safe.",
                          30 * HOUR_MS, "b")
    assert link(late, old, **RULES, evidence=10) is None


def test_a_credit_line_alone_is_not_a_follow_up():
    from workers.dedup.stories import dedup_features, followup_evidence, owners_of

    credit = "This post was shared by the Valley Herald."
    old = dedup_features("Rest centre opens", f"The hall opened at noon for families.\n\n{credit}", 0, "b")
    new = dedup_features("Trains halted", f"No trains will cross the viaduct today.\n\n{credit}", HOUR_MS, "b")
    assert followup_evidence(new, old, "st-a", owners_of(new, [(old, "st-a")]), frozenset()) < 4


def test_stored_phrases_round_trip():
    from workers.dedup.stories import dedup_features

    f = dedup_features("t", "Crews worked through the night on the barrier at the bottom of Mill Row.", 0, "b")
    stored = Features(f.sig, f.anchors, f.names, f.published_ms)
    assert stored.phrases == frozenset().union(*f.sentences) and stored.phrases


# The fast forms of two helpers, held to the plain statements they replace.
from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402

from workers.dedup import stories as _stories  # noqa: E402

_LINE = st.text(alphabet=list("ab Zx .!?:;\"“‘()\u00a0\t,'’"), max_size=12)


@hsettings(max_examples=300, deadline=None)
@given(_LINE, st.data())
def test_sentence_start_check_is_the_regex_over_the_prefix(line, data):
    at = data.draw(st.integers(min_value=0, max_value=len(line)))
    assert _stories._at_sentence_start(line, at) == bool(_stories._SENTENCE_START.search(line[:at]))


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["the", "of", "a", "storm", "port", "ferry", "closed", "and", "wind"]),
                         max_size=12), max_size=4))
def test_phrase_sentences_are_the_content_4grams_of_each_sentence(word_lists):
    expected = []
    for ws in word_lists:
        found = {
            _stories._phrase_hash(" ".join(ws[i : i + 4]))
            for i in range(len(ws) - 3)
            if sum(w not in _stories._STOPWORDS for w in ws[i : i + 4]) >= _stories.PHRASE_CONTENT_MIN
        }
        if found:
            expected.append(frozenset(found))
    assert _stories._phrase_sentences(word_lists) == tuple(expected)


def test_a_new_posts_phrase_array_is_the_one_its_anchor_unpacks_to():
    from workers.dedup.stories import PHRASE_ANCHOR, dedup_features, unpack_phrase_array

    f = dedup_features("Barrier holds", f"{BEFORE}\n\n{AFTER}", 0, "b")
    assert "phrase_array" in f.__dict__  # set when the features were made, not unpacked later
    packed = next(a for a in f.anchors if a.startswith(PHRASE_ANCHOR))
    assert f.phrase_array.tolist() == unpack_phrase_array(packed).tolist() and len(f.phrase_array)
    assert not f.phrase_array.flags.writeable  # shared with the copy a worker keeps (IndexReader.remember)


def _names_line_by_line(title: str, body: str) -> frozenset[str]:
    """names() as it was written first: numbers and names looked for line by line."""
    found = set()
    for line in f"{title}\n{body}".split("\n"):
        found.update(_stories._names_in(line))
        found.update(_stories._NUMBER.findall(line))
    return frozenset(_stories._short(x)[:8] for x in found)


@hsettings(max_examples=300, deadline=None)
@given(st.text(alphabet=list("Ab Zq 12,.\n!“(\t"), max_size=40), st.text(alphabet=list("Ab 9,0.\n"), max_size=8))
def test_names_find_the_numbers_of_the_whole_text_as_of_each_line(body, title):
    assert _stories.names.__wrapped__(title, body) == _names_line_by_line(title, body)
