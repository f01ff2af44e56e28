"""The package entry point: determinism, totality and versions."""

from concurrent.futures import ThreadPoolExecutor

from hypothesis import given, settings
from hypothesis import strategies as st

from workers.enrichers import enrich, enricher_versions

SAMPLE = ("Kirby: 8,500 troops on alert", 'Pentagon spokesman John Kirby said "no decisions have been made yet," '
          "as Russia massed tens of thousands of troops near Ukraine and Georgia.")


def test_versions_name_every_enricher():
    assert set(enricher_versions()) == {"entities", "places", "quotes", "quantities", "topics", "urgency", "language"}
    assert enrich(*SAMPLE).enrichers == enricher_versions()


def test_same_input_gives_identical_output_across_threads():
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: enrich(*SAMPLE).model_dump_json(), range(16)))
    assert len(set(results)) == 1


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text())
def test_never_raises_on_arbitrary_unicode(title, body):
    enrich(title, body)


@settings(max_examples=30, deadline=None)
@given(st.text(alphabet=st.sampled_from(['"', "“", "”", "«", "„", "\x00", "9", ",", ".", " ", "\n", "M", "r", "K"]),
               max_size=300))
def test_never_raises_on_quote_and_number_soup(body):
    enrich("", body)


def test_huge_inputs_finish():
    big = ("Mr Zelensky said \"" + "9" * 5000 + " troops\" in Kyiv. ") * 20_000
    result = enrich("x" * 10, big[: 1_000_000] + "\x00")
    assert result.language in (None, "en") or isinstance(result.language, str)
