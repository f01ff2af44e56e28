from workers.enrichers.topics import classify


def test_one_strong_term_is_enough():
    assert classify("The EU agreed new sanctions on Monday.") == ["sanctions"]


def test_repeating_a_weak_term_does_not_make_a_topic():
    assert "markets" not in classify("The price, the price, the price.")


def test_topics_come_out_strongest_first():
    assert classify("Gas pipeline sanctions: an embargo on Russian oil and gas")[:2] == ["energy", "sanctions"]


def test_rules_cover_other_languages():
    assert "disasters" in classify("Un terremoto de magnitud 6 obligó a evacuar la ciudad")
    assert "elections" in classify("Die Union gewinnt die Bundestagswahl")
