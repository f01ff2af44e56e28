"""The producer's ledger read back for `liveblog stats --ledger`: a last line cut off by a crash is
skipped with a warning naming the file and line; anything else it cannot read is a usage error
naming what was expected and what was found, never a traceback and never an empty audit."""

from __future__ import annotations

import json

import pytest

from producers.ledger import Ledger
from schemas.errors import UsageError


def line(document_id: str) -> str:
    return json.dumps({"document_id": document_id, "source": "storm.txt", "fetched_at": "2024-10-12T09:00:00+00:00"})


def test_a_last_line_cut_off_mid_write_is_skipped_with_a_warning_naming_file_and_line(tmp_path):
    path = tmp_path / "ledger.jsonl"
    path.write_text(line("a") + "\n" + line("b") + "\n" + line("c")[:30])
    warnings: list[str] = []
    assert [e["document_id"] for e in Ledger(path).entries(warnings.append)] == ["a", "b"]
    assert len(warnings) == 1 and warnings[0].startswith(f"ledger {path}:3: skipped a line cut off mid-write")


def test_a_complete_last_line_without_its_newline_is_an_entry(tmp_path):
    path = tmp_path / "ledger.jsonl"
    path.write_text(line("a") + "\n" + line("b"))
    warnings: list[str] = []
    assert [e["document_id"] for e in Ledger(path).entries(warnings.append)] == ["a", "b"] and not warnings


@pytest.mark.parametrize("bad", ['{"id": "b"}', '{"document_id": 5}', "[1, 2]", "\udcff"])
def test_a_malformed_line_before_the_last_is_an_error_naming_file_line_expected_and_found(tmp_path, bad):
    path = tmp_path / "ledger.jsonl"
    path.write_bytes((line("a") + "\n" + bad + "\n" + line("c") + "\n").encode("utf-8", "surrogateescape"))
    with pytest.raises(UsageError) as caught:
        Ledger(path).entries()
    assert str(caught.value).startswith(f"ledger {path}:2: expected a JSON object with a document_id")
    assert "found '" in str(caught.value)


def test_a_malformed_last_line_that_has_its_newline_is_an_error_too(tmp_path):
    path = tmp_path / "ledger.jsonl"
    path.write_text(line("a") + "\n" + "not json\n")
    with pytest.raises(UsageError, match=r":2: expected a JSON object with a document_id.*found 'not json'$"):
        Ledger(path).entries()


def test_a_missing_path_or_a_directory_is_an_error_not_an_empty_ledger(tmp_path):
    with pytest.raises(UsageError, match="expected a file written by `liveblog produce --ledger`, found no such file"):
        Ledger(tmp_path / "nope.jsonl").entries()
    with pytest.raises(UsageError, match="expected a file written by `liveblog produce --ledger`, found a directory"):
        Ledger(tmp_path).entries()


def test_a_producer_appending_after_one_was_killed_mid_line_keeps_its_entry_on_a_line_of_its_own(tmp_path):
    from tests.helpers import STORM, doc

    path = tmp_path / "ledger.jsonl"
    first, second = doc(STORM.read_bytes()), doc(STORM.read_bytes(), minutes=5)
    Ledger(path).append([first])
    with path.open("a") as handle:  # killed while appending
        handle.write(line("cut")[:25])
    Ledger(path).append([second])  # the producer, restarted
    warnings: list[str] = []
    assert [e["document_id"] for e in Ledger(path).entries(warnings.append)] == [first.document_id, second.document_id]
    assert len(warnings) == 1 and warnings[0].startswith(f"ledger {path}:2: skipped a line cut off mid-write")
