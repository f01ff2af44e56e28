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
