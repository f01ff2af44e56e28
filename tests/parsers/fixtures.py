"""The format fixtures of samples/formats and the field-by-field check against their ground truth."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from schemas.documents import ParseOptions, RawDocument
from workers.parsers import parse

FORMATS = Path(__file__).resolve().parents[2] / "samples" / "formats"


def load_sample(name: str) -> tuple[RawDocument, dict]:
    """The fixture as a producer would enqueue it, and its hand-written ground truth."""
    expected = json.loads((FORMATS / f"{name}.expected.json").read_text(encoding="utf-8"))
    options = dict(expected["options"])
    if mapping_file := options.pop("json_mapping_file", None):
        options["json_mapping"] = json.loads((FORMATS / mapping_file).read_text(encoding="utf-8"))
    raw = RawDocument.from_bytes(
        (FORMATS / expected["file"]).read_bytes(), blog_id=name, source=f"samples/formats/{expected['file']}",
        fetched_at=datetime.fromisoformat(expected["fetched_at"]), options=ParseOptions(**options),
    )
    return raw, expected


def check_against_expected(name: str) -> None:
    raw, expected = load_sample(name)
    doc = parse(raw)
    assert doc.format == expected["format"]
    assert doc.blog.model_dump(include={"title", "url", "standfirst"}) == expected["blog"]
    if "warnings" in expected:
        assert doc.warnings == expected["warnings"]
    for fragment in expected.get("warnings_contain", []):
        assert any(fragment in w for w in doc.warnings), (fragment, doc.warnings)
    assert len(doc.posts) == len(expected["posts"])
    for post, want in zip(doc.posts, expected["posts"]):
        got = post.model_dump(mode="json")
        for key, value in want.items():
            if key == "body_starts":
                assert post.body.startswith(value), (post.title, post.body[:80])
            elif key == "body_paragraphs":
                assert len(post.body.split("\n\n")) == value, (post.title, post.body)
            else:
                assert got[key] == value, (post.title, key, got[key], value)
