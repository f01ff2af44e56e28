"""`liveblog schema`: every event of the sample runs validates against the printed schema."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.conftest import SAMPLES, run_cli

SAMPLE_RUNS = sorted(SAMPLES.glob("*.txt"))


@pytest.fixture(scope="module")
def schema() -> dict:
    result = run_cli("schema")
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


def test_the_schema_is_versioned_and_is_what_events_name_as_their_dataschema(schema):
    assert schema["$id"] == "urn:liveblog-stream:event:1.0" and schema["version"] == "1.0"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("sample", SAMPLE_RUNS, ids=lambda p: p.stem)
def test_every_event_of_the_sample_run_validates(schema, sample):
    result = run_cli("run", str(sample), "--tz", "Europe/London")
    assert result.returncode == 0, result.stderr.decode()
    events = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert events, "the sample produced events"
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for event in events:
        errors = sorted(validator.iter_errors(event), key=str)
        assert not errors, f"{event['id']}: {errors[0].message}"
        assert event["dataschema"] == schema["$id"]


def test_the_schema_rejects_an_event_that_breaks_the_contract(schema):
    event = json.loads(run_cli("run", str(SAMPLE_RUNS[0])).stdout.decode().splitlines()[0])
    event["type"] = "liveblog.post.deleted"
    assert not jsonschema.Draft202012Validator(schema).is_valid(event)


def test_the_pushed_post_schema_accepts_what_push_accepts_and_refuses_what_it_refuses():
    result = run_cli("schema", "pushed-post")
    assert result.returncode == 0, result.stderr.decode()
    pushed = json.loads(result.stdout)
    good = {"blog_id": "a", "id": "a-1", "title": "Polls close", "published_at": "2025-03-04T09:00:00Z"}
    jsonschema.validate(good, pushed)
    for bad in ({k: v for k, v in good.items() if k != "id"}, {**good, "extra": 1}, {**good, "blog_id": ""}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, pushed)
