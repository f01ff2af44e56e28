from workers.enrichers import DocumentContext, document_text, enrich
from workers.enrichers.entities import extract_entities


def ids(text, context=None, lang="en"):
    return [(e.text, e.id) for e in extract_entities(text, context, lang)]


def test_spelling_variants_and_misspellings_share_one_id():
    text = "Zelenskyy met aides. Volodymyr Zelensky spoke. Mr Zelesnky left. Volodymyr Zelenskyyon waved."
    assert {i for _, i in ids(text)} == {"person:volodymyr-zelensky"}


def test_transliterations_of_lavrov_unify():
    assert {i for _, i in ids("Sergey Lavrov met Sergei Lavrov's deputy.")} == {"person:sergey-lavrov"}


def test_kiev_and_kyiv_are_one_city_and_nato_casing_is_one_org():
    found = dict(ids("Nato met in Kiev. NATO then flew to Kyiv."))
    assert found == {"Nato": "org:nato", "Kiev": "gpe:ua-kyiv", "NATO": "org:nato", "Kyiv": "gpe:ua-kyiv"}


def test_surname_mention_resolves_to_full_name_earlier_in_same_post():
    found = ids("Ambassador John Sullivan spoke. Later Sullivan said more.")
    assert found[-1] == ("Sullivan", "person:john-sullivan")


def test_surname_mention_resolves_to_full_name_from_earlier_post():
    context = DocumentContext.from_texts(["Pentagon spokesman John Kirby briefed reporters.", "Mr Kirby said no."])
    result = enrich("Update", "Mr Kirby cautioned reporters.", context)
    assert [(e.text, e.canonical) for e in result.entities] == [("Kirby", "John Kirby")]


def test_curated_person_outranks_reporter_with_same_surname_in_context():
    context = DocumentContext.from_texts(["Rory Sullivan reports.", "Rory Sullivan has more.", "John Sullivan said."])
    assert context.person_for("sullivan") == "John Sullivan"


def test_unknown_person_after_given_name_is_found_with_offsets():
    text = "The gunman, Artem Ryabchuk, was arrested."
    (entity,) = extract_entities(text)
    assert (entity.label, entity.canonical, text[entity.start:entity.end]) == ("PERSON", "Artem Ryabchuk", "Artem Ryabchuk")


def test_demonyms_are_norp_with_their_country():
    found = {(e.text, e.label, e.id) for e in extract_entities("Russian troops and Ukranian soldiers")}
    assert found == {("Russian", "NORP", "norp:ru"), ("Ukranian", "NORP", "norp:ua")}


def test_lowercase_demonyms_count_in_spanish_only():
    assert ids("el ejército ruso avanza", lang="es") == [("ruso", "norp:ru")]
    assert ids("el ejército ruso avanza", lang="en") == []


def test_georgia_is_the_us_state_among_us_states_and_the_country_near_russia():
    bases = extract_entities("Fort Stewart in Georgia and Fort Hood in Texas were put on alert.")
    caucasus = extract_entities("Russia should withdraw its forces from Ukraine, Georgia and Moldova.")
    assert next(e.id for e in bases if e.text == "Georgia") == "gpe:us-ga"
    assert next(e.id for e in caucasus if e.text == "Georgia") == "gpe:ge"


def test_national_institution_is_one_org_not_a_demonym():
    assert ids("The Ukrainian Defence Ministry said.") == [("Ukrainian Defence Ministry", "org:ukrainian-defence-ministry")]


def test_offsets_index_title_and_body_joined_by_blank_line():
    title, body = "Putin speaks", "Later Macron replied."
    text = document_text(title, body)
    for e in enrich(title, body).entities:
        assert text[e.start:e.end] == e.text
