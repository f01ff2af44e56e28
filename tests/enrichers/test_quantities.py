import pytest

from workers.enrichers.quantities import extract_quantities


def one(text, lang="en"):
    (q,) = extract_quantities(text, lang)
    return q.value, q.unit, q.kind


@pytest.mark.parametrize(("text", "expected"), [
    ("At least 8,500 troops are on alert.", (8500, "troops", "people")),
    ("more than 106,000 soldiers", (106000, "soldiers", "people")),
    ("tens of thousands of Russian troops", (10000, "troops", "people")),
    ("over half a billion dollars in aid", (5e8, "USD", "money")),
    ("a £1.5bn package", (1.5e9, "GBP", "money")),
    ("support rose to 44 per cent", (44, "%", "percentage")),
    ("some 500 kilometres away", (500, "km", "distance")),
    ("the 21-year-old conscript", (21, "years", "age")),
    ("Five killed after the attack", (5, "killed", "casualties")),
    ("15,000 lives of our citizens", (15000, "lives", "casualties")),
])
def test_english_quantities_have_value_unit_and_kind(text, expected):
    assert one(text) == expected


def test_numbers_follow_the_language_conventions():
    assert one("Más de 100.000 soldados", "es") == (100000, "soldados", "people")
    assert one("28,5 Prozent der Stimmen", "de") == (28.5, "%", "percentage")
    assert one("plus de 3 000 personnes", "fr") == (3000, "personnes", "people")


def test_bare_numbers_years_and_names_are_not_quantities():
    assert extract_quantities("In 2022 Nord Stream 2 is dead and 20 warships sailed.") == []


def test_absurdly_long_numbers_have_no_value_but_do_not_fail():
    (q,) = extract_quantities("9" * 40 + " troops")
    assert q.value is None and q.kind == "people"


def test_vague_and_qualified_amounts_carry_their_range():
    from workers.enrichers.quantities import extract_quantities

    (vague,) = extract_quantities("The army moved tens of thousands of troops to the border.")
    assert (vague.value, vague.low, vague.high, vague.approximate) == (10_000, 10_000, 100_000, True)
    (floor,) = extract_quantities("More than 100,000 soldiers are deployed.")
    assert (floor.low, floor.high, floor.approximate) == (100_000, None, True)
    (exact,) = extract_quantities("The council approved £1.5bn for flood defences.")
    assert (exact.low, exact.high, exact.approximate) == (None, None, False)


@pytest.mark.parametrize("text, found", [
    ("Earlier today, the head of the Met Office claimed around 30,000 residents had signed a petition.",
     ("around 30,000 residents", "people")),
    ("The storm left 3,000 people without power.", ("3,000 people", "people")),
    ("The blast left 12 people dead.", ("12 people", "casualties")),
    ("The quake claimed 30 lives.", ("30 lives", "casualties")),
    ("The quake claimed 30.", ("30", "casualties")),
])
def test_claimed_and_left_before_people_do_not_make_them_casualties(text, found):
    assert [(q.text, q.kind) for q in extract_quantities(text)] == [found]
