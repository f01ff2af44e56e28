"""Golden outputs: every post of the gold set and of samples/*.txt enriches exactly as recorded.

The snapshot (data/outputs_snapshot.json) freezes ``Enrichment.model_dump()`` of the enrichers as they
were before the speed work, so any optimisation must give byte-for-byte the same entities, places, quotes,
quantities, topics, urgency and language. A deliberate change of behaviour regenerates it:

    .venv/bin/python tests/enrichers/test_outputs_unchanged.py   # rewrites the snapshot; review the diff
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))

from schemas.documents import ParseOptions, RawDocument  # noqa: E402
from workers.enrichers import DocumentContext, enrich  # noqa: E402
from workers.parsers import parse  # noqa: E402

SAMPLES = ROOT / "samples"
GOLD = SAMPLES / "gold" / "enrich.jsonl"
SNAPSHOT = Path(__file__).with_name("data") / "outputs_snapshot.json"
FETCHED_AT = datetime(2030, 1, 1, tzinfo=timezone.utc)
OBSERVED_AFTER = timedelta(minutes=40)  # inside the recency ramp, so urgency's time term is exercised too


def _gold_cases() -> dict[str, dict]:
    posts = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    context = DocumentContext.from_texts([f"{p['title']}\n\n{p['body']}" for p in posts])
    cases = {}
    for p in posts:
        # once alone (no page context) and once with the whole gold set as the page
        cases[f"gold/{p['id']}"] = enrich(p["title"], p["body"]).model_dump()
        cases[f"gold+context/{p['id']}"] = enrich(p["title"], p["body"], context).model_dump()
    return cases


def _sample_cases() -> dict[str, dict]:
    cases = {}
    for path in sorted(SAMPLES.glob("*.txt")):
        tz = json.loads(path.with_suffix(".expected.json").read_text(encoding="utf-8"))["tz"]
        raw = RawDocument.from_bytes(path.read_bytes(), blog_id=path.stem, source=path.name, fetched_at=FETCHED_AT,
                                     options=ParseOptions(tz=tz))
        doc = parse(raw)
        context = DocumentContext.from_texts([f"{p.title}\n\n{p.body}" for p in doc.posts])
        for i, post in enumerate(doc.posts):
            result = enrich(post.title, post.body, context, published_at=post.published_at,
                            observed_at=post.published_at + OBSERVED_AFTER)
            cases[f"{path.stem}/{i:03d}"] = result.model_dump()
    return cases


def current_outputs() -> dict[str, dict]:
    # through JSON so the comparison sees exactly what the snapshot file can hold
    return json.loads(json.dumps({**_gold_cases(), **_sample_cases()}, ensure_ascii=False))


@pytest.fixture(scope="module")
def outputs() -> tuple[dict[str, dict], dict[str, dict]]:
    return json.loads(SNAPSHOT.read_text(encoding="utf-8")), current_outputs()


def test_snapshot_covers_every_post(outputs):
    expected, actual = outputs
    assert sorted(actual) == sorted(expected)
    assert len(expected) > 150


def test_every_enrichment_is_unchanged(outputs):
    expected, actual = outputs
    changed = [key for key in expected if actual.get(key) != expected[key]]
    if changed:
        key = changed[0]
        diff = {field: {"expected": expected[key][field], "actual": actual[key].get(field)}
                for field in expected[key] if actual[key].get(field) != expected[key][field]}
        pytest.fail(f"{len(changed)} posts enrich differently, first {key}:\n{json.dumps(diff, indent=1, ensure_ascii=False)}")


if __name__ == "__main__":
    SNAPSHOT.parent.mkdir(exist_ok=True)
    data = current_outputs()
    SNAPSHOT.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(data)} enrichments to {SNAPSHOT}")
