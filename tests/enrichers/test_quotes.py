from workers.enrichers import DocumentContext, enrich


def quotes(body, context=None):
    return [(q.speaker, q.text) for q in enrich("", body, context).quotes]


def test_speaker_after_quote_is_resolved_to_full_name_from_same_post():
    body = ('US Ambassador John Sullivan spoke from Moscow.\n\n"If I put a gun on the table, that\'s threatening," '
            'Sullivan told reporters.')
    assert quotes(body) == [("John Sullivan", "If I put a gun on the table, that's threatening,")]


def test_quote_split_across_sentences_keeps_its_speaker():
    body = '"There won\'t be a war," Foreign Minister Sergey Lavrov said. "But we won\'t let our interests be ignored."'
    assert [s for s, _ in quotes(body)] == ["Sergey Lavrov", "Sergey Lavrov"]


def test_curly_quotes_and_said_before_the_name():
    body = "“No decisions have been made to deploy any troops,” said Mr Kirby at a briefing."
    context = DocumentContext.from_texts(["Pentagon spokesman John Kirby spoke."])
    assert quotes(body, context) == [("John Kirby", "No decisions have been made to deploy any troops,")]


def test_speaker_before_quote_with_colon_and_pronoun_follow_up():
    body = 'Ned Price said: "Nord Stream 2 will not move forward at all."\n\nHe added: "We will work with Germany on this."'
    assert [s for s, _ in quotes(body)] == ["Ned Price", "Ned Price"]


def test_short_scare_quotes_are_not_quotations():
    assert quotes('Sullivan described the buildup as "extraordinary" on Friday.') == []


def test_quote_without_a_named_speaker_has_none():
    assert quotes('"The exercise was aimed at practising operations," the ministry said.')[0][0] is None


def test_french_guillemets_and_german_low_quotes():
    assert quotes("« Il faut éviter une escalade catastrophique », a déclaré Emmanuel Macron.")[0][0] == "Emmanuel Macron"
    assert quotes("„Deutschland wird die Ukraine weiter unterstützen“, sagte Olaf Scholz.")[0][0] == "Olaf Scholz"


def test_an_unknown_name_before_or_after_the_verb_is_the_speaker_not_a_place_after_it():
    from workers.enrichers import enrich

    text = ("“The gates will stay shut until the water drops,” harbour master Olwen Pryce told reporters "
            "at a briefing in Whitby. “We have no choice,” said Tobias Venn, 52, on the quay.")
    quotes = enrich("Harbour closed", text).quotes
    assert [(q.text[:14], q.speaker) for q in quotes] == [("The gates will", "Olwen Pryce"),
                                                          ("We have no cho", "Tobias Venn")]
