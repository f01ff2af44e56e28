from workers.enrichers.language import detect_language


def test_english_is_answered_by_function_words():
    assert detect_language("The minister said on Monday that the talks were over and that troops would stay.") == "en"


def test_other_languages_go_to_langid():
    assert detect_language("El ministro dijo que no habrá guerra en la frontera con Ucrania.") == "es"
    assert detect_language("Le ministre a déclaré que la situation était très tendue.") == "fr"
    assert detect_language("Der Kanzler sagte, die Lage an der Grenze sei ernst.") == "de"


def test_text_without_letters_has_no_language():
    assert detect_language("12:31 — 44 %") is None
