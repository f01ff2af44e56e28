"""Acceptance facts on the shared seed blog; skipped where the seed is not checked out."""

import re
from pathlib import Path

import pytest

from workers.enrichers import DocumentContext, enrich

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"
STAMP = re.compile(r"^(?:\w+day \d+ \w+ \d{4} )?\d{1,2}:\d{2} ,")

pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason=f"no seeds at {SEEDS}")


def seed_posts() -> list[tuple[str, str]]:
    """(title, body) per post: a post is the paragraph before a "12:31 , Author" stamp plus what follows."""
    posts = []
    for path in sorted(SEEDS.glob("*.txt")):
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")) if p.strip()]
        starts = [i - 1 for i, p in enumerate(paragraphs) if STAMP.match(p) and i > 0]
        bounds = [0, *starts, len(paragraphs)]
        for lo, hi in zip(bounds, bounds[1:]):
            block = [p for p in paragraphs[lo:hi] if not STAMP.match(p)]
            if block:
                posts.append((block[0], "\n\n".join(block[1:])))
    return posts


@pytest.fixture(scope="module")
def enriched():
    posts = seed_posts()
    context = DocumentContext.from_texts([f"{t}\n\n{b}" for t, b in posts])
    return [enrich(t, b, context) for t, b in posts]


def test_every_spelling_of_zelensky_has_one_id(enriched):
    mentions = {(e.text, e.id) for r in enriched for e in r.entities if "zel" in e.text.lower()}
    assert len({text for text, _ in mentions}) >= 4
    assert {i for _, i in mentions} == {"person:volodymyr-zelensky"}


@pytest.mark.parametrize(("speaker", "fragment"), [
    ("John Sullivan", "If I put a gun on the table"),
    ("Sergey Lavrov", "There won't be a war"),
    ("John Kirby", "No decisions have been made"),
    ("Ned Price", "I want to be very clear"),
])
def test_quotes_are_attributed_to_the_right_speaker(enriched, speaker, fragment):
    speakers = {q.speaker for r in enriched for q in r.quotes if fragment in q.text}
    assert speakers == {speaker}


@pytest.mark.parametrize(("value", "unit"), [(8500, "troops"), (106000, "soldiers")])
def test_troop_numbers_are_people_counts(enriched, value, unit):
    assert any(q.value == value and q.unit == unit and q.kind == "people" for r in enriched for q in r.quantities)
