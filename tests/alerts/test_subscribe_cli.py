"""`liveblog subscribe test RULE SOURCE` on the project's storm sample: which posts would alert, and why.

The storm page tells one story twice (samples/storm-live-2024-10-12.expected.json,
``repeated_story``): a rule matching both posts alerts once and shows the repeat as held back.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import SAMPLES, run_cli

STORM = str(SAMPLES / "storm-live-2024-10-12.txt")
REPEATED = json.loads((SAMPLES / "storm-live-2024-10-12.expected.json").read_text())["repeated_story"]
LINE = re.compile(r"^(?P<at>\S+)  (?P<verdict>ALERT|held back: .*?)  (?P<title>.+)\n    because: (?P<why>.+)$", re.M)


def verdicts(stdout: bytes) -> dict[str, tuple[str, str]]:
    """{post title: (verdict, because)} from the command's output; every output line is accounted for."""
    text = stdout.decode("utf-8")
    found = {m["title"]: (m["verdict"], m["why"]) for m in LINE.finditer(text)}
    assert len(text.splitlines()) == 2 * len(found), text  # nothing but "<time>  <verdict>  <title>" + "because"
    return found


def storm_posts_mentioning(phrase: str) -> set[str]:
    """Independently of the rule engine: titles of the sample's posts whose text has the phrase as words."""
    from producers.files import read_sources
    from schemas.documents import ParseOptions
    from workers.parsers import parse

    [raw] = read_sources([STORM], options=ParseOptions(tz="Europe/London"), blog_id=None)
    pattern = re.compile(rf"\b{re.escape(phrase)}\b", re.I)
    return {p.title for p in parse(raw).posts if pattern.search(p.title + "\n" + p.body)}


def test_a_keyword_rule_names_every_matching_post_and_holds_back_the_story_told_twice():
    result = run_cli("subscribe", "test", '{"keyword": "rest centres"}', STORM, "--tz", "Europe/London")
    assert result.returncode == 0, result.stderr
    found = verdicts(result.stdout)
    assert set(found) == storm_posts_mentioning("rest centres") == {
        "Morning summary: what we know so far", REPEATED["first_title"], REPEATED["repeat_title"]}
    assert all(why == "keyword:rest centres" for _, why in found.values())
    assert found[REPEATED["first_title"]][0] == "ALERT"
    assert found["Morning summary: what we know so far"][0] == "ALERT"  # another story: alerts on its own
    assert found[REPEATED["repeat_title"]][0] == f"held back: story already alerted by {REPEATED['first_title']!r}"
    assert result.stderr.decode().strip().endswith("liveblog: 3 posts match, 2 alerts")


def test_all_with_not_over_a_topic_says_each_leaf_that_matched():
    rule = '{"all": [{"keyword": "Keswick"}, {"not": {"topic": "disasters"}}]}'
    result = run_cli("subscribe", "test", rule, STORM, "--tz", "Europe/London")
    assert result.returncode == 0, result.stderr
    found = verdicts(result.stdout)
    keswick = storm_posts_mentioning("Keswick")
    assert set(found) < keswick  # the not() took some Keswick posts away ...
    assert "Red warning extended until 3pm as rain stalls over the fells" in keswick - set(found)  # a disasters post
    assert set(found) == {REPEATED["first_title"], REPEATED["repeat_title"],
                          "Mountain rescue teams called to stranded campers in Borrowdale"}
    assert {why for _, why in found.values()} == {'keyword:Keswick, not({"topic":"disasters"})'}
    assert found[REPEATED["repeat_title"]][0].startswith("held back")


def test_a_bad_rule_or_a_name_without_redis_is_a_usage_error():
    bad = run_cli("subscribe", "test", '{"keyword": 5}', STORM)
    assert bad.returncode == 2 and bad.stderr.startswith(b"liveblog: invalid rule")
    unnamed = run_cli("subscribe", "test", "floods", STORM)  # a name needs REDIS_URL
    assert unnamed.returncode == 2 and b"a subscription name needs REDIS_URL" in unnamed.stderr


def test_an_unknown_rule_key_is_named_with_where_it_is_and_the_keys_a_rule_takes():
    keys = "expected keys among all, any, not, keyword, phrase, entity, country, topic, min_urgency, blog"
    misspelt = run_cli("subscribe", "test", '{"keywrd": "x"}', STORM)
    assert misspelt.returncode == 2
    assert misspelt.stderr.decode() == f"liveblog: invalid rule: {keys}; found 'keywrd'\n"
    nested = run_cli("subscribe", "test", '{"all": [{"topic": "weather"}, {"not": {"entty": "x"}}]}', STORM)
    assert nested.stderr.decode() == f"liveblog: invalid rule: {keys}; found 'entty' in all[1].not\n"
    out_of_range = run_cli("subscribe", "test", '{"any": [{"min_urgency": 3}]}', STORM)
    assert out_of_range.stderr.decode() == (
        "liveblog: invalid rule: any[0].min_urgency: Input should be less than or equal to 1\n")


@pytest.mark.redis
def test_an_unknown_key_in_subscribe_add_is_named_too(redis_url):
    added = run_cli("subscribe", "add", "x", "--rule", '{"keywrd": "x"}', redis_url=redis_url)
    assert added.returncode == 2 and b"found 'keywrd'" in added.stderr and b"Traceback" not in added.stderr


@pytest.mark.redis
def test_a_stored_subscription_is_tested_by_name_and_the_real_redis_is_left_alone(redis_url, conn):
    added = run_cli("subscribe", "add", "army", "--keyword", "army", "--keyword", "soldiers", "--any",
                    redis_url=redis_url)
    assert added.returncode == 0, added.stderr
    before = {k: conn.type(k) for k in conn.scan_iter()}
    result = run_cli("subscribe", "test", "army", STORM, "--tz", "Europe/London", redis_url=redis_url)
    assert result.returncode == 0, result.stderr
    found = verdicts(result.stdout)
    assert found == {
        "Breaking: Army to help evacuate care home in Carlisle": ("ALERT", "keyword:army"),
        "Around 150 soldiers on standby to support emergency services": ("ALERT", "keyword:soldiers"),
    }
    assert {k: conn.type(k) for k in conn.scan_iter()} == before  # a dry run: nothing written to REDIS_URL
    assert not conn.exists("liveblog:events")
