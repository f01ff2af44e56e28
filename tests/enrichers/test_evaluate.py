import json

from workers.enrichers.evaluate import DEFAULT_GOLD, evaluate, format_report, load_gold, main


def test_gold_set_meets_size_and_language_requirements():
    posts = load_gold(DEFAULT_GOLD)
    assert len(posts) >= 60
    assert sum(p["lang"] != "en" for p in posts) >= 10


def test_gold_set_meets_the_acceptance_targets():
    result = evaluate(DEFAULT_GOLD)
    assert result["entities_micro"]["f1"] >= 0.85
    assert result["quote_speaker_accuracy"] >= 0.85
    assert set(result["entities"]) == {"PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT"}


def test_report_and_json_modes(capsys, tmp_path):
    gold = tmp_path / "g.jsonl"
    gold.write_text(json.dumps({"id": "1", "lang": "en", "title": "Putin in Moscow", "body": "",
                                "entities": [{"text": "Putin", "label": "PERSON", "canonical": "Vladimir Putin"}],
                                "places": [{"name": "Moscow", "country_code": "RU"}], "quotes": [],
                                "quantities": [], "topics": []}) + "\n")
    assert main(["--gold", str(gold), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["entities"]["PERSON"]["f1"] == 1.0 and data["place_accuracy"] == 1.0
    assert "PERSON" in format_report(data)
