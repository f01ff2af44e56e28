"""The speed-ups are exact rewrites: each is checked against the slower form it replaced."""

import random
import re

from schemas.events import Entity, Quantity, Quote
from workers.enrichers import quantities, urgency
from workers.enrichers._construct import constructor
from workers.enrichers.text import fold_text, longest_first_alternation


def test_constructor_leaves_what_model_construct_leaves():
    for cls, values in ((Entity, ("Kyiv", "GPE", "Kyiv", "gpe:ua-kyiv", 3, 7)), (Quote, ("We will rebuild it", None)),
                        (Quantity, ("8,500 troops", 8500.0, "troops", "people", None, None, False))):
        a, b = cls.model_construct(**dict(zip(cls.model_fields, values))), constructor(cls)(*values)
        for attr in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"):
            assert getattr(a, attr) == getattr(b, attr)
        assert list(a.__dict__) == list(b.__dict__) and a.model_dump_json() == b.model_dump_json() and a == b


def test_trie_alternation_matches_the_longest_first_alternation():
    rng = random.Random(7)
    for _ in range(2000):
        alphabet = "ab c-é"[: rng.randint(2, 6)]
        words = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 5))) for _ in range(rng.randint(1, 8))}
        plain = re.compile(r"\b(" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + ")")
        trie = re.compile(r"\b(" + longest_first_alternation(words) + ")")
        for _ in range(10):
            text = "".join(rng.choice(alphabet + "x") for _ in range(rng.randint(0, 30)))
            assert plain.findall(text) == trie.findall(text)


def test_first_letter_filters_do_not_change_urgency_matches():
    texts = ["BREAKING: Residents told to EVACUATE, sirens and a State of Emergency", "Alerte info : évacuation, urgence",
             "Última hora: alerta y evacuación", "Eilmeldung: Warnung, Evakuierung, Notstand; er warnt",
             "ſtate of emergency, İmminent ÉVACUATION, Just In, Developing Story, red alert, take shelter",
             "flash flood warning; shelter in place; air raid; advierte; avertit; dernière minute; urgent"]
    for text in texts:
        for new in (urgency.BREAKING_RE, urgency.WARNING_RE):
            old = re.compile(new.pattern.replace(new.pattern[2:new.pattern.index(")") + 1], "", 1), new.flags)
            assert "(?=" not in old.pattern[:4] and old.pattern != new.pattern
            assert [m.span() for m in old.finditer(text)] == [m.span() for m in new.finditer(text)]


def test_noun_prefilter_never_hides_a_noun():
    tails = [" troops", " Russian troops,", " more Ukrainian SOLDIERS", " réfugiés", " Flüchtlinge", " homes had been",
             " ſoldiers", " people.", " US-led forces", "\tvictims", " Toten", " of them"]
    for tail in tails:
        if quantities._noun_re().match(tail):
            assert quantities._may_name_a_noun(tail)


def test_fold_text_maps_apostrophes_and_spaces_like_before():
    table = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "\u00a0": " "})
    for text in ["Russia’s `war´ ‘now’", "a\u00a0b", "plain ascii `tick`", "Zelenskyy’s Kyiv", ""]:
        value = text.translate(table)
        expected = " ".join(value.casefold().replace(".", "").split()) if value.isascii() else None
        if expected is not None:
            assert fold_text(text) == expected


def test_function_word_shares_in_one_pass_equal_the_counter_intersection_form():
    from collections import Counter

    from workers.enrichers import language

    def old(words):
        counts = Counter(words)
        return {lang: sum(counts[w] for w in vocab.intersection(counts)) / len(words)
                for lang, vocab in language.FUNCTION_WORDS.items()}

    rng = random.Random(3)
    pool = sorted(set().union(*language.FUNCTION_WORDS.values())) + ["storm", "kyiv", "mayor", "que", "die"]
    for _ in range(500):
        words = [rng.choice(pool) for _ in range(rng.randint(1, 80))]
        assert language._shares(words) == old(words)


def test_first_letter_lookaheads_leave_the_matches_of_the_scans_they_speed_up():
    from workers.dedup import stories
    from workers.enrichers import entities

    rng = random.Random(11)
    alphabet = list("aAbeiMrs. -'’\u00a0\tZÉжЖ$£€¥U9,0") + ["Mr. ", "al-", "bin ", "US$", " of ", " the "]
    for pattern in (entities.RUN_RE, stories._CAPS, quantities._DIGIT_START_RE):
        assert pattern.pattern.startswith("(?=[")
        plain = re.compile(pattern.pattern[pattern.pattern.index("])") + 2:], pattern.flags)
        for _ in range(3000):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
            assert [m.span() for m in pattern.finditer(text)] == [m.span() for m in plain.finditer(text)], text


def test_urgency_scans_of_lowered_text_find_what_the_case_insensitive_scans_find():
    rng = random.Random(5)
    words = ["BREAKING", "Just In", "warns", "WARNED", "Evacuated", "ÉVACUATION", "Warnung", "NOTSTAND", "sirens",
             "State Of Emergency", "Última Hora", "DERNIÈRE minute", "alerta", "flash", "urgence", "EVACUATΣ",
             "İmminent", "ſtate of emergency", "ırrelevant", "x", " ", ",", "\n", "é", "ẞ"]
    texts = ["".join(rng.choice(words) + rng.choice(" ,.\n") for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    for text in texts:
        breaking_re, warning_re, scanned = urgency._scans(text)
        assert bool(breaking_re.search(scanned)) == bool(urgency.BREAKING_RE.search(text)), text
        assert ({m.group().casefold() for m in warning_re.finditer(scanned)}
                == {m.group().casefold() for m in urgency.WARNING_RE.finditer(text)}), text
    for pattern in (urgency.BREAKING_RE, urgency.WARNING_RE):  # lower-casing \W or \B would change them
        assert not re.search(r"\\[A-Z]", pattern.pattern)
    assert urgency._scans("Sirens in Kyiv")[2] == "sirens in kyiv"  # the fast form is the one taken
    assert urgency._scans("İmminent")[1] is urgency.WARNING_RE  # a letter IGNORECASE reads as i: as it is


def test_qualifier_suffix_test_finds_what_the_qualifier_regex_finds():
    endings = quantities._QUALIFIER_ENDINGS
    assert len(endings) > 20 and not any(a != b and a.endswith(b) for a in endings for b in endings)
    rng = random.Random(3)
    parts = ["more than", "MORE THAN", "Over", "moreover", "at least", "About", "up to", "más de", "près de", "Rund",
             "some", "awesome", "x", " ", "  ", "\n", "é", "9", "fast", "ſome"]
    for _ in range(5000):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(0, 8))) + rng.choice(["", " ", " \n", "\n"]) + "42"
        offset = len(text) - 2
        m = quantities._QUALIFIER_RE.search(text, max(0, offset - 20), offset)
        assert quantities._qualifier(text, offset) == ((m.start(), m.group()) if m else None), repr(text)
