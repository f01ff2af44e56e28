from workers.enrichers import enrich
from workers.enrichers.places import place_index


def places(body):
    return [(p.name, p.country_code) for p in enrich("", body).places]


def test_countries_and_cities_carry_iso_code_and_coordinates():
    result = enrich("", "Troops moved from Moscow towards Ukraine.")
    moscow, ukraine = result.places
    assert (moscow.name, moscow.country_code) == ("Moscow", "RU")
    assert round(moscow.latitude) == 56 and round(moscow.longitude) == 38
    assert (ukraine.name, ukraine.country_code) == ("Ukraine", "UA")


def test_each_place_is_listed_once_in_order_of_first_mention():
    assert places("Kyiv and Kiev and Kharkiv and Kyiv again.") == [("Kyiv", "UA"), ("Kharkiv", "UA")]


def test_regions_without_a_country_have_no_code():
    assert places("Ships sailed into the Black Sea.") == [("Black Sea", None)]


def test_us_states_map_to_us():
    assert places("Storms hit Ohio and Kentucky.") == [("Ohio", "US"), ("Kentucky", "US")]


def test_common_words_that_are_also_city_names_are_not_places():
    assert "nice" not in place_index() and "reading" not in place_index()


# --- towns (cities15000 below 100 000 people) and names several countries share -------------------

from workers.enrichers import DocumentContext  # noqa: E402
from workers.enrichers.places import town_index  # noqa: E402

UK_STORM = ("The Met Office warned Cumbria of more rain. Council staff in Denton handed out sandbags, "
            "and trains between Newcastle and Carlisle were suspended.")


def test_towns_of_a_british_post_get_gb_readings():
    assert places(UK_STORM) == [
        ("Cumbria", "GB"), ("Denton", "GB"), ("Newcastle upon Tyne", "GB"), ("Carlisle", "GB")]


def test_without_context_the_largest_reading_stays_and_a_bare_town_is_not_guessed():
    assert places("Council staff in Denton handed out sandbags near Newcastle.") == [("Denton", "US"), ("Newcastle", "AU")]
    assert places("Carlisle flooded overnight.") == []


def test_an_australian_post_keeps_newcastle_nsw():
    assert places("Coal ships left Newcastle for Sydney, Australian officials said.") == [("Newcastle", "AU"), ("Sydney", "AU")]
    # "Wales" alone is British: New South Wales must not make a post British
    assert places("Floods hit Newcastle, New South Wales.") == [("Newcastle", "AU"), ("New South Wales", "AU")]


def test_the_page_settles_a_post_that_names_no_country():
    post = "Newcastle and Carlisle brace for the next band of rain."
    uk_page = DocumentContext.from_texts(["Red warning for Cumbria", "The Met Office said £450m of damage", post])
    au_page = DocumentContext.from_texts(["Storm lashes New South Wales", "Sydney and Brisbane flooded, Australia", post])
    got = lambda ctx: [(p.name, p.country_code) for p in enrich("", post, ctx).places]  # noqa: E731
    assert got(uk_page) == [("Newcastle upon Tyne", "GB"), ("Carlisle", "GB")]
    assert got(au_page) == [("Newcastle", "AU")]  # the only Carlisles are British and American


def test_a_town_of_another_country_is_not_read_on_a_british_page():
    # GeoNames' only Keswick of 15 000+ people is in Ontario
    assert [r.country_code for r in town_index().get("keswick")] == ["CA"]
    assert places("Rest centres opened in Keswick and Carlisle, the Met Office said.") == [("Carlisle", "GB")]


def test_page_countries_do_not_depend_on_post_order():
    texts = ["Red warning for Cumbria", "Brisbane flooded", "The Met Office said", "Australian troops helped"]
    assert dict(DocumentContext.from_texts(texts).countries) == dict(DocumentContext.from_texts(texts[::-1]).countries) \
        == {"AU": 2, "GB": 2}


def test_words_that_are_also_towns_are_not_places_in_a_british_post():
    body = ("March brought floods to Cumbria. Reading the forecast, the Met Office said Bath and Florence "
            "were spared. Mobile phone masts failed near Carlisle. Brent crude rose. Police closed roads.")
    assert places(body) == [("Cumbria", "GB"), ("Carlisle", "GB")]


def test_words_that_are_also_towns_are_not_places_elsewhere():
    assert places("Hurricane forces evacuation of the Florida Keys and Miami.") == [("Florida Keys", "US"), ("Miami", "US")]
    assert places("\"Este equipo nunca se rinde\", dijo en Madrid.") == [("Madrid", "ES")]


def test_a_lone_word_next_to_another_is_part_of_a_name_not_a_town():
    # Kendal is a Cumbrian town, but "Kendal Oakes" is a person on a British page
    assert places("Kendal Oakes, who runs a shop in Cumbria, said the water rose fast.") == [("Cumbria", "GB")]
    assert places("Shops in Kendal, Cumbria, were flooded.") == [("Kendal", "GB"), ("Cumbria", "GB")]


def test_a_region_before_an_institution_word_is_the_institution():
    result = enrich("", "Cumbria Police closed the A591 near Keswick.")
    assert [(e.text, e.label) for e in result.entities][:1] == [("Cumbria Police", "ORG")]
